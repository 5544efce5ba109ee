"""`selfclone bench serve`: the OpenAI API under 1, 4, 8, 16 concurrent official-SDK clients against the same
requests sent one after another (the baseline, same run; every client is its own process, as the programs that
talk to a server are): aggregate completion tokens/s, p50/p95 time to first
token and latency, and the server's own overhead per request (API latency minus the same generation in-process).
With --while-training it then starts a real fine-tuning job (the job queue and its worker process, as `serve api`
runs them) and measures chat latency while it trains against the same requests without it.

    selfclone bench serve --levels 1,4,8,16 --max-tokens 32
    selfclone bench serve --levels 1 --while-training
"""
from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

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


_client = None          # a client process's own OpenAI client (made by _connect)


def _connect(url: str, nice: int = 0) -> None:
    import openai

    global _client
    if nice:
        os.nice(nice)       # --client-nice: clients that yield the cores, as clients on other machines would
    _client = openai.OpenAI(base_url=url, api_key="bench", max_retries=0, timeout=600)


def _ready(delay: float) -> int:
    time.sleep(delay)       # holds its process, so each of the pool's processes starts and takes one
    return os.getpid()


def _remote_one(model: str, i: int, max_tokens: int) -> dict:
    return _one(_client, model, i, max_tokens)


def _run(url: str, model: str, clients: int, requests: int, max_tokens: int, nice: int = 0) -> dict:
    """`requests` requests from `clients` client processes (as separate programs talk to a server: the clients'
    parsing shares the cores but not the server's interpreter), each with its own SDK client and connection."""
    import multiprocessing

    with ProcessPoolExecutor(clients, mp_context=multiprocessing.get_context("spawn"), initializer=_connect,
                             initargs=(url, nice)) as pool:
        started: set[int] = set()
        while len(started) < clients:                          # every client process up, before the clock
            started |= set(pool.map(_ready, [0.2] * clients))
        start = time.perf_counter()
        rows = list(pool.map(_remote_one, [model] * requests, range(requests), [max_tokens] * requests))
        wall = time.perf_counter() - start
    return {"clients": clients, "requests": requests, "tokens_per_s": sum(r["tokens"] for r in rows) / wall,
            "ttft_p50": _pct([r["ttft"] for r in rows], .5), "ttft_p95": _pct([r["ttft"] for r in rows], .95),
            "latency_p50": _pct([r["latency"] for r in rows], .5),
            "latency_p95": _pct([r["latency"] for r in rows], .95)}


def _training_job(root: Path, model: str, examples: int):
    """A workspace with one queued fine-tuning job and its worker process (`selfclone jobs worker`)."""
    from .. import jobs
    from ..store import Store
    from ..workspace import Workspace

    ws = Workspace.init(root / "ws", person="bench")
    data = ws.root / "bench.jsonl"
    data.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": QUESTIONS[i % len(QUESTIONS)] + f" ({i})"},
        {"role": "assistant", "content": f"Honestly, it depends on the day; number {i} was a good one."}]}) + "\n"
        for i in range(examples)), encoding="utf-8")
    with Store(ws.store_path) as store:
        job = jobs.create(store, model=model, training_file=str(data), hyperparameters={"n_epochs": 1})
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    worker = subprocess.Popen([sys.executable, "-m", "selfclone", "jobs", "worker"], cwd=ws.root, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return ws, job["id"], worker


def _wait_for_training(ws, job_id: str, worker, timeout: float) -> bool:
    """True once the job has logged its first training step (the model is loaded and the trainer is stepping)."""
    from .. import jobs
    from ..store import Store

    deadline = time.time() + timeout
    while time.time() < deadline and worker.poll() is None:
        with Store(ws.store_path) as store:
            events, _ = jobs.events(store, job_id, limit=100)
            if any(e.get("type") == "metrics" for e in events) or jobs.get(store, job_id)["status"] in jobs.FINISHED:
                return jobs.get(store, job_id)["status"] == "running"
        time.sleep(1)
    return False


def while_training(url: str, model: str, clients: int, requests: int, max_tokens: int, wait: float) -> dict:
    """Chat latency without and during a fine-tuning job of the same base model, measured back to back."""
    from .. import jobs
    from ..store import Store

    quiet = _run(url, model, clients, requests, max_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        ws, job_id, worker = _training_job(Path(tmp), "smollm2-135m", examples=400)
        try:
            if not _wait_for_training(ws, job_id, worker, wait):
                return {"quiet": quiet, "training": None}
            busy = _run(url, model, clients, requests, max_tokens)
            with Store(ws.store_path) as store:
                still = jobs.get(store, job_id)["status"] == "running"
                if still:
                    jobs.cancel(store, job_id)
        finally:
            worker.terminate()
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
    return {"quiet": quiet, "training": busy if still else None}


def engine_ceiling(backend, sizes=(1, 4, 8, 16), tokens: int = 32) -> list[tuple[int, float]]:
    """Tokens/s of the llama.cpp engine alone (no HTTP) decoding 1, 4, 8... greedy replies together: the most the
    server can reach at each level. The prompt is decoded once first, so every size measures decode steps."""
    from ..backends.sampling import Sampler

    engine = backend.engine
    prompt = backend.prompt_ids([{"role": "user", "content": QUESTIONS[0]}])
    options = GenerationOptions(max_tokens=tokens, temperature=0, frequency_penalty=0)
    list(engine.submit(prompt, Sampler(options), 1).tokens())                  # caches the prompt
    out = []
    for size in sizes:
        if size > engine.slots:
            continue
        start = time.perf_counter()
        seqs = [engine.submit(prompt, Sampler(options), tokens) for _ in range(size)]
        produced = sum(len(list(seq.tokens())) for seq in seqs)
        out.append((size, produced / (time.perf_counter() - start)))
    return out


def bench_serve(model: str = typer.Option("smollm2-135m", help="model to serve"),
                levels: str = typer.Option("1,4,8,16", help="concurrent clients, comma-separated"),
                max_tokens: int = typer.Option(32, help="tokens per reply"),
                requests: int = typer.Option(0, help="requests per level (default: 2 x clients, at least 4)"),
                backend: str = typer.Option("auto", help="auto, llamacpp or transformers"),
                option: list[str] = typer.Option(None, "-o", "--option", help="backend option key=value"),
                training: bool = typer.Option(False, "--while-training/--no-training",
                                              help="also measure chat latency while a fine-tuning job runs"),
                training_clients: int = typer.Option(1, help="concurrent clients for the while-training figures"),
                training_wait: float = typer.Option(300, help="seconds to wait for the job's first step"),
                client_nice: int = typer.Option(0, min=0, max=19, help="niceness of the client processes (19: they "
                                                "yield the 2 cores to the server, as remote clients would)")):
    """Concurrent OpenAI-SDK clients against the API vs the same requests one after another."""
    import openai

    console.print(machine.describe())
    console.print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
                  + (f"; client processes at nice {client_nice}" if client_nice else ""))
    pool = ModelPool(ServeSettings(), backend=backend, backend_options=option or None, served=(model,))
    loaded = pool.get(model)
    console.print(f"backend: {loaded.backend.name} {dict(getattr(loaded.backend, 'options', None) or {})}")
    if hasattr(loaded.backend, "engine"):
        ceiling = engine_ceiling(loaded.backend, tokens=max_tokens)
        base = ceiling[0][1]
        console.print("engine alone (no HTTP), replies decoded together: " + ", ".join(
            f"{size}: {rate:.1f} tok/s ({rate / base:.2f}x)" for size, rate in ceiling))
    trained = None
    with _server(create_app(pool, generation=GenerationOptions(max_tokens=max_tokens))) as url:
        client = openai.OpenAI(base_url=url, api_key="bench", max_retries=0, timeout=600)
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
        for clients in (int(x) for x in levels.split(",") if x.strip()):
            n = requests or max(4, 2 * clients)
            baseline = _run(url, model, 1, n, max_tokens, client_nice)      # the same requests, sequentially
            row = _run(url, model, clients, n, max_tokens, client_nice)
            rows.append((row, baseline))
        if training:
            trained = while_training(url, model, training_clients, requests or 8, max_tokens, training_wait)
    console.print(f"server overhead per request: {overhead * 1000:.0f} ms "
                  f"(API {statistics.mean(api):.2f} s vs in-process {statistics.mean(direct):.2f} s, {max_tokens} tokens)")
    console.print("clients  requests  tok/s  (sequential)  ratio  ttft p50/p95 s  latency p50/p95 s")
    for row, base in rows:
        console.print(f"{row['clients']:>7}  {row['requests']:>8}  {row['tokens_per_s']:5.1f}  "
                      f"({base['tokens_per_s']:5.1f})      {row['tokens_per_s'] / base['tokens_per_s']:4.2f}x  "
                      f"{row['ttft_p50']:.2f}/{row['ttft_p95']:.2f}      {row['latency_p50']:.2f}/{row['latency_p95']:.2f}")
    if trained is not None:
        quiet, busy = trained["quiet"], trained["training"]
        console.print(f"chat while a fine-tuning job trains ({training_clients} client(s), {quiet['requests']} requests):")
        console.print(f"  without a job: latency p50/p95 {quiet['latency_p50']:.2f}/{quiet['latency_p95']:.2f} s, "
                      f"ttft p50/p95 {quiet['ttft_p50']:.2f}/{quiet['ttft_p95']:.2f} s, {quiet['tokens_per_s']:.1f} tok/s")
        if busy is None:
            console.print("  the job did not reach its first training step in time: no figure")
        else:
            console.print(f"  while training: latency p50/p95 {busy['latency_p50']:.2f}/{busy['latency_p95']:.2f} s, "
                          f"ttft p50/p95 {busy['ttft_p50']:.2f}/{busy['ttft_p95']:.2f} s, {busy['tokens_per_s']:.1f} tok/s "
                          f"({busy['latency_p50'] / quiet['latency_p50']:.2f}x the p50 latency)")
    console.print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
