"""Held-out loss of each /tmp/exp/TYPE.gguf (made by tensor_types.py) against the transformers model, with the
export's own `fidelity.gguf_loss` (docs/BENCHMARKS.md): `.venv/bin/python scripts/measure/type_fidelity.py q4_1 q8_0 bf16`."""
import sys, time
sys.path.insert(0, "src")                       # run from the repository root
from pathlib import Path
from selfclone import models
from selfclone.dataset.chat import read_examples
from selfclone.export import fidelity
from selfclone.train.batching import encode_all
from selfclone.train.loss import evaluate
import selfclone
ex = read_examples(Path(selfclone.__file__).parent / "resources/demo/heldout.jsonl")[:64]
ref = models.resolve("smollm2-135m")
model, tok = models.load(ref)
enc = encode_all(tok, ex, 2048)
t = time.perf_counter(); hf = evaluate(model, enc, tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)["loss"]
print(f"HF {hf:.4f} ({time.perf_counter()-t:.1f}s)")
for name in sys.argv[1:]:
    p = Path(ref.path) if name == "q4_1" else Path(f"/tmp/exp/{name}.gguf")
    t = time.perf_counter(); loss, n = fidelity.gguf_loss(p, enc, threads=2)
    print(f"{name}: {loss:.4f} over {n} tokens, {100*(loss/hf-1):+.2f}% vs HF ({time.perf_counter()-t:.1f}s)", flush=True)
