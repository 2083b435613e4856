#!/usr/bin/env bash
# Builds gpu-bundle/ (ignored by git): what a session with a GPU machine needs
# there, where kilnc cannot run (no LLVM/MLIR 19). docs/gpu.md, "Runbook".
#   scripts/gpu-bundle.sh             # after scripts/build.sh
# Then one device `run` with carry ["gpu-bundle"] and command
#   bash scripts/gpu-run.sh
# Every .kbin has CPU code for any x86-64-v3 CPU and CUDA code for sm_90 only
# (H100 / H200): three architectures would not fit the 64 MiB the device
# tool carries.
set -euo pipefail
cd "$(dirname "$0")/.."
B=gpu-bundle
KILNC=build/bin/kilnc
rm -rf "$B"
mkdir -p "$B/bin" "$B/lib" "$B/check" "$B/bench"
grep -qx '/gpu-bundle/' .git/info/exclude 2>/dev/null || echo '/gpu-bundle/' >> .git/info/exclude

cp build/bin/kiln-run build/bin/kiln-kernels-tests build/bin/kiln-gpu-numerics-tests "$B/bin/"
cp "$(readlink -f build/runtime/libkiln_runtime.so)" "$B/lib/libkiln_runtime.so"
ln -s libkiln_runtime.so "$B/lib/libkiln_runtime.so.0"

compile() { # source out [kilnc options...]
  local src=$1 out=$2
  shift 2
  "$KILNC" "$src" --target=cpu,cuda --gpu-arch=sm_90 --cpu=x86-64-v3 -o "$out" "$@"
}
# Numerics, named as kiln-gpu-numerics-tests looks them up (KILN_TEST_KBINS):
# every example at batch 8 with FP32 GEMMs (CPU-exact up to sum order), every
# op (test/ops/every-op.mlir), and the MNIST CNN as `fit` trains it with the
# default TF32 (batch 64, test batch 80).
for ex in linear_regression binary_classifier xor cifar10_mlp mnist_cnn cifar10_cnn cifar10_cnn_logits; do
  compile "examples/$ex.kiln" "$B/check/$ex.kbin" --batch-size=8 --gpu-precision=fp32
done
compile test/ops/every-op.mlir "$B/check/every-op.kbin" --gpu-precision=fp32
compile examples/mnist_cnn.kiln "$B/check/mnist_cnn-64.kbin" --batch-size=64,80
# The benchmark's artifacts (bench/run.py --prepare names).
for ex in mnist_cnn cifar10_cnn; do
  compile "examples/$ex.kiln" "$B/bench/${ex}_b64_1.kbin" --batch-size=64,1
  compile "examples/$ex.kiln" "$B/bench/${ex}_b256.kbin" --batch-size=256
done
du -sh "$B"
total=$(du -sb "$B" | cut -f1)
if ((total > 60 * 1024 * 1024)); then
  echo "gpu-bundle: $total bytes: too large for the device tool's 64 MiB (with the repository)" >&2
  exit 1
fi
