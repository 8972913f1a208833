#!/bin/sh
# prebuildify calls "<node-gyp> rebuild --target=... --release"; lowbit builds with
# cmake-js instead, so ignore those arguments and run a clean cmake-js build.
# A prebuild is what users without nvcc get, so it must carry the CUDA kernels:
# LOWBIT_CUDA defaults to ON here (the build fails without a working nvcc) instead of
# the source install's AUTO; `LOWBIT_CUDA=off npm run prebuildify` makes a CPU-only one.
# The C++ runtime is linked statically so that the binary asks only for glibc.
flavor=$(printf '%s' "${LOWBIT_CUDA:-on}" | tr '[:lower:]' '[:upper:]')
exec npx --no-install cmake-js rebuild "--CDLOWBIT_CUDA=$flavor" --CDLOWBIT_STATIC_LIBSTDCXX=ON
