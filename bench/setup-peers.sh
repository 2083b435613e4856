#!/usr/bin/env bash
# bench/setup-peers.sh: installs the frameworks bench/run.py compares Kiln with
# into a virtual environment (bench/.venv). Optional: nothing else in Kiln needs
# it, and scripts/setup.sh never runs it.
#
#   bench/setup-peers.sh            # all peers
#   bench/setup-peers.sh torch jax  # some of them (names below)
#
# Peers: numpy safetensors torch tensorflow jax onnx onnxruntime iree
# Every peer is optional: a failed install is reported (and logged in
# bench/.venv/peers-install.log) and bench/run.py then skips that peer with the
# reason. Installed versions are written to bench/.venv/peers.json.
#
# Environment: BENCH_VENV (default bench/.venv), PYTHON (default python3),
# TORCH_INDEX_URL (an index with CPU-only torch wheels, if one is reachable;
# default: PyPI's torch, which pulls the CUDA libraries too, ~3 GB).
set -u
here=$(cd "$(dirname "$0")" && pwd)
venv=${BENCH_VENV:-$here/.venv}
python=${PYTHON:-python3}

if [ -x "$venv/bin/python" ]; then
  echo "setup-peers: reusing $venv"
else
  echo "setup-peers: creating $venv"
  "$python" -m venv "$venv" || { echo "setup-peers: error: cannot create $venv" >&2; exit 1; }
fi
vpy="$venv/bin/python"
log="$venv/peers-install.log"
: >"$log"
"$vpy" -m pip install --quiet --upgrade pip >>"$log" 2>&1 || true

# pip into the venv, binaries only (no source builds on a 2-core machine).
pipi() { "$vpy" -m pip install --only-binary :all: --progress-bar off "$@" >>"$log" 2>&1; }

declare -A result
try() { # try NAME  PIP-ARGS... [ '||' PIP-ARGS... ]  (alternatives separated by '||')
  local name=$1; shift
  local args=()
  echo "setup-peers: installing $name ..."
  echo "=== $name" >>"$log"
  while :; do
    args=()
    while [ $# -gt 0 ] && [ "$1" != "||" ]; do args+=("$1"); shift; done
    if pipi "${args[@]}"; then result[$name]="installed (${args[*]})"; return 0; fi
    echo "setup-peers:   pip install ${args[*]} failed" >&2
    [ $# -gt 0 ] && shift || break
  done
  result[$name]="FAILED (see $log)"
  return 1
}

all=(numpy safetensors torch tensorflow jax onnx onnxruntime iree)
want=("$@"); [ ${#want[@]} -eq 0 ] && want=("${all[@]}")
for p in "${want[@]}"; do
  case $p in
    numpy) try numpy numpy ;;
    safetensors) try safetensors safetensors ;;
    torch)
      if [ -n "${TORCH_INDEX_URL:-}" ]; then
        try torch torch --index-url "$TORCH_INDEX_URL" '||' torch
      else
        try torch torch
      fi ;;
    tensorflow) try tensorflow tensorflow-cpu '||' tensorflow ;;
    jax) try jax 'jax[cpu]' ;;
    onnx) try onnx onnx onnxscript '||' onnx ;;
    onnxruntime) try onnxruntime onnxruntime ;;
    iree) try iree iree-base-compiler iree-base-runtime '||' iree-compiler iree-runtime ;;
    *) echo "setup-peers: unknown peer '$p' (known: ${all[*]})" >&2 ;;
  esac
done

echo
echo "setup-peers: pip results"
for p in "${want[@]}"; do [ -n "${result[$p]:-}" ] && printf '  %-12s %s\n' "$p" "${result[$p]}"; done

# What actually imports (a later install can break an earlier one, e.g. by
# changing numpy): this is what bench/run.py trusts, and what it records.
"$vpy" - "$venv/peers.json" <<'PY'
import importlib, json, sys, subprocess
checks = {
    "numpy": "import numpy as m; v = m.__version__",
    "safetensors": "import safetensors as m; v = m.__version__",
    "torch": "import torch as m; v = m.__version__",
    "tensorflow": "import tensorflow as m; v = m.__version__",
    "jax": "import jax, jaxlib; v = jax.__version__ + ' (jaxlib ' + jaxlib.__version__ + ')'",
    "onnx": "import onnx as m; v = m.__version__",
    "onnxruntime": "import onnxruntime as m; v = m.__version__",
    "iree": "import iree.compiler, iree.runtime\n"
            "from importlib.metadata import version, PackageNotFoundError\n"
            "def V(*names):\n"
            "    for n in names:\n"
            "        try: return version(n)\n"
            "        except PackageNotFoundError: pass\n"
            "v = 'compiler %s, runtime %s' % (V('iree-base-compiler', 'iree-compiler'), V('iree-base-runtime', 'iree-runtime'))",
}
out = {}
for name, code in checks.items():
    # Each import in its own process: TensorFlow and torch are slow and noisy.
    prog = code + "\nprint(v)"
    r = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True)
    if r.returncode == 0:
        out[name] = {"ok": True, "version": r.stdout.strip().splitlines()[-1]}
    else:
        err = (r.stderr.strip().splitlines() or ["?"])[-1]
        out[name] = {"ok": False, "reason": "import failed: " + err[:300]}
json.dump(out, open(sys.argv[1], "w"), indent=1)
print("\nsetup-peers: importable in the venv")
for k, v in out.items():
    print(f"  {k:12s} {v.get('version') if v['ok'] else 'NO: ' + v['reason']}")
PY
"$vpy" -m pip freeze >"$venv/peers-freeze.txt" 2>/dev/null || true
echo "setup-peers: wrote $venv/peers.json (what imports, with versions) and $venv/peers-freeze.txt"
exit 0
