#!/usr/bin/env bash
# Compiles every CUDA translation unit (cuda/launch/*.cu) for sm_75, sm_80, sm_86, sm_89 and
# sm_90 with ptxas -v and spills / local memory as errors, and records registers, shared
# memory, barriers and stack per kernel and arch in cuda/resource-usage.txt. The warp-op probe
# (test/emu/probe/probe_main.cu, every inline-PTX wrapper of cuda/warp_ops.cuh) is compiled
# for the same targets as a check, but not recorded.
#
#   scripts/cuda-resources.sh            # regenerate cuda/resource-usage.txt
#   scripts/cuda-resources.sh --check    # regenerate into a temp file; fail on any difference
#                                        # from the checked-in file or any spill / local memory
#   scripts/cuda-resources.sh --check --from-build [DIR]
#                                        # the same check on the reports the addon's own build
#                                        # kept (LOWBIT_PTXAS_LOG=1 npm ci; DIR default build/ptxas):
#                                        # no second compile of the kernels (CI)
# Needs nvcc (no GPU). One nvcc per file with all five -gencode targets; JOBS (default 2)
# files compile in parallel. The addon's build compiles the same sources with the same targets
# and ptxas options (cmake/cuda.cmake), so both ways record the same numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
JOBS=${JOBS:-2}
ARCHS=(75 80 86 89 90)
CHECK=0
FROM_BUILD=
while (($#)); do
  case $1 in
    --check) CHECK=1 ;;
    --from-build)
      FROM_BUILD=build/ptxas
      if [[ -n ${2:-} && $2 != --* ]]; then FROM_BUILD=$2; shift; fi ;;
    *) echo "usage: $0 [--check] [--from-build [DIR]]" >&2; exit 2 ;;
  esac
  shift
done

if ! "$NVCC" --version >/dev/null 2>&1; then
  echo "cuda-resources: nvcc not found (set NVCC)" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gencode=()
for a in "${ARCHS[@]}"; do gencode+=(-gencode "arch=compute_$a,code=sm_$a"); done

compile() {  # compile <file.cu> [log dir] -> <log dir>/<name>.log
  local src=$1 log
  log="${2:-$work}/$(basename "$src" .cu).log"
  if ! "$NVCC" -std=c++17 -c -o "$work/$(basename "$src" .cu).o" "${gencode[@]}" -Icuda -Itest/emu -Inative/include \
      --expt-relaxed-constexpr -Xptxas -v,-warn-spills,-warn-lmem-usage,-Werror "$src" >"$log" 2>&1; then
    echo "cuda-resources: $src failed to compile (spill, local memory or error):" >&2
    grep -E 'error|warning' "$log" >&2 || tail -20 "$log" >&2
    return 1
  fi
}

sources=(cuda/launch/*.cu)
pids=()
status=0
if [[ -n $FROM_BUILD ]]; then
  # The build's reports: one per unit, each at least as new as every CUDA source and header
  # (an older one would describe code that has changed since: rebuild first).
  for src in "${sources[@]}"; do
    log="$FROM_BUILD/$(basename "$src" .cu).log"
    if [[ ! -f $log ]]; then
      echo "cuda-resources: no ptxas report $log; build with LOWBIT_PTXAS_LOG=1 (see cmake/cuda.cmake)" >&2
      exit 1
    fi
    stale=$(find cuda native/include -type f \( -name '*.cu' -o -name '*.cuh' -o -name '*.h' \) -newer "$log" | head -1)
    if [[ -n $stale ]]; then
      echo "cuda-resources: $log is older than $stale; rebuild the addon first" >&2
      exit 1
    fi
    cp "$log" "$work/"
  done
  echo "cuda-resources: reading the build's ptxas reports in $FROM_BUILD"
else
  for src in "${sources[@]}"; do
    compile "$src" &
    pids+=($!)
    if (( ${#pids[@]} >= JOBS )); then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
  done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
fi
mkdir -p "$work/probe"
compile test/emu/probe/probe_main.cu "$work/probe" || status=1
(( status == 0 )) || exit 1

out="$work/resource-usage.txt"
python3 - "$work" "$out" <<'PY'
import re, subprocess, sys, glob, os
work, out = sys.argv[1], sys.argv[2]
def strip_params(sig):
    # "void ns::k<(lb::DType)0>(void const*, long)" -> "ns::k<(lb::DType)0>": drop the return
    # type and the trailing balanced parameter list (template arguments may hold parentheses).
    if sig.startswith("void "):
        sig = sig[5:]
    if sig.endswith(")"):
        depth = 0
        for i in range(len(sig) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(sig[i], 0)
            if depth == 0:
                return sig[:i]
    return sig

rows = []
for log in sorted(glob.glob(os.path.join(work, "*.log"))):
    unit = os.path.basename(log)[:-4] + ".cu"
    name = arch = None
    stack = spill = None
    for line in open(log):
        m = re.search(r"Compiling entry function '([^']+)' for '(sm_\d+)'", line)
        if m:
            name, arch = m.group(1), m.group(2)
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and name:
            stack, spill = int(m.group(1)), int(m.group(2)) + int(m.group(3))
            continue
        m = re.search(r"Used (\d+) registers(?:, used (\d+) barriers)?(?:, (\d+) bytes smem)?", line)
        if m and name:
            pretty = subprocess.run(["c++filt", name], capture_output=True, text=True).stdout.strip()
            pretty = strip_params(pretty)
            rows.append((unit, pretty, arch, int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0),
                         stack or 0, spill or 0))
            name = None
rows.sort(key=lambda r: (r[0], r[1], int(r[2][3:])))
with open(out, "w") as f:
    f.write("# Registers, shared memory and stack per CUDA kernel and arch, from ptxas -v.\n")
    f.write("# GENERATED by scripts/cuda-resources.sh -- do not edit; CI runs it with --check.\n")
    f.write("# unit | kernel | arch | registers | barriers | smem bytes | stack bytes | spill bytes\n")
    for r in rows:
        f.write(f"{r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]} | {r[7]}\n")
bad = [r for r in rows if r[6] or r[7]]
for r in bad:
    print(f"cuda-resources: {r[1]} on {r[2]} uses {r[6]} bytes of stack / {r[7]} bytes of spills", file=sys.stderr)
sys.exit(1 if bad else 0)
PY

if (( CHECK )); then
  if ! diff -u cuda/resource-usage.txt "$out"; then
    echo "cuda-resources: cuda/resource-usage.txt is stale; run scripts/cuda-resources.sh and commit it" >&2
    exit 1
  fi
  echo "cuda-resources: $(grep -vc '^#' "$out") kernel/arch entries match; no spills, no local memory"
else
  cp "$out" cuda/resource-usage.txt
  echo "cuda-resources: wrote cuda/resource-usage.txt ($(grep -vc '^#' "$out") kernel/arch entries)"
fi
