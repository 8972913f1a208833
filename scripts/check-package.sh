#!/usr/bin/env bash
# The package as users get it. Packs lowbit (with the prebuilt binary), installs the tarball into
# scratch projects outside the repository and uses it the way a user does:
#   1. the prebuild: CUDA inside (when nvcc is here), the glibc it needs, no system libstdc++, size;
#   2. the tarball: required files present, nothing of tests/builds/benchmarks, within the size budget;
#   3. `npm install lowbit.tgz`: nothing compiled (the prebuild is used), the README's usage example
#      run as a user's file, `require('lowbit')` from CommonJS, backendInfo() on this machine;
#   4. the same with `npm install --ignore-scripts`;
#   5. a TypeScript consumer type-checked against the installed declarations (moduleResolution
#      nodenext, node16 and bundler), with @ts-expect-error lines that fail if the types were `any`;
#   6. a symlinked checkout (`npm install /path/to/checkout`), `LOWBIT_FORCE_BUILD=1 npm rebuild`
#      (a source build in the installed package) and a git dependency (git+file://);
#   7. the README's two set-up commands in a fresh clone with no ../shared beside it.
#
#   scripts/check-package.sh                 # everything (about 10 minutes on 2 cores)
#   scripts/check-package.sh --quick         # 1-5 only, with the prebuild already in prebuilds/
#   scripts/check-package.sh --keep          # keep the scratch folder (its path is printed)
# The git-dependency and fresh-clone steps use the committed HEAD, not uncommitted changes.
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
QUICK=0
KEEP=0
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    --keep) KEEP=1 ;;
    *) echo "usage: $0 [--quick] [--keep]" >&2; exit 2 ;;
  esac
done

# Budgets: the tarball carries one stripped linux-x64 binary (CPU + CUDA SASS for five archs + PTX,
# the fat binary compressed for size: 3.9 MB, of which 2.1 MB are the CUDA kernels) and the example's
# 1 MB model: 3.8 MiB packed, 5.7 MiB unpacked. Past these, something is in the package that should
# not be, or the kernels grew (or lost their compression): then decide, don't just raise the numbers.
PACKED_BUDGET=$((5 * 1024 * 1024))
UNPACKED_BUDGET=$((8 * 1024 * 1024))
PREBUILD=prebuilds/linux-x64/lowbit.glibc.node
TSC=$ROOT/node_modules/.bin/tsc

WORK=$(mktemp -d /tmp/lowbit-package.XXXXXX) # outside the repository: no ../shared beside anything
if ((KEEP)); then echo "scratch folder: $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

passed=0
failed=0
check() { # check <label> <command...>: runs the command, its output indented, and records the result
  local label=$1; shift
  echo "--- $label"
  local t0=$SECONDS
  if "$@" > "$WORK/last.log" 2>&1; then
    sed 's/^/    /' "$WORK/last.log" | tail -n 40
    passed=$((passed + 1)); echo "  ok    $label ($((SECONDS - t0)) s)"
  else
    sed 's/^/    /' "$WORK/last.log" | tail -n 80
    failed=$((failed + 1)); echo "  FAIL  $label ($((SECONDS - t0)) s)"
  fi
}

# ---- 1. the prebuild ------------------------------------------------------------------------
want_flavor=none
command -v nvcc > /dev/null 2>&1 && want_flavor=cuda
build_prebuild() {
  if ((QUICK)) && [[ -f $PREBUILD ]]; then echo "using the existing $PREBUILD"; return 0; fi
  local flavor=on
  [[ $want_flavor == none ]] && flavor=off && echo "no nvcc on this machine: building a CPU-only prebuild"
  rm -rf prebuilds
  LOWBIT_CUDA=$flavor npm run prebuildify
}
check "prebuild: npm run prebuildify" build_prebuild

prebuild_facts() {
  [[ -f $PREBUILD ]] || { echo "missing $PREBUILD"; return 1; }
  local flavor glibc glibcxx
  flavor=$(node -e "console.log(require('./$PREBUILD').buildInfo.cudaFlavor)") || return 1
  glibc=$(objdump -T "$PREBUILD" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sort -uV | tail -n 1)
  glibcxx=$(objdump -T "$PREBUILD" | grep -oE '(GLIBCXX|CXXABI)_[0-9.]+' | sort -uV | tr '\n' ' ')
  echo "prebuild $PREBUILD: $(stat -c %s "$PREBUILD") bytes, CUDA flavor '$flavor', needs ${glibc:-no versioned glibc symbol}"
  echo "dynamic libraries: $(objdump -p "$PREBUILD" | awk '/NEEDED/ {print $2}' | tr '\n' ' ')"
  [[ $flavor == "$want_flavor" ]] || { echo "expected CUDA flavor '$want_flavor'"; return 1; }
  [[ -z $glibcxx ]] || { echo "needs the system libstdc++ ($glibcxx); prebuilds link it statically"; return 1; }
  if objdump -p "$PREBUILD" | awk '/NEEDED/ {print $2}' | grep -qvE '^(libc|libm|libdl|libpthread|librt|libgcc_s|ld-linux-x86-64)\.so'; then
    echo "needs a library beyond glibc and libgcc_s"; return 1
  fi
  # The README states the glibc floor; it must be the one this binary needs.
  grep -q "glibc ${glibc#GLIBC_}" README.md || { echo "README.md does not state 'glibc ${glibc#GLIBC_}'"; return 1; }
}
check "prebuild: CUDA inside, needs only glibc and libgcc_s, the README states its glibc floor" prebuild_facts

# ---- 2. the tarball -------------------------------------------------------------------------
pack() {
  npm pack --pack-destination "$WORK" --json > "$WORK/pack.json" || return 1
  node - "$WORK/pack.json" "$PACKED_BUDGET" "$UNPACKED_BUDGET" << 'EOF'
const [report, packedBudget, unpackedBudget] = process.argv.slice(2);
const fs = require('node:fs');
const json = fs.readFileSync(report, 'utf8');
const r = JSON.parse(json.slice(json.indexOf('[')))[0];
const files = r.files.map((f) => f.path);
const mib = (n) => (n / 1048576).toFixed(2) + ' MiB';
console.log(`tarball ${r.filename}: ${mib(r.size)} packed (budget ${mib(+packedBudget)}), ` +
  `${mib(r.unpackedSize)} unpacked (budget ${mib(+unpackedBudget)}), ${files.length} files`);
const required = ['package.json', 'README.md', 'LICENSE', 'dist/lib/index.js', 'dist/lib/index.d.ts',
  'prebuilds/linux-x64/lowbit.glibc.node', 'scripts/install.mjs', 'CMakeLists.txt',
  'native/include/lowbit/codebooks.h', 'dist/examples/llama2c/cli.js', 'examples/llama2c/assets/stories260K.bin'];
const forbidden = [/^test\//, /^bench\//, /^dist\/bench\//, /^build/, /(^|\/)node_modules\//, /\.log$/,
  /\.map$/, /^\.ci\//, /^\.vitest/, /results\/.*\.json$/, /^test-/, /\.tgz$/, /^shared\//];
let bad = 0;
for (const f of required) if (!files.includes(f)) { console.log(`missing: ${f}`); bad++; }
for (const f of files) if (forbidden.some((re) => re.test(f))) { console.log(`should not be packed: ${f}`); bad++; }
if (r.size > +packedBudget) { console.log('over the packed size budget'); bad++; }
if (r.unpackedSize > +unpackedBudget) { console.log('over the unpacked size budget'); bad++; }
fs.writeFileSync(report + '.name', r.filename);
process.exit(bad ? 1 : 0);
EOF
}
check "npm pack: contents and size budget" pack
TGZ=$WORK/$(cat "$WORK/pack.json.name" 2> /dev/null || echo missing.tgz)

# ---- 3-5. installed into scratch projects -----------------------------------------------------
# The README's usage example, verbatim: the first ```ts block after "## Usage".
node -e "
  const md = require('fs').readFileSync('README.md', 'utf8');
  const m = /## Usage[\s\S]*?\`\`\`ts\n([\s\S]*?)\`\`\`/.exec(md);
  if (!m) { console.error('README.md has no ts block under ## Usage'); process.exit(1); }
  require('fs').writeFileSync('$WORK/readme-example.mts', m[1]);
" || echo "(README example not found)"

new_project() { # new_project <dir>: an empty ESM project
  mkdir -p "$1" && (cd "$1" && npm init -y > /dev/null && npm pkg set type=module > /dev/null)
}

# Compiles the README example as a user would (tsc, the installed declarations) and runs it.
run_readme_example() { # <project dir>
  local dir=$1
  cp "$WORK/readme-example.mts" "$dir/example.mts"
  cat > "$dir/tsconfig.json" << EOF
{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022",
  "strict": true, "skipLibCheck": false, "types": ["node"], "typeRoots": ["$ROOT/node_modules/@types"] },
  "files": ["example.mts"] }
EOF
  (cd "$dir" && "$TSC" -p tsconfig.json) || return 1
  local out
  out=$(cd "$dir" && node example.mjs) || return 1
  echo "example.mjs printed: $out"
  [[ $out == "[ 2, 4096 ] [ 2, 4096 ] cpu" ]] || { echo "expected: [ 2, 4096 ] [ 2, 4096 ] cpu"; return 1; }
}

# backendInfo() of the installed package, from an ES module and from CommonJS require().
check_backend_info() { # <project dir>
  local dir=$1
  cat > "$dir/info.mjs" << 'EOF'
import { backendInfo, Tensor } from 'lowbit';
const info = backendInfo();
console.log(JSON.stringify({ defaultDevice: info.defaultDevice, isa: info.cpu.isa, cuda: info.cuda }));
if (info.defaultDevice !== 'cpu' || !info.cpu.available) throw new Error('expected the CPU backend as default');
if (process.env.WANT_FLAVOR && info.cuda.flavor !== process.env.WANT_FLAVOR) throw new Error(`expected CUDA flavor ${process.env.WANT_FLAVOR}`);
if (info.cuda.available) throw new Error('this machine has no GPU, yet CUDA reports available');
if (info.cuda.flavor === 'cuda' && !/driver|device/i.test(info.cuda.reason)) throw new Error(`reason should name the missing driver: ${info.cuda.reason}`);
// Asking for a CUDA tensor here is a typed error, not a crash.
try { Tensor.from(new Float32Array(4), [4]).to('cuda'); throw new Error('to(cuda) did not throw'); }
catch (e) { if (e.code !== 'LOWBIT_E_DEVICE') throw e; console.log(`to('cuda'): ${e.code}: ${e.message}`); }
EOF
  cat > "$dir/require.cjs" << 'EOF'
const lowbit = require('lowbit');
const { quantize4bit, dequantize4bit, Tensor } = lowbit;
const w = Tensor.from(new Float32Array(128).map((_, i) => Math.cos(i)), [2, 64]);
const [packed, state] = quantize4bit(w, { quantType: 'nf4', blocksize: 64 });
const back = dequantize4bit(packed, state).toFloat32Array();
const err = Math.max(...back.map((v, i) => Math.abs(v - Math.cos(i))));
console.log(`require('lowbit'): ${Object.keys(lowbit).length} exports; NF4 round trip max error ${err.toFixed(4)}`);
// NF4's widest gap is [-1, -0.6962] (the spec's NF4 table): half of it, 0.1519, times the block absmax (<= 1 here).
if (!(err > 0 && err <= 0.1519 * 1.0001)) throw new Error('NF4 round-trip error outside (0, 0.1519]');
EOF
  (cd "$dir" && WANT_FLAVOR=$want_flavor node info.mjs && node require.cjs)
}

install_tarball() { # <dir> [npm flags...]
  local dir=$1; shift
  new_project "$dir" || return 1
  (cd "$dir" && npm install "$@" "$TGZ" 2>&1 | tee install.log) || return 1
  [[ -d $dir/node_modules/lowbit/build ]] && { echo "the install compiled the addon instead of using the prebuild"; return 1; }
  if [[ " $* " != *" --ignore-scripts "* ]]; then
    grep -q "using the existing native addon" "$dir/install.log" || { echo "install.mjs did not report the prebuild"; return 1; }
  fi
  return 0
}

U=$WORK/user
# --foreground-scripts only shows install.mjs's output, which npm hides for dependencies.
check "npm install lowbit.tgz (uses the prebuild, compiles nothing)" install_tarball "$U" --foreground-scripts
check "the README's usage example as a user's TypeScript file" run_readme_example "$U"
check "backendInfo() on this GPU-less machine; require('lowbit') from CommonJS" check_backend_info "$U"

UN=$WORK/user-noscripts
check "npm install --ignore-scripts lowbit.tgz" install_tarball "$UN" --ignore-scripts
use_installed() { run_readme_example "$1" && check_backend_info "$1"; }
check "--ignore-scripts: README example, backendInfo(), require()" use_installed "$UN"

type_check_consumer() {
  local dir=$U
  cat > "$dir/consumer.mts" << 'EOF'
import { Linear4bit, LinearNF4, LowbitError, Tensor, backendInfo, quantize4bit, type BackendInfo, type DType } from 'lowbit';
const info: BackendInfo = backendInfo();
const dtype: DType = 'bfloat16';
const w = Tensor.from(new Float32Array(64 * 64), [64, 64]);
const layer: Linear4bit = LinearNF4.fromFloat(w, null, { computeDtype: 'float32' });
const [packed, state] = quantize4bit(w, { quantType: 'fp4', blocksize: 64 });
export const used = [info.cpu.isa, dtype, layer, packed.shape, state.blocksize, LowbitError];
// Each line below must be a type error; if the declarations were missing or `any`, tsc would
// report the @ts-expect-error itself as unused.
// @ts-expect-error quantType is 'nf4' | 'fp4'
quantize4bit(w, { quantType: 'int3' });
// @ts-expect-error no such dtype
export const bad: DType = 'float64';
// @ts-expect-error no such export
export { nonexistentExport } from 'lowbit';
EOF
  local mode
  for mode in "nodenext nodenext" "node16 node16" "esnext bundler"; do
    set -- $mode
    cat > "$dir/tsconfig.$2.json" << EOF
{ "compilerOptions": { "module": "$1", "moduleResolution": "$2", "target": "es2022", "strict": true,
  "noEmit": true, "skipLibCheck": false, "types": ["node"], "typeRoots": ["$ROOT/node_modules/@types"] },
  "files": ["consumer.mts"] }
EOF
    (cd "$dir" && "$TSC" -p "tsconfig.$2.json") || { echo "type check failed with moduleResolution $2"; return 1; }
    echo "type check passed: module $1, moduleResolution $2"
  done
}
check "a TypeScript consumer against the installed declarations (nodenext, node16, bundler)" type_check_consumer

# ---- 6. a symlinked checkout and a git dependency ---------------------------------------------
if ((QUICK == 0)); then
  install_linked() {
    local dir=$WORK/user-link
    new_project "$dir" || return 1
    (cd "$dir" && npm install "$ROOT") || return 1
    [[ -L $dir/node_modules/lowbit ]] || { echo "node_modules/lowbit is not a symlink"; return 1; }
    use_installed "$dir"
  }
  check "a symlinked checkout (npm install /path/to/lowbit)" install_linked

  # The README's advice for a system the prebuild does not fit: rebuild from source in place.
  force_build() {
    (cd "$U" && LOWBIT_FORCE_BUILD=1 LOWBIT_CUDA=off npm rebuild lowbit --foreground-scripts 2>&1 | tee rebuild.log) || return 1
    grep -q "lowbit: built CPU backend only" "$U/rebuild.log" || { echo "install.mjs did not report a source build"; return 1; }
    [[ -f $U/node_modules/lowbit/build/Release/lowbit.node ]] || { echo "no build/Release/lowbit.node"; return 1; }
    run_readme_example "$U" && want_flavor=none check_backend_info "$U"
  }
  check "LOWBIT_FORCE_BUILD=1 npm rebuild lowbit: a source build replaces the prebuild" force_build

  install_git() {
    local dir=$WORK/user-git
    new_project "$dir" || return 1
    # npm prepares the clone (`npm install` there: prepare compiles the TypeScript; install.mjs
    # skips the addon, which is not packed) and then installs the packed clone, which builds it.
    # CPU-only keeps that build short; this step is about the entry points, the same in every flavor.
    (cd "$dir" && LOWBIT_CUDA=off npm install "git+file://$ROOT#$(git -C "$ROOT" rev-parse HEAD)") || return 1
    (cd "$dir" && node -e "console.log(require('lowbit/package.json').version)") || return 1
    run_readme_example "$dir" && want_flavor=none check_backend_info "$dir"
  }
  check "a git dependency (npm install git+file://..., committed HEAD)" install_git

  # ---- 7. the README's two commands in a fresh clone, no ../shared ----------------------------
  fresh_clone() {
    local dir=$WORK/clone/lowbit
    git clone --quiet "$ROOT" "$dir" || return 1
    [[ -e $dir/../shared ]] && { echo "unexpected ../shared beside the clone"; return 1; }
    # CPU-only: CI's own `npm ci` already builds the CUDA flavor from a clean clone, and the
    # prebuild step compiles the kernels too; this step is about a clone with no ../shared.
    (cd "$dir" && LOWBIT_CUDA=off npm install && npm start > start.log) || { tail -n 20 "$dir/start.log"; return 1; }
    grep -m 3 -iE 'perplexity|story|nf4' "$dir/start.log"
    (cd "$dir" && npm test -- --reporter=default --reporter=json --outputFile.json=report.json > test.log 2>&1)
    local rc=$?
    node -e "const r=require('$dir/report.json'); console.log('npm test in the fresh clone: ' + r.numPassedTests + ' passed, ' + r.numFailedTests + ' failed, ' + r.numPendingTests + ' skipped')"
    ((rc == 0)) || { grep -E 'FAIL|✗|×' "$dir/test.log" | head -n 20; return 1; }
  }
  check "fresh clone without ../shared: npm install (CPU-only) && npm start, then npm test" fresh_clone
fi

echo
echo "$passed passed, $failed failed"
((failed == 0))
