#!/bin/sh
# CMake compiler launcher for the CUDA objects when LOWBIT_PTXAS_LOG is on (cmake/cuda.cmake):
#   ptxas-log.sh <log dir> <nvcc> <arguments...>
# runs the compile (which cmake/cuda.cmake gives -Xptxas=-v) and keeps ptxas' per-kernel report
# in <log dir>/<source name>.log, so scripts/cuda-resources.sh --from-build reads the registers,
# shared memory, stack and spills of the very objects the addon links, without compiling the
# kernels a second time. The report stays out of the build's console output; any other line of
# the compiler's output (warnings, errors) is passed through, and the exit status is nvcc's.
log_dir=$1
shift
src=
prev=
for arg in "$@"; do
  [ "$prev" = "-c" ] && src=$arg
  prev=$arg
done
mkdir -p "$log_dir"
log="$log_dir/$(basename "${src:-unknown.cu}" .cu).log"
"$@" > "$log.tmp" 2>&1
status=$?
mv "$log.tmp" "$log"
if [ $status -ne 0 ]; then cat "$log" >&2; else grep -vE '^ptxas info|^ +[0-9]+ bytes stack frame' "$log" >&2; fi
exit $status
