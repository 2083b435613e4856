#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, with gpu-bundle/ carried
# (scripts/gpu-bundle.sh) and $OUT set by the device tool: every GPU check of
# docs/gpu.md's runbook, each logged to $OUT/<step>.txt, a summary in
# $OUT/summary.txt. Steps continue after a failure.
set -uo pipefail
B=gpu-bundle
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/$B/lib
RUN=$B/bin/kiln-run
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }
step() { # name timeout command...
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
  local rc=$?
  summary "$(printf '%-34s rc=%-3d %4ds  %s' "$name" "$rc" $((SECONDS - t0)) "$(tail -n 1 "$OUT/$name.txt" | cut -c1-110)")"
}
summary "$(date -u +%F\ %T) $(nvidia-smi -L 2>&1 | head -1)"
step devices 60 "$RUN" devices
# The GPU numerics tests (predict and 3 train steps of every example, every op
# forward and backward, one MNIST epoch against the CPU) on the bundle's .kbin files.
KILN_TEST_KBINS=$B/check step numerics 900 "$B/bin/kiln-gpu-numerics-tests"
for n in linear_regression binary_classifier xor cifar10_mlp mnist_cnn cifar10_cnn cifar10_cnn_logits; do
  step "crosscheck_$n" 300 "$RUN" crosscheck "$B/check/$n.kbin" --device cuda --batches 3
done
step crosscheck_mnist_cnn_tf32 300 "$RUN" crosscheck "$B/check/mnist_cnn-64.kbin" --device cuda --batches 3 --tolerance 2e-2
step crosscheck_mnist_real_digits 300 "$RUN" crosscheck "$B/check/mnist_cnn.kbin" --device cuda --batches 3 --data data/mnist-10k
if command -v compute-sanitizer > /dev/null; then
  for tool in memcheck racecheck initcheck; do
    step "$tool" 600 compute-sanitizer --tool $tool --error-exitcode 9 "$RUN" crosscheck "$B/check/mnist_cnn.kbin" --device cuda --batches 1
  done
  KILN_TEST_KBINS=$B/check step memcheck_every_op 600 compute-sanitizer --tool memcheck --error-exitcode 9 \
    "$B/bin/kiln-gpu-numerics-tests" --gtest_filter='GpuOps.*'
fi
# The MNIST CNN trained 5 epochs on 8,000 real digits, seed 1, on the GPU and on the CPU; tested on the other 2,000.
for dev in cuda cpu; do
  step "fit_$dev" 600 "$RUN" fit "$B/check/mnist_cnn-64.kbin" --data data/mnist-10k --limit 8000 --epochs 5 \
    --batch-size 64 --seed 1 --device "$dev" --save "$OUT/w_$dev.safetensors"
  step "evaluate_$dev" 300 "$RUN" evaluate "$B/check/mnist_cnn-64.kbin" --data data/mnist-10k --skip 8000 \
    --batch-size 80 --params "$OUT/w_$dev.safetensors" --json
done
rm -f "$OUT"/w_*.safetensors
step kernels_avx512 600 "$B/bin/kiln-kernels-tests" --gtest_filter='*avx512*'
step bench 900 python3 bench/run.py --device cuda --kbins-from "$B/bench" --runtime "$PWD/$B/lib/libkiln_runtime.so" \
  --only mnist_cnn,cifar10_cnn --out "$OUT/bench"
