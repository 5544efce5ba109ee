"""Prompt eval of the embedded model re-typed to each llama.cpp tensor type (docs/BENCHMARKS.md, "Which tensor type
llama.cpp is fast at"): `.venv/bin/python scripts/measure/tensor_types.py q4_1,q8_0,q6_k,q4_k_m,q4_0,bf16,f16`
(UBS=512,256,128,64 sets the n_ubatch values). The copies go to /tmp/exp/TYPE.gguf."""
import sys, time, os, statistics, ctypes
sys.path.insert(0, "src")                       # run from the repository root
import llama_cpp
from llama_cpp import Llama
import pathlib, glob
src = __import__("selfclone.models", fromlist=["x"]).resolve("smollm2-135m").path
types = {"q4_1": None, "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, "q6_k": llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K,
         "q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M, "q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0,
         "bf16": llama_cpp.LLAMA_FTYPE_MOSTLY_BF16, "f16": llama_cpp.LLAMA_FTYPE_MOSTLY_F16, "q5_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_M}
only = sys.argv[1].split(",") if len(sys.argv) > 1 else list(types)
files = {}
os.makedirs("/tmp/exp", exist_ok=True)
for name in only:
    ft = types.get(name, 0)
    if ft == 0: files[name] = f"/tmp/exp/{name}.gguf"; continue
    if ft is None:
        files[name] = src; continue
    dst = f"/tmp/exp/{name}.gguf"
    if not os.path.exists(dst):
        p = llama_cpp.llama_model_quantize_default_params()
        p.ftype = ft; p.allow_requantize = True; p.nthread = 2
        t = time.perf_counter()
        rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p))
        print(name, "quantize rc", rc, f"{time.perf_counter()-t:.1f}s", os.path.getsize(dst)//1e6, "MB", flush=True)
    files[name] = dst
UBS = [int(x) for x in os.environ.get("UBS","512,256").split(",")]
FILL = "The keeper wrote in the log that the ferry came late again and the bees were calm. "
for name, path in files.items():
    for ub in UBS:
        llm = Llama(model_path=path, n_ctx=1024, n_batch=512, n_ubatch=ub, n_threads=2, n_threads_batch=2, verbose=False)
        text = ""
        while len(llm.tokenize(text.encode())) < 216: text += FILL
        toks = llm.tokenize(text.encode())[:216]
        times = []
        for r in range(4):
            llm.reset(); llm._ctx.memory_clear(True) if hasattr(llm._ctx, "memory_clear") else None
            t = time.perf_counter(); llm.eval(toks); times.append(time.perf_counter() - t)
        print(f"{name:7s} ub={ub} prompt 216: best {min(times)*1000:.0f} ms median {statistics.median(times)*1000:.0f} ms -> {216/min(times):.0f} tok/s", flush=True)
        llm.close()
