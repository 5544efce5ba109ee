"""`selfclone bench llama`: where llama.cpp's time to first token goes, what the system-prefix reuse saves, and what
the build's instruction set changes.

Every row comes from a fresh child process (cold: nothing loaded, nothing cached) on the same GGUF and prompts:
  load             import llama_cpp, then Llama(model)
  first request    time to the first token of the very first request of that process (216-token prompt)
  prompt eval      tokens/s of the same prompt through llm.eval after a reset (median of --repeats)
  cold / decode    first token with the prompt cache reset, in a warm process, and decode tokens/s
  persona prompt   a persona system prompt (about 190 tokens) and a short question: first token without any
                   reuse, after `llama_prefix.prefill` at load, for a new conversation (another question: the
                   prefix matches), and after another prompt evicted the cache, without and with `restore`
Configurations: llama-cpp-python's default threads (decode 1 thread on 2 cores, prompt 2), 1 and 2 threads for
both, n_ubatch 512 and 128. With --build DIR (another llama-cpp-python, e.g. the portable `-DGGML_NATIVE=OFF` build
installed with `pip install --target DIR`) the default configuration also runs with DIR first on PYTHONPATH,
interleaved with this environment's build, and the ratios are printed.

    selfclone bench llama --repeats 3 --build /tmp/llama-portable
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import typer

from .. import machine, models
from ..terminal import console
from .chat import FILLER

QUESTIONS = ("how do you take your tea?", "what did the ferry bring today?", "any news of the bees?")
CONFIGS = {"default": (None, 512), "threads=1": (1, 512), "threads=2": (2, 512), "ubatch=128": (None, 128)}


def _stream_ttft(llm, messages, new_tokens: int) -> tuple[float, float]:
    """(seconds to the first content piece, pieces/s after it) of llama.cpp's own create_chat_completion, greedy."""
    start = time.perf_counter()
    stamps = []
    for chunk in llm.create_chat_completion(messages=messages, max_tokens=new_tokens, temperature=0, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            stamps.append(time.perf_counter())
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return stamps[0] - start, rate


def chat_prompt(llm, target: int = 216) -> list[dict]:
    """The `bench chat` prompt: a user message of filler that renders to about `target` tokens."""
    from .llama_prefix import prompt_tokens

    text = ""
    while len(prompt_tokens(llm, [{"role": "user", "content": text + "What did the keeper write?"}])) < target:
        text += FILLER
    return [{"role": "user", "content": text + "What did the keeper write?"}]


def probe(gguf: str, threads: int | None, n_ubatch: int, new_tokens: int, repeats: int, persona: str) -> dict:
    """One cold process's figures (run in a child: `python -c ...probe(...)`)."""
    start = time.perf_counter()
    import llama_cpp
    from llama_cpp import Llama

    from . import llama_prefix as prefix_mod

    imported = time.perf_counter()
    llm = Llama(model_path=gguf, n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=512,
                n_ubatch=n_ubatch, verbose=False)
    loaded = time.perf_counter()
    messages = chat_prompt(llm)
    tokens = prefix_mod.prompt_tokens(llm, messages)
    out = {"import_s": imported - start, "load_s": loaded - imported, "prompt_tokens": len(tokens),
           "threads": llm.n_threads, "threads_batch": llm.n_threads_batch, "n_ubatch": n_ubatch,
           "system_info": llama_cpp.llama_print_system_info().decode(), "version": llama_cpp.__version__}
    out["first_request_ttft_s"] = _stream_ttft(llm, messages, 4)[0]
    evals, colds, rates = [], [], []
    for _ in range(repeats):
        llm.reset()
        t = time.perf_counter()
        llm.eval(tokens)
        evals.append(len(tokens) / (time.perf_counter() - t))
        llm.reset()
        ttft, rate = _stream_ttft(llm, messages, new_tokens)
        colds.append(ttft)
        rates.append(rate)
    out |= {"prompt_eval_tps": statistics.median(evals), "cold_ttft_s": statistics.median(colds),
            "decode_tps": statistics.median(rates)}
    convo = [[{"role": "system", "content": persona}, {"role": "user", "content": q}] for q in QUESTIONS]
    other = [{"role": "system", "content": "You summarise conversations."}, {"role": "user", "content": "hello"}]
    out["persona_prompt_tokens"] = len(prefix_mod.prompt_tokens(llm, convo[0]))
    llm.reset()
    out["persona_no_reuse_ttft_s"] = _stream_ttft(llm, convo[0], 4)[0]
    t = time.perf_counter()
    prefix = prefix_mod.prefill(llm, persona)
    out["persona_prefill_s"], out["persona_prefix_tokens"] = time.perf_counter() - t, len(prefix)
    out["persona_after_prefill_ttft_s"] = _stream_ttft(llm, convo[0], 4)[0]
    out["persona_new_conversation_ttft_s"] = _stream_ttft(llm, convo[1], 4)[0]
    _stream_ttft(llm, other, 4)                                  # another prompt takes the cache
    out["persona_evicted_ttft_s"] = _stream_ttft(llm, convo[2], 4)[0]
    _stream_ttft(llm, other, 4)
    t = time.perf_counter()
    prefix_mod.restore(llm, prefix, prefix_mod.prompt_tokens(llm, convo[2]))
    out["persona_restore_s"] = time.perf_counter() - t
    out["persona_evicted_restored_ttft_s"] = out["persona_restore_s"] + _stream_ttft(llm, convo[2], 4)[0]
    llm.close()
    return out


def run_child(gguf: str, threads: int | None, n_ubatch: int, new_tokens: int, repeats: int, persona: str,
              build: Path | None = None) -> dict:
    args = (gguf, threads, n_ubatch, new_tokens, repeats, persona)
    code = f"import json; from selfclone.bench.llama_latency import probe; print(json.dumps(probe(*{args!r})))"
    paths = ([str(build)] if build else []) + [str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _line(name: str, row: dict) -> str:
    return (f"  {name:<22} load {row['load_s']*1000:4.0f} ms (import {row['import_s']*1000:.0f} ms), first request "
            f"{row['first_request_ttft_s']*1000:4.0f} ms, prompt eval {row['prompt_eval_tps']:6.0f} tokens/s, "
            f"cold first token {row['cold_ttft_s']*1000:4.0f} ms, decode {row['decode_tps']:5.1f} tokens/s")


def bench_llama(model: str = typer.Option("smollm2-135m", help="a base model or .gguf file"),
                repeats: int = typer.Option(3), new_tokens: int = typer.Option(64),
                build: Path = typer.Option(None, "--build", help="another llama-cpp-python (a --target folder) to "
                                           "compare with this environment's, same model and prompts"),
                as_json: bool = typer.Option(False, "--json")):
    """Time to first token of llama.cpp, broken down: load, prompt eval, threads, n_ubatch, prefix reuse, build."""
    from ..demo import persona

    console.print(f"machine: {machine.describe()}   load average: {os.getloadavg()[0]:.2f}")
    gguf = models.resolve(model).path
    system = persona()["description"]
    runs: dict[str, list[dict]] = {}
    for _ in range(repeats):            # interleaved, so the machine's load hits every configuration alike
        for name, (threads, ubatch) in CONFIGS.items():
            runs.setdefault(name, []).append(run_child(gguf, threads, ubatch, new_tokens, 1, system))
        if build:
            runs.setdefault("other build", []).append(run_child(gguf, None, 512, new_tokens, 1, system, build))
    rows = {name: {k: (statistics.median(r[k] for r in rs) if isinstance(rs[0][k], float) else rs[0][k])
                   for k in rs[0]} for name, rs in runs.items()}
    result = {"model": model, "repeats": repeats, "machine": machine.describe(), "loadavg": os.getloadavg()[0],
              "rows": rows}
    console.print(f"prompt {rows['default']['prompt_tokens']} tokens; medians of {repeats} fresh processes each")
    for name, row in rows.items():
        console.print(_line(name, row))
    d = rows["default"]
    console.print(f"  persona prompt ({d['persona_prompt_tokens']} tokens, prefix {d['persona_prefix_tokens']}): first "
                  f"token {d['persona_no_reuse_ttft_s']*1000:.0f} ms without reuse; prefill at load "
                  f"{d['persona_prefill_s']*1000:.0f} ms, then {d['persona_after_prefill_ttft_s']*1000:.0f} ms; a new "
                  f"conversation {d['persona_new_conversation_ttft_s']*1000:.0f} ms; after another prompt "
                  f"{d['persona_evicted_ttft_s']*1000:.0f} ms, with restore "
                  f"{d['persona_evicted_restored_ttft_s']*1000:.0f} ms (restore {d['persona_restore_s']*1000:.1f} ms)")
    if build:
        o = rows["other build"]
        result["this_vs_other"] = {k: d[k] / o[k] for k in ("prompt_eval_tps", "decode_tps")} | \
                                  {k: o[k] / d[k] for k in ("cold_ttft_s", "first_request_ttft_s")}
        console.print(f"  this build / {build}: prompt eval {result['this_vs_other']['prompt_eval_tps']:.2f}x, decode "
                      f"{result['this_vs_other']['decode_tps']:.2f}x, cold first token "
                      f"{result['this_vs_other']['cold_ttft_s']:.2f}x faster")
        console.print(f"  this build: {d['system_info']}\n  other build: {o['system_info']}")
    if as_json:
        print(json.dumps(result))
