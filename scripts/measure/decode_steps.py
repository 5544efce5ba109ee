"""What one llama_decode costs by batch shape on a GGUF, with llama.cpp alone (no selfclone code in the timed path):
one sequence fed k tokens at once, and k sequences fed one token each (what continuous batching decodes), 2
threads, medians of 30 steps after a 12-token prompt per sequence (docs/BENCHMARKS.md, issue #10):
`GOMP_SPINCOUNT=5000 .venv/bin/python scripts/measure/decode_steps.py ~/.cache/selfclone/served/*-bf16.gguf`."""
import statistics
import sys
import time

import llama_cpp

path = sys.argv[1]
llama_cpp.llama_backend_init()
model = llama_cpp.llama_model_load_from_file(path.encode(), llama_cpp.llama_model_default_params())
batch = llama_cpp.llama_batch_init(256, 0, 1)


def context(seqs: int):
    p = llama_cpp.llama_context_default_params()
    p.n_ctx, p.n_seq_max, p.n_batch, p.n_ubatch = 512 * seqs, seqs, 256, 256
    p.n_threads = p.n_threads_batch = 2
    p.no_perf = True
    return llama_cpp.llama_init_from_model(model, p)


def fill(entries) -> None:
    for i, (token, pos, seq, logits) in enumerate(entries):
        batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, logits
        batch.seq_id[i][0] = seq
    batch.n_tokens = len(entries)


for shape in ("one sequence, k tokens", "k sequences, 1 token each"):
    base = None
    for k in (1, 2, 4, 8, 16):
        ctx = context(16)
        fill([(100 + j, j, s, False) for s in range(k) for j in range(12)])
        llama_cpp.llama_decode(ctx, batch)
        times = []
        for step in range(30):
            if shape.startswith("one"):
                fill([(200 + j, 12 + step * k + j, 0, True) for j in range(k)])
            else:
                fill([(200, 12 + step, s, True) for s in range(k)])
            start = time.perf_counter()
            llama_cpp.llama_decode(ctx, batch)
            times.append(time.perf_counter() - start)
        ms = statistics.median(times) * 1e3
        base = base or ms
        print(f"{shape}: k={k:>2} {ms:5.1f} ms a step, {k / ms * 1e3:6.1f} tokens/s, {k * base / ms:.2f}x k=1",
              flush=True)
        llama_cpp.llama_free(ctx)
