"""The batching engine decoding 1, 4, 8, 16 greedy 24-token replies together on one GGUF (docs/BENCHMARKS.md):
`.venv/bin/python scripts/measure/engine_batching.py FILE.gguf 16` (TORCH=1 imports torch first; OpenMP settings
through the environment, e.g. GOMP_SPINCOUNT=5000 or OMP_WAIT_POLICY=PASSIVE)."""
import sys, time, statistics, threading, os
if os.environ.get("TORCH"): import torch
sys.path.insert(0, "src")                       # run from the repository root
from llama_cpp import Llama
from selfclone.backends.llamacpp_batch import BatchEngine
from selfclone.backends.sampling import Sampler
from selfclone.config import GenerationOptions
path = sys.argv[1]; slots = int(sys.argv[2]) if len(sys.argv) > 2 else 16
llm = Llama(model_path=path, n_ctx=512, n_threads=2, verbose=False)
eng = BatchEngine(llm, slots=slots, n_ctx=512, threads=2)
qs = [f"Question {i}: what do you think about item number {i} on the list?" for i in range(32)]
opts = GenerationOptions(max_tokens=24, temperature=0.0)
def run(k):
    seqs = []
    t = time.perf_counter()
    for i in range(k):
        p = llm.tokenize(f"<|im_start|>user\n{qs[i]}<|im_end|>\n<|im_start|>assistant\n".encode(), special=True)
        seqs.append(eng.submit(p, Sampler(opts, 1, p), 24))
    n = 0
    for s in seqs:
        for _ in s.tokens(): n += 1
    return n / (time.perf_counter() - t)
run(1)
for k in (1, 4, 8, 16):
    r = [run(k) for _ in range(2)]
    print(f"{path.split('/')[-1]} slots={slots} k={k}: {max(r):.1f} tok/s", flush=True)
