"""The llama.cpp half of `selfclone bench chat`: llama.cpp's own create_chat_completion on the same GGUF against our
llamacpp Backend (decode tokens/s, first token cold and cached), and the peak RAM of a whole `selfclone ask` process.

    selfclone bench chat            # prints these after the transformers figures, measured in the same run
"""
from __future__ import annotations

import subprocess
import sys
import time

from .. import models
from ..backends.llamacpp_backend import LlamaCppBackend
from ..config import GenerationOptions


def _timed(pieces) -> tuple[float, float, int]:
    """(time to first piece, pieces/s after it, pieces) of a stream started just before the call."""
    start = time.perf_counter()
    stamps = [time.perf_counter() for _ in pieces]
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return stamps[0] - start, rate, len(stamps)


def _own(llm, messages, new_tokens: int):
    chunks = llm.create_chat_completion(messages=messages, max_tokens=new_tokens, temperature=0, stream=True)
    return (c for c in chunks if c["choices"][0]["delta"].get("content"))


def measure(messages: list[dict], new_tokens: int, repeats: int, threads: int | None = None) -> dict:
    from llama_cpp import Llama

    from ..backends.registry import open_backend

    backend = open_backend("smollm2-135m", "llamacpp", {"threads": threads})   # the file chat serves (bf16 copy)
    # the same GGUF file for both (mmap shares its pages), so only the path through our Backend differs
    llm = Llama(model_path=backend.path, n_ctx=1024, n_threads=threads, verbose=False)
    options = GenerationOptions(max_tokens=new_tokens, temperature=0, frequency_penalty=0)
    rows: dict[str, list] = {"own": [], "ours": [], "own_cached": [], "ours_cached": []}
    list(_own(llm, messages, 4))                                   # warm-up
    for _ in range(repeats):
        llm.reset()                                                # cold: no prompt-cache reuse
        rows["own"].append(_timed(_own(llm, messages, new_tokens)))
        rows["own_cached"].append(_timed(_own(llm, messages, new_tokens)))
        backend.reset()                                            # cold: the engine's cached prefixes too
        rows["ours"].append(_timed(backend.chat(messages, options)))
        rows["ours_cached"].append(_timed(backend.chat(messages, options)))
    med = lambda key, i: sorted(r[i] for r in rows[key])[len(rows[key]) // 2]  # noqa: E731
    out = {f"llama_{k}_ttft_s": med(k, 0) for k in rows}
    return out | {"llama_own_decode_tps": med("own", 1), "llama_ours_decode_tps": med("ours", 1)}


def peak_rss_of_ask(model: str = "smollm2-135m") -> float:
    """Peak resident MB of a whole `selfclone ask` process (auto backend): the child's own VmHWM.

    Not getrusage(RUSAGE_CHILDREN): a forked child inherits this (large) process's high-water mark before exec."""
    code = ("import re, sys; from selfclone.cli import main; "
            f"rc = main(['ask', {model!r}, 'How do you take your tea?', '--max-tokens', '16']); "
            "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1], file=sys.stderr); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(done.stderr.strip().splitlines()[-1]) / 1024


def embedded_gguf() -> str:
    return models.resolve("smollm2-135m").path


def exported(model: str, messages: list[dict], new_tokens: int, check, workdir) -> dict:
    """Decode tokens/s, held-out losses and the fidelity verdict of `model` exported to f16, Q8_0 and Q4_K_M."""
    from pathlib import Path

    from ..export.gguf import QUANTIZATIONS
    from ..export.pipeline import export_model

    out = {}
    options = GenerationOptions(max_tokens=new_tokens, temperature=0, frequency_penalty=0)
    for quantize in QUANTIZATIONS:
        done = export_model(models.resolve(model), "gguf", quantize, out=Path(workdir) / f"{quantize}.gguf",
                            force=True, check=check)
        backend = LlamaCppBackend(str(done.path))
        list(backend.chat(messages, GenerationOptions(max_tokens=4, temperature=0)))     # warm-up
        backend.reset()
        _, rate, _ = _timed(backend.chat(messages, options))
        out[quantize] = {"decode_tps": rate, "size_mb": done.path.stat().st_size / 2**20, **done.fidelity.as_dict()}
    return out
