"""The batching engine (BatchEngine) decoding k greedy 64-token replies to different prompts together: aggregate
tokens/s and the median time of its pure decode steps (one token for each of the k replies), 16 slots of 512 cells,
2 threads (docs/BENCHMARKS.md, issue #10): `GOMP_SPINCOUNT=5000 .venv/bin/python scripts/measure/engine_steps.py
FILE.gguf` (UNIFIED=1 for one shared KV cache)."""
import os
import statistics
import sys
import time

sys.path.insert(0, "src")                       # run from the repository root
import llama_cpp  # noqa: E402
from llama_cpp import Llama  # noqa: E402

from selfclone.backends.llamacpp_batch import BatchEngine  # noqa: E402
from selfclone.backends.sampling import Sampler  # noqa: E402
from selfclone.config import GenerationOptions  # noqa: E402

log = []
decode = llama_cpp.llama_decode


def timed(ctx, batch):
    start = time.perf_counter()
    code = decode(ctx, batch)
    log.append((batch.n_tokens, time.perf_counter() - start))
    return code


llama_cpp.llama_decode = timed                  # the engine looks it up on the module at every step
unified = os.environ.get("UNIFIED") == "1"
llm = Llama(model_path=sys.argv[1], n_ctx=64, n_batch=8, n_threads=2, verbose=False)
engine = BatchEngine(llm, slots=16, n_ctx=512, threads=2, unified=unified, cells=16 * 512 if unified else None)
options = GenerationOptions(max_tokens=64, temperature=0.0, frequency_penalty=0)
for k in (1, 2, 4, 8, 16):
    log.clear()
    seqs = []
    for i in range(k):
        prompt = llm.tokenize(f"<|im_start|>user\nQuestion {i}: tell me a long story about item {i}<|im_end|>\n"
                              "<|im_start|>assistant\n".encode(), special=True)
        seqs.append(engine.submit(prompt, Sampler(options, 1, prompt), 64))
    start = time.perf_counter()
    produced = sum(len(list(seq.tokens())) for seq in seqs)
    wall = time.perf_counter() - start
    pure = [seconds for n, seconds in log if n == k]
    step = statistics.median(pure)
    print(f"k={k:>2}: {produced / wall:6.1f} tokens/s in all; pure decode steps {len(pure)}, median "
          f"{step * 1e3:.1f} ms ({k / step:.0f} tokens/s)", flush=True)
