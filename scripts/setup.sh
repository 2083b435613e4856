#!/usr/bin/env bash
# Installs every build and test dependency of Kiln from Debian 12 packages (LLVM/MLIR 19).
# Idempotent: re-running it only re-checks what is installed.
set -euo pipefail

PACKAGES=(
  cmake ninja-build clang-19 lld-19 libclang-rt-19-dev
  llvm-19-dev llvm-19-tools libmlir-19-dev mlir-19-tools
  libfmt-dev libflatbuffers-dev flatbuffers-compiler libgtest-dev libgmock-dev
  ccache mold python3 zlib1g-dev
  # test-only: the io interop tests check our .npy/.npz against real numpy
  # (they skip without it)
  python3-numpy
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
