#!/bin/sh
# prebuildify calls "<node-gyp> rebuild --target=... --release"; lowbit builds with
# cmake-js instead, so ignore those arguments and run a cmake-js build.
# A prebuild is what users without nvcc get, so it must carry the CUDA kernels:
# LOWBIT_CUDA defaults to ON here (the build fails without a working nvcc) instead of
# the source install's AUTO; `LOWBIT_CUDA=off npm run prebuildify` makes a CPU-only one.
# The C++ runtime is linked statically so that the binary asks only for glibc.
#
# The build is incremental: configure sets every option a prebuild depends on explicitly
# (flavor, static C++ runtime, no sanitizers), and CMake recompiles whatever those change.
# The static runtime only changes the link, so the CUDA objects of an earlier source build
# (npm install / npm ci) are reused instead of compiled a second time for five archs.
# LOWBIT_PREBUILD_CLEAN=1 starts from an empty build folder instead.
set -e
flavor=$(printf '%s' "${LOWBIT_CUDA:-on}" | tr '[:lower:]' '[:upper:]')
if [ -n "${LOWBIT_PREBUILD_CLEAN:-}" ]; then npx --no-install cmake-js clean; fi
npx --no-install cmake-js configure "--CDLOWBIT_CUDA=$flavor" --CDLOWBIT_STATIC_LIBSTDCXX=ON --CDLOWBIT_SANITIZE=OFF
exec npx --no-install cmake-js build
