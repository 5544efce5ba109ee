"""`selfclone bench serve`: the OpenAI API under 1, 4, 8, 16 concurrent official-SDK clients against the same
requests sent one after another (the baseline, same run): aggregate completion tokens/s, p50/p95 time to first
token and latency, and the server's own overhead per request (API latency minus the same generation in-process).

    selfclone bench serve --levels 1,4,8 --max-tokens 16
"""
from __future__ import annotations

import contextlib
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import typer

from .. import machine
from ..config import GenerationOptions, ServeSettings
from ..serve.api.app import create_app
from ..serve.api.model_pool import ModelPool
from ..serve.background import background_server
from ..terminal import console

QUESTIONS = ["how do you take your tea?", "what do the bees do in winter?", "tell me about the lighthouse",
             "what's the weather like at sea?"]


@contextlib.contextmanager
def _server(app):
    with background_server(app) as url:
        yield url + "/v1"


def _one(client, model: str, i: int, max_tokens: int) -> dict:
    start = time.perf_counter()
    first, tokens = None, 0
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}], max_tokens=max_tokens,
        temperature=0, stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - start
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    return {"ttft": first or 0.0, "latency": time.perf_counter() - start, "tokens": tokens}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _run(client, model: str, clients: int, requests: int, max_tokens: int) -> dict:
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        rows = list(pool.map(lambda i: _one(client, model, i, max_tokens), range(requests)))
    wall = time.perf_counter() - start
    return {"clients": clients, "requests": requests, "tokens_per_s": sum(r["tokens"] for r in rows) / wall,
            "ttft_p50": _pct([r["ttft"] for r in rows], .5), "ttft_p95": _pct([r["ttft"] for r in rows], .95),
            "latency_p50": _pct([r["latency"] for r in rows], .5),
            "latency_p95": _pct([r["latency"] for r in rows], .95)}


def bench_serve(model: str = typer.Option("smollm2-135m", help="model to serve"),
                levels: str = typer.Option("1,4,8,16", help="concurrent clients, comma-separated"),
                max_tokens: int = typer.Option(32, help="tokens per reply"),
                requests: int = typer.Option(0, help="requests per level (default: 2 x clients, at least 4)")):
    """Concurrent OpenAI-SDK clients against the API vs the same requests one after another."""
    import openai

    console.print(machine.describe())
    pool = ModelPool(ServeSettings(), served=(model,))
    loaded = pool.get(model)
    with _server(create_app(pool, generation=GenerationOptions(max_tokens=max_tokens))) as url:
        client = openai.OpenAI(base_url=url, api_key="bench", max_retries=0)
        _one(client, model, 0, 4)                                   # warm-up
        direct, api = [], []
        for i in range(4):                                          # overhead: same request, in-process vs API
            messages = [{"role": "user", "content": QUESTIONS[i]}]
            start = time.perf_counter()
            "".join(loaded.backend.chat(messages, GenerationOptions(max_tokens=max_tokens, temperature=0)))
            direct.append(time.perf_counter() - start)
            api.append(_one(client, model, i, max_tokens)["latency"])
        overhead = statistics.mean(api) - statistics.mean(direct)
        rows = []
        for clients in (int(x) for x in levels.split(",")):
            n = requests or max(4, 2 * clients)
            baseline = _run(client, model, 1, n, max_tokens)        # the same requests, sequentially
            row = _run(client, model, clients, n, max_tokens)
            rows.append((row, baseline))
    console.print(f"server overhead per request: {overhead * 1000:.0f} ms "
                  f"(API {statistics.mean(api):.2f} s vs in-process {statistics.mean(direct):.2f} s, {max_tokens} tokens)")
    console.print("clients  requests  tok/s  (sequential)  ratio  ttft p50/p95 s  latency p50/p95 s")
    for row, base in rows:
        console.print(f"{row['clients']:>7}  {row['requests']:>8}  {row['tokens_per_s']:5.1f}  "
                      f"({base['tokens_per_s']:5.1f})      {row['tokens_per_s'] / base['tokens_per_s']:4.2f}x  "
                      f"{row['ttft_p50']:.2f}/{row['ttft_p95']:.2f}      {row['latency_p50']:.2f}/{row['latency_p95']:.2f}")
