#!/usr/bin/env bash
# Configures (first time only) and builds Kiln into build/ (or $KILN_BUILD_DIR)
# with clang-19, the mold linker and ccache, against Debian's shared LLVM/MLIR 19.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${KILN_BUILD_DIR:-build}

# The system python3 has the numpy that setup.sh installs (python3-numpy); a
# pyenv or venv python3 first on PATH may not, and the interop and
# optimizer-reference tests would then skip.
PYTHON3=
[[ -x /usr/bin/python3 ]] && PYTHON3=/usr/bin/python3

if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=mold -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=mold \
    ${PYTHON3:+-DPython3_EXECUTABLE=$PYTHON3}
fi
cmake --build "$BUILD_DIR"
