#!/usr/bin/env bash
# The GPU machine's check (docs/SCALE.md): a ~0.7B Llama-shaped model built from a config, 50 LoRA steps in bf16
# and 50 full steps through selfclone's own training loop, tokens/s and peak memory against the estimate, and a
# resume (stop at step 25, resume, same final step). Under 8 minutes on one H200; results in $OUT (or ./gpu-check-out)
# as gpu-check.json and gpu-check.md.
#
#   scripts/gpu-check.sh                      # on the GPU machine (torch CUDA, transformers, peft, accelerate)
#   GPU_CHECK_TINY=1 scripts/gpu-check.sh     # the same code on a tiny model, on the CPU, in seconds
#   GPU_CHECK_INSTALL=0 ...                   # skip `pip install --no-deps -e .` (use src/ through PYTHONPATH)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
OUT_DIR="${OUT:-$ROOT/gpu-check-out}"
mkdir -p "$OUT_DIR"

if [ "${GPU_CHECK_INSTALL:-1}" = 1 ]; then
  # no network there: no dependencies, no build isolation (setuptools must be present; else PYTHONPATH below)
  "$PY" -m pip install --no-deps --no-build-isolation -q -e . >"$OUT_DIR/pip-install.log" 2>&1 \
    || echo "pip install -e . failed (see $OUT_DIR/pip-install.log): running from src/ instead"
fi
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
"$PY" - <<'PY' | tee "$OUT_DIR/environment.txt"
import importlib.util, platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
def present(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False
for name in ("transformers", "peft", "accelerate", "trl", "bitsandbytes", "vllm", "flash_attn"):
    print(f"  {name}: {'yes' if present(name) else 'no'}")
PY
ARGS=(--out "$OUT_DIR")
if [ "${GPU_CHECK_TINY:-0}" = 1 ]; then ARGS+=(--tiny); fi
timeout "${GPU_CHECK_TIMEOUT:-470}" "$PY" -m selfclone.bench.gpu_check "${ARGS[@]}"
