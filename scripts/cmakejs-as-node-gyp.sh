#!/bin/sh
# prebuildify calls "<node-gyp> rebuild --target=... --release"; lowbit builds with
# cmake-js instead, so ignore those arguments and run a clean cmake-js build.
exec npx --no-install cmake-js rebuild
