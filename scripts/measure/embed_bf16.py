"""MiniLM sentences/s in fp32 and under bf16 autocast on 3,000 synthetic messages, and the cosine between the two
(docs/BENCHMARKS.md, "Notes index at 100,000 messages"): `.venv/bin/python scripts/measure/embed_bf16.py`."""
import sys, time, torch, numpy as np
sys.path.insert(0, "src")                       # run from the repository root
from selfclone.bench.recall_scale import synthetic_messages
from selfclone.embedding import _model
m = _model()
texts = synthetic_messages(3000)
print("threads", torch.get_num_threads())
m.encode(texts[:64])
for name, ctx in (("fp32", None), ("bf16", torch.autocast("cpu", dtype=torch.bfloat16))):
    for bs in (64, 256):
        t = time.perf_counter()
        if ctx is None:
            v = m.encode(texts, batch_size=bs, normalize_embeddings=True)
        else:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                v = m.encode(texts, batch_size=bs, normalize_embeddings=True)
        dt = time.perf_counter() - t
        print(f"{name} bs={bs}: {len(texts)/dt:.0f} sentences/s", flush=True)
        if name == "fp32" and bs == 64: ref = v
        else: print("  min cosine vs fp32", float((ref * v).sum(1).min()), "mean", float((ref*v).sum(1).mean()))
