#!/usr/bin/env bash
# Mutation testing: proves the suite kills planted bugs.
#
# Every file scripts/mutants/<kind>-<name>.patch is one planted bug: a small patch to the
# implementation (never to the tests) with two header lines,
#   # what: <one-line description of the bug>
#   # tests: <the test command that must catch it: vitest files, "emu" for test/emu/run.sh --quick,
#   #         or "emu-race" for the race build of the harness, whose detector must report it>
# and <kind> is
#   ts      TypeScript (lib/): no rebuild, runs the listed vitest files
#   native  C++ CPU code (native/): rebuilds the CPU-only addon incrementally, runs the listed vitest files
#   emu     CUDA kernels (cuda/): rebuilds the SIMT emulation harness, runs test/emu/run.sh --quick
# For each mutant the script applies the patch in a scratch copy of the working tree (never
# here), rebuilds what is needed, runs the tests and reports "caught" (the tests failed) or
# "SURVIVED" with the seconds taken, then reverts the patch. Exit status 1 if any survived or a
# patch no longer applies.
#
#   scripts/mutants.sh            # every mutant (npm run test:mutants)
#   scripts/mutants.sh --emu      # CUDA-kernel mutants only (CI: seconds to a couple of minutes)
#   scripts/mutants.sh --native / --ts
#   scripts/mutants.sh avx2-tail  # only mutants whose file name contains one of the words
#   scripts/mutants.sh --check-apply  # only check that every patch still applies here (CI: a
#                                 # mutant the code moved away from would otherwise prove nothing)
# Scratch copy: $LOWBIT_MUTANTS_DIR (default: a per-checkout folder under ${TMPDIR:-/tmp}),
# kept between runs so the addon and the emulator rebuild incrementally. JOBS (default 2).
# Ends with "N caught, N survived" and a table (also written to <scratch>/kill-table.txt).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-2}
kinds=()
filters=()
for arg in "$@"; do
  case $arg in
    --check-apply)
      stale=0
      for f in scripts/mutants/*.patch; do
        git apply --check -p1 "$f" 2>/dev/null || { echo "does not apply: $f"; stale=$((stale + 1)); }
      done
      echo "$(ls scripts/mutants/*.patch | wc -l) mutant patches, $stale not applying"
      exit $((stale > 0)) ;;
    --emu) kinds+=(emu) ;;
    --native) kinds+=(native) ;;
    --ts) kinds+=(ts) ;;
    --all) kinds+=(ts native emu) ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    -*) echo "usage: $0 [--emu|--native|--ts|--all] [name words...]" >&2; exit 2 ;;
    *) filters+=("$arg") ;;
  esac
done
((${#kinds[@]})) || kinds=(ts native emu)

SCRATCH=${LOWBIT_MUTANTS_DIR:-${TMPDIR:-/tmp}/lowbit-mutants-$(id -u)-$(printf %s "$ROOT" | cksum | cut -d' ' -f1)}
mkdir -p "$SCRATCH/logs"

# ---- scratch copy: the tracked and untracked (not ignored) files, mtimes kept --------------
sync_scratch() {
  # Copy only the files whose content differs, with a fresh mtime: a file reverted after a mutant
  # is newer than the objects built from the mutant, and restoring an older mtime here would
  # make the incremental builds keep the mutated objects.
  git ls-files -co --exclude-standard | grep -v '^node_modules/' | while IFS= read -r f; do
    [[ -f $f ]] || continue
    if ! cmp -s "$f" "$SCRATCH/$f"; then mkdir -p "$SCRATCH/$(dirname "$f")" && cp "$f" "$SCRATCH/$f"; fi
  done
  ln -sfn "$ROOT/node_modules" "$SCRATCH/node_modules"
}

build_native() {  # CPU-only addon (LOWBIT_CUDA=OFF), incremental after the first build
  (cd "$SCRATCH" && node node_modules/cmake-js/bin/cmake-js compile --CDLOWBIT_CUDA=OFF -j "$JOBS") >"$SCRATCH/build-native.log" 2>&1
}

run_tests() {  # $1 = tests field, $2 = log; runs in the scratch copy, returns the tests' status
  local tests=$1 log=$2
  if [[ $tests == emu ]]; then
    # run.sh --quick builds the plain sm_80 harness and runs it in ascending and, at the same
    # time, descending schedule order, where a missing barrier or wait shows (a warp that reads
    # shared memory before the warp that writes it has run).
    (cd "$SCRATCH" && JOBS=$JOBS test/emu/run.sh --quick --no-nvcc) >"$log" 2>&1
  elif [[ $tests == emu-race ]]; then
    # The race build (sm_80 path, one schedule): the shared-memory race detector must report the
    # planted bug itself, not a wrong number (verdict() checks the message).
    if ! (cd "$SCRATCH" && make -s -C test/emu -j"$JOBS" ARCH=800 SAN=race) >"$log" 2>&1; then
      echo "  FAIL  build sm800 race" >>"$log"; return 1
    fi
    (cd "$SCRATCH" && SIMT_ORDER=asc build-emu/sm800-race/simt_tests) >>"$log" 2>&1
  else
    # shellcheck disable=SC2086  # the field is a list of files / vitest arguments
    (cd "$SCRATCH" && LOWBIT_ADDON_PATH="$SCRATCH/build/Release/lowbit.node" timeout 600 npx vitest run $tests) >"$log" 2>&1
  fi
}

# caught only when a test failed; a build error, a missing file or a crash of the runner is not a kill.
verdict() {  # $1 = status of run_tests, $2 = tests field, $3 = log
  local rc=$1 tests=$2 log=$3
  if [[ $rc == 0 ]]; then echo SURVIVED; return; fi
  if [[ $tests == emu ]]; then
    if grep -q 'FAIL  build' "$log"; then echo NOBUILD
    elif grep -qE '^ *FAIL ' "$log"; then echo caught
    else echo ERROR; fi
  elif [[ $tests == emu-race ]]; then
    if grep -q 'FAIL  build' "$log"; then echo NOBUILD
    elif grep -q 'shared-memory race' "$log"; then echo caught
    else echo NORACE; fi  # failed, but not by the detector: not what this mutant claims
  else
    if sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -qE '^ +Tests +[0-9]+ failed'; then echo caught; else echo ERROR; fi
  fi
}

caught_by() {  # $1 = log, $2 = tests field: the failing test files (vitest) or checks (emulator)
  if [[ $2 == emu || $2 == emu-race ]]; then
    grep -oE '^  FAIL +[A-Za-z0-9_]+( \([0-9]+ ms\))?$' "$1" | sed -E 's/^  FAIL +//; s/ \(.*//' | sort -u | head -2 | paste -sd';' -
  else
    sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -oE '^ *FAIL +test/[^ >]+' | sed -E 's/^ *FAIL +//' | sort -u | paste -sd';' -
  fi
}

field() { sed -n "s/^# $2: //p" "$1" | head -1; }

main() {
# ---- mutant list -----------------------------------------------------------------------------
mutants=()
for f in scripts/mutants/*.patch; do
  name=$(basename "$f" .patch)
  kind=${name%%-*}
  [[ " ${kinds[*]} " == *" $kind "* ]] || continue
  if ((${#filters[@]})); then
    keep=0
    for w in "${filters[@]}"; do [[ $name == *"$w"* ]] && keep=1; done
    ((keep)) || continue
  fi
  mutants+=("$f")
done
if ((${#mutants[@]} == 0)); then echo "no mutants selected"; exit 2; fi

echo "== scratch copy: $SCRATCH"
sync_scratch
isa=$(node -e "const a=require('node-gyp-build')('.');const i=a.backendInfo().cpu;console.log(i.isa+(i.int8Vnni?' + VNNI':''))" 2>/dev/null || echo unknown)
echo "== this machine dispatches the CPU kernels of: $isa"

need_native=0; need_emu=0
for f in "${mutants[@]}"; do
  case $(basename "$f") in native-* | ts-*) need_native=1 ;; emu-*) need_emu=1 ;; esac
done
if ((need_native)); then
  echo "== baseline: CPU-only addon in the scratch copy"
  t0=$SECONDS
  if ! build_native; then tail -30 "$SCRATCH/build-native.log"; echo "baseline build failed"; exit 2; fi
  echo "   built in $((SECONDS - t0)) s"
fi
if ((need_emu)); then
  echo "== baseline: emulation harness (must pass unmutated)"
  t0=$SECONDS
  if ! run_tests emu "$SCRATCH/logs/baseline-emu.log"; then tail -30 "$SCRATCH/logs/baseline-emu.log"; echo "baseline emulator run failed"; exit 2; fi
  if grep -lq '^# tests: emu-race$' "${mutants[@]}"; then
    if ! run_tests emu-race "$SCRATCH/logs/baseline-emu-race.log"; then tail -30 "$SCRATCH/logs/baseline-emu-race.log"; echo "baseline race-build run failed"; exit 2; fi
  fi
  echo "   passed in $((SECONDS - t0)) s"
fi

caught=0; survived=0; broken=0; native_dirty=0
table="$SCRATCH/kill-table.txt"
printf '%-36s %-9s %6s  %s\n' mutant result seconds "what [caught by]" >"$table"
for f in "${mutants[@]}"; do
  name=$(basename "$f" .patch)
  kind=${name%%-*}
  what=$(field "$f" what)
  tests=$(field "$f" tests)
  t0=$SECONDS
  if ! (cd "$SCRATCH" && git apply -p1 "$ROOT/$f"); then
    result="NOAPPLY"; broken=$((broken + 1))
  else
    log="$SCRATCH/logs/$name.log"
    # A TypeScript mutant must run against the unmutated addon: rebuild it first if the previous
    # (native) mutant's objects are still in it.
    if [[ $kind == ts && $native_dirty == 1 ]]; then build_native || { echo "rebuild of the unmutated addon failed"; exit 2; }; native_dirty=0; fi
    [[ $kind == native ]] && native_dirty=1
    if [[ $kind == native ]] && ! build_native; then
      result="NOBUILD"  # a planted bug must compile, or it proves nothing about the tests
    else
      run_tests "$tests" "$log"
      result=$(verdict $? "$tests" "$log")
    fi
    (cd "$SCRATCH" && git apply -R -p1 "$ROOT/$f") || { echo "could not revert $name"; exit 2; }
    case $result in caught) caught=$((caught + 1)) ;; SURVIVED) survived=$((survived + 1)) ;; *) broken=$((broken + 1)) ;; esac
  fi
  by=""
  [[ $result == caught ]] && by=$(caught_by "$log" "$tests")
  line=$(printf '%-36s %-9s %6d  %s [%s]' "$name" "$result" $((SECONDS - t0)) "$what" "${by:-$tests}")
  echo "$line"; echo "$line" >>"$table"
done
# Leave the scratch build unmutated for the next run.
if ((need_native)); then build_native || true; fi

echo
echo "kill table: $table"
echo "$caught caught, $survived survived, $broken did not apply or build"
[[ $survived == 0 && $broken == 0 ]]
}

# Everything runs from main, parsed before it starts: editing this file during a run is safe.
main "$@"; exit $?
