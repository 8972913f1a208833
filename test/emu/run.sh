#!/usr/bin/env bash
# Builds and runs the SIMT emulation harness: runtime and warp-op self-tests (with their
# negative controls) and the CUDA quantization kernels against the CPU reference, for
#   - both code paths: SIMT_ARCH=750 (sm_75: m8n8k16, no cp.async) and 800 (sm_80+),
#   - a plain -O2 build, an ASan+UBSan build and a race build (simt/race_detector.cc: a shared-
#     memory access not ordered by __syncthreads, __syncwarp or its cp.async wait fails the launch),
#   - three schedule orders: ascending, descending, seeded random (the race build: ascending only),
# plus the ASan negative control (an out-of-bounds kernel read must be reported), the source
# lints (inline PTX only in cuda/warp_ops.cuh, no __CUDA_ARCH__ in kernels) and the golden-probe
# dumps (build-emu/probe-sm*.txt, compared with hardware by scripts/gpu-check.sh).
# Leak checking is off: a launch that fails on purpose (negative controls) abandons its fibers,
# and with them the heap temporaries of their frames.
#
#   test/emu/run.sh                  # everything
#   test/emu/run.sh --quick          # plain sm_80 build, ascending and descending order (the
#                                    # order where a missing barrier or wait shows)
#   test/emu/run.sh --addon          # also build the emulated-CUDA addon (build-emuaddon/) and run
#                                    # the whole vitest suite against it (test/cuda included)
#   test/emu/run.sh --no-nvcc        # skip the nvcc resource check below
#   SIMT_SEED=123 test/emu/run.sh    # another random schedule
#   JOBS=2 (default) parallel compile jobs, and test processes run at a time
# When nvcc is installed (no GPU needed) it also runs scripts/cuda-resources.sh --check: every
# kernel compiles for sm_75/80/86/89/90 without spills or local memory and matches
# cuda/resource-usage.txt.
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
JOBS=${JOBS:-2}
SEED=${SIMT_SEED:-20261123}
QUICK=0
ADDON=0
NVCC_CHECK=1
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    --addon) ADDON=1 ;;
    --no-nvcc) NVCC_CHECK=0 ;;
    *) echo "usage: $0 [--quick] [--addon] [--no-nvcc]" >&2; exit 2 ;;
  esac
done
mkdir -p build-emu
rm -f build-emu/probe-sm*.txt  # compare only dumps produced by this run

passed=0
failed=0
record() {  # record <ok 0|1> <label>
  if [[ $1 == 0 ]]; then passed=$((passed + 1)); echo "  ok    $2"; else failed=$((failed + 1)); echo "  FAIL  $2"; fi
}

# ---- lints -----------------------------------------------------------------------------------
asm_hits=$(grep -rln --include='*.cuh' --include='*.cu' --include='*.h' --include='*.cc' -E '\basm\s*(volatile)?\s*\(' cuda native | grep -v '^cuda/warp_ops.cuh$' || true)
record "$([[ -z "$asm_hits" ]] && echo 0 || echo 1)" "lint: inline PTX only in cuda/warp_ops.cuh ${asm_hits:+(found in: $asm_hits)}"
arch_hits=$(grep -rln '__CUDA_ARCH__' cuda/kernels cuda/launch 2>/dev/null || true)
record "$([[ -z "$arch_hits" ]] && echo 0 || echo 1)" "lint: kernels select paths with LB_ARCH, not __CUDA_ARCH__ ${arch_hits:+(found in: $arch_hits)}"
const_hits=$(grep -rlnE '0x3[bdef][0-9a-f]{6}u|0xb[def][0-9a-f]{6}u' cuda --include='*.cuh' --include='*.cu' | grep -v '^cuda/common/codebooks_device.cuh$' || true)
record "$([[ -z "$const_hits" ]] && echo 0 || echo 1)" "lint: no table constants in kernels ${const_hits:+(found in: $const_hits)}"

# ---- builds and runs ------------------------------------------------------------------------------
if [[ $QUICK == 1 ]]; then variants=("800 none"); orders=(asc desc); else
  variants=("800 none" "750 none" "800 asan" "750 asan" "800 race" "750 race"); orders=(asc desc "rand:$SEED"); fi

# Phase 1 builds every variant (make -j$JOBS). Phase 2 runs the test binaries, probe dumps and
# ASan controls, JOBS processes at a time (each is one thread; the ASan runs take the longest and
# start first), each into its own log. Phase 3 reports them in a fixed order, whatever order they
# finished in.
built=()
for v in "${variants[@]}"; do
  read -r arch san <<<"$v"
  echo "== build SIMT_ARCH=$arch sanitizers=$san"
  if ! make -s -C test/emu -j"$JOBS" ARCH="$arch" SAN="$san" >"$ROOT/build-emu/make-$arch-$san.log" 2>&1; then
    tail -30 "$ROOT/build-emu/make-$arch-$san.log"
    record 1 "build sm$arch $san"
    continue
  fi
  record 0 "build sm$arch $san"
  built+=("$v")
done

variant_dir() { echo "build-emu/sm$1$([[ $2 != none ]] && echo "-$2")"; }
# One job: "<kind> <arch> <san> [order]" with kind tests | probe | control.
jobs_list=()
for pass in asan none race; do
  for v in "${built[@]}"; do
    read -r arch san <<<"$v"
    [[ $san == "$pass" ]] || continue
    # The race detector reports a missing ordering whatever the schedule: one order is enough.
    variant_orders=("${orders[@]}")
    [[ $san == race ]] && variant_orders=(asc)
    for order in "${variant_orders[@]}"; do jobs_list+=("tests $arch $san $order"); done
    # Golden-probe dump of this arch path (race-free probes only). The probe reads a cp.async copy
    # before its wait on purpose, which the race build reports, so it has no dump.
    [[ $san != race ]] && jobs_list+=("probe $arch $san")
    [[ $san == asan ]] && jobs_list+=("control $arch $san")
  done
done

job_log() {  # <kind> <arch> <san> [order]
  local dir; dir=$(variant_dir "$2" "$3")
  case $1 in
    tests) echo "$dir/tests-$(echo "$4" | tr ':' '-').log" ;;
    probe) echo "build-emu/probe-sm$2-$3.txt" ;;
    control) echo "$dir/asan-control.log" ;;
  esac
}

run_job() {  # <kind> <arch> <san> [order]: runs it, its exit status in <log>.rc
  local kind=$1 arch=$2 san=$3 order=${4:-} dir log
  dir=$(variant_dir "$arch" "$san"); log=$(job_log "$@")
  case $kind in
    tests) SIMT_ORDER=$order ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 "$dir/simt_tests" >"$log" 2>&1 ;;
    probe) ASAN_OPTIONS=detect_leaks=0 "$dir/probe" >"$log" 2>"build-emu/probe-sm$arch-$san.err" ;;
    control) "$dir/asan_oob_control" >"$log" 2>&1 ;;
  esac
  echo $? >"$log.rc"
}

echo "== run: ${#jobs_list[@]} jobs, $JOBS at a time"
running=0
for job in "${jobs_list[@]}"; do
  # shellcheck disable=SC2086  # a job is its words
  rm -f "$(job_log $job).rc"
  run_job $job &
  running=$((running + 1))
  if ((running >= JOBS)); then wait -n; running=$((running - 1)); fi
done
wait

for v in "${variants[@]}"; do
  read -r arch san <<<"$v"
  for job in "${jobs_list[@]}"; do
    read -r kind jarch jsan order <<<"$job"
    [[ $jarch == "$arch" && $jsan == "$san" ]] || continue
    log=$(job_log $job)
    rc=$(cat "$log.rc" 2>/dev/null || echo 1)
    case $kind in
      tests)
        summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
        if [[ -n "$summary" ]]; then
          passed=$((passed + ${summary%% passed*}))
          f=${summary#*, }; failed=$((failed + ${f%% failed*}))
        fi
        if [[ $rc != 0 || -z "$summary" ]]; then
          grep -E 'FAIL|ERROR|runtime error' "$log" | head -20
          [[ -z "$summary" ]] && { failed=$((failed + 1)); echo "  FAIL  sm$arch $san $order: crashed (see $log)"; tail -15 "$log"; }
        fi
        echo "  sm$arch $san $order: ${summary:-no summary}" ;;
      probe) record "$rc" "probe dump sm$arch $san" ;;
      control)
        if [[ $rc != 0 ]] && grep -q heap-buffer-overflow "$log" && grep -q oob_read_kernel "$log"; then
          record 0 "ASan negative control: out-of-bounds kernel read reported (sm$arch)"
        else
          record 1 "ASan negative control: out-of-bounds kernel read NOT reported (sm$arch)"
        fi ;;
    esac
  done
done

# Plain and sanitizer builds must agree on the probe registers; each arch path is self-consistent.
for arch in 800 750; do
  if [[ -f build-emu/probe-sm$arch-none.txt && -f build-emu/probe-sm$arch-asan.txt ]]; then
    cmp -s build-emu/probe-sm$arch-none.txt build-emu/probe-sm$arch-asan.txt
    record $? "probe dumps identical with and without sanitizers (sm$arch)"
  fi
done

# Hardware goldens (committed by scripts/gpu-check.sh runs): the emulator must match them exactly.
for golden in test/emu/probe/golden-sm*.txt; do
  [[ -e "$golden" ]] || continue
  hw=${golden##*golden-sm}; hw=${hw%.txt}
  path=$(( hw >= 80 ? 800 : 750 ))
  if [[ -f build-emu/probe-sm$path-none.txt ]]; then
    diff -q "$golden" "build-emu/probe-sm$path-none.txt" >/dev/null
    record $? "emulated warp ops match the hardware golden $golden"
  fi
done

# ---- nvcc: every kernel for every target arch, resources against the checked-in file ------------
if [[ $NVCC_CHECK == 1 ]] && { command -v nvcc >/dev/null 2>&1 || [[ -x /usr/local/cuda/bin/nvcc ]]; }; then
  echo "== nvcc: sm_75/80/86/89/90 resources"
  JOBS=$JOBS scripts/cuda-resources.sh --check >build-emu/cuda-resources.log 2>&1
  rc=$?
  tail -3 build-emu/cuda-resources.log | sed 's/^/  /'
  record $rc "kernels compile for sm_75/80/86/89/90 without spills; cuda/resource-usage.txt is current"
fi

# ---- the addon in its emulated-CUDA flavour, under the vitest suite ------------------------------
if [[ $ADDON == 1 ]]; then
  echo "== emulated-CUDA addon + vitest"
  if npx cmake-js compile -O build-emuaddon --CDLOWBIT_CUDA=EMULATED -j "$JOBS" >build-emu/addon-build.log 2>&1; then
    record 0 "build emulated-CUDA addon"
    LOWBIT_ADDON_PATH="$ROOT/build-emuaddon/Release/lowbit.node" npx vitest run >build-emu/addon-vitest.log 2>&1
    rc=$?
    line=$(sed 's/\x1b\[[0-9;]*m//g' build-emu/addon-vitest.log | grep -E '^ +Tests ' | tail -1)
    echo "  vitest (emulated CUDA):${line#*Tests}"
    record $rc "vitest suite against the emulated-CUDA addon"
  else
    tail -20 build-emu/addon-build.log
    record 1 "build emulated-CUDA addon"
  fi
fi

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
