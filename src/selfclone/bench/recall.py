"""`selfclone bench recall`: does the clone answer with facts from its notes? And how fast is the index?

Fact recall: the probe persona (resources/recall/probe.toml, a fictional clockmaker with 25 invented facts spread
over six notes among distracting text) is indexed through the real path (`add_notes`: splitter, MiniLM,
sqlite-vec, FTS5); each question goes through a ChatSession with and without the retriever, greedy. A reply
counts when it contains the fact. Retrieval precision (the fact among the k passages) is reported for vectors
alone and for the hybrid. Scale: indexing speed on N real synthetic messages (embedding included), and retrieval
latency per message (query embedding included) with the index filled to `--scale` passages, against a numpy
brute-force search over the same vectors in the same run.

    selfclone bench recall                          # embedded model, k=1, scale 100,000
    selfclone bench recall --scale 20000 --index-messages 1000 --json
"""
from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
import tomllib
from importlib import resources
from pathlib import Path

import typer

from .. import machine
from ..backends.registry import DEFAULT as DEFAULT_BACKEND, open_backend
from ..config import GenerationOptions
from ..embedding import embed
from ..persona.index import NotesIndex
from ..persona.retrieval import Retriever, add_notes, notes_path
from ..persona.session import ChatSession
from ..terminal import console


def load_probe() -> dict:
    return tomllib.loads(resources.files("selfclone").joinpath("resources/recall/probe.toml").read_text("utf-8"))


def index_probe(root: Path, probe: dict) -> Path:
    """Write the probe's notes under root/notes and index them through `add_notes`; returns the index path."""
    folder = root / "notes"
    folder.mkdir(parents=True, exist_ok=True)
    for note in probe["notes"]:
        (folder / note["file"]).write_text(note["text"].strip() + "\n", encoding="utf-8")
    with NotesIndex(notes_path(root)) as index:
        add_notes(index, [folder])
    return notes_path(root)


def answered(reply: str, answers: list[str]) -> bool:
    return any(a.casefold() in reply.casefold() for a in answers)


def precision(retriever: Retriever, questions: list[dict]) -> float:
    """Share of questions whose fact is among the retrieved passages."""
    hits = [answered(" ".join(retriever.passages_for(q["q"])), q["answers"]) for q in questions]
    return sum(hits) / len(hits)


def recall(backend, probe: dict, retriever: Retriever | None, options: GenerationOptions) -> tuple[float, list[dict]]:
    """Share of questions answered with the fact, and each reply."""
    rows = []
    for q in probe["questions"]:
        session = ChatSession(backend, options, context=probe["context"], memory=0, retriever=retriever)
        reply = "".join(session.send(q["q"])).strip()
        rows.append({"q": q["q"], "reply": reply, "ok": answered(reply, q["answers"]),
                     "retrieved": answered(" ".join(session.last_passages), q["answers"]) if retriever else None})
    return sum(r["ok"] for r in rows) / len(rows), rows


_WORDS = ("tide harbour bees kettle dial spring gear bench supper rain ferry lantern garden heather cliff boat "
          "letter market bread wool clock hinge chapel storm gull pier orchard loom anchor lamp violin").split()


def synthetic_messages(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 18))) + rng.choice(".?!") for _ in range(n)]


def scale(root: Path, n_embed: int, total: int, queries: int = 30) -> dict:
    """Indexing speed on n_embed real messages; latency per query at `total` passages, against numpy brute force."""
    import numpy as np

    texts = synthetic_messages(n_embed)
    start = time.perf_counter()
    vectors = embed(texts)
    embed_s = time.perf_counter() - start
    path = root / "scale.db"
    fill = synthetic_messages(total, seed=1)
    rng = np.random.default_rng(0)
    # beyond the embedded ones: the real vectors again with small noise, renormalised (only latency is measured)
    pool = vectors[np.arange(total) % n_embed] + rng.normal(0, 0.02, (total, vectors.shape[1])).astype("float32")
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    with NotesIndex(path) as index:
        start = time.perf_counter()
        offsets = iter(range(total))
        index.add("messages/synthetic/all", "messages", "1", 0, iter(fill),
                  lambda batch: pool[[next(offsets) for _ in batch]], batch=1024)
        insert_s = time.perf_counter() - start
    retriever = Retriever(path, k=3, hybrid=True)
    vector_only = Retriever(path, k=3, hybrid=False)
    asks = synthetic_messages(queries, seed=2)
    retriever.passages_for(asks[0])                      # warm: open the index, load the model
    timed = {}
    for name, search in (("hybrid", retriever.passages_for), ("vector", vector_only.passages_for),
                         ("numpy", lambda q: np.argsort(-(pool @ embed([q])[0]))[:3])):
        laps = []
        for q in asks:
            start = time.perf_counter()
            search(q)
            laps.append(time.perf_counter() - start)
        timed[name] = statistics.median(laps) * 1000
    per_message_s = (embed_s + insert_s * n_embed / total) / n_embed
    return {"passages": total, "embedded_messages": n_embed, "embed_msgs_per_s": n_embed / embed_s,
            "insert_rows_per_s": total / insert_s, "index_100k_min_extrapolated": per_message_s * 100_000 / 60,
            "latency_ms_hybrid": timed["hybrid"], "latency_ms_vector": timed["vector"],
            "latency_ms_numpy_bruteforce": timed["numpy"]}


def bench_recall(model: str = typer.Option("smollm2-135m"), backend: str = typer.Option(DEFAULT_BACKEND),
                 k: int = typer.Option(1, help="passages retrieved"),
                 max_tokens: int = typer.Option(32),
                 scale_size: int = typer.Option(100_000, "--scale", help="passages in the index for the latency test; 0 skips"),
                 index_messages: int = typer.Option(2000, help="synthetic messages really embedded to time indexing"),
                 as_json: bool = typer.Option(False, "--json")):
    """Fact recall with and without retrieval on the probe persona; retrieval latency and indexing speed."""
    console.print(f"machine: {machine.describe()}")
    probe = load_probe()
    result = {"model": model, "k": k, "questions": len(probe["questions"])}
    with tempfile.TemporaryDirectory(prefix="selfclone-recall-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        path = index_probe(root, probe)
        result["probe_index_s"] = time.perf_counter() - start
        hybrid, vector = Retriever(path, k, True), Retriever(path, k, False)
        result["precision_hybrid"] = precision(hybrid, probe["questions"])
        result["precision_vector"] = precision(vector, probe["questions"])
        result["precision_hybrid_k1"] = precision(Retriever(path, 1, True), probe["questions"])
        engine = open_backend(model, backend)
        result["backend"] = getattr(engine, "name", backend)      # what auto chose on this machine
        options = GenerationOptions(max_tokens=max_tokens, temperature=0.0, frequency_penalty=0.0, seed=0)
        result["recall_without"], without = recall(engine, probe, None, options)
        result["recall_with"], with_ = recall(engine, probe, hybrid if result["precision_hybrid"] >=
                                              result["precision_vector"] else vector, options)
        if scale_size:
            result |= scale(root, min(index_messages, scale_size), scale_size)
    result["machine"] = machine.describe()
    for a, b in zip(without, with_):
        console.print(f"[dim]{a['q']}[/]\n  without: {a['reply'][:90]!r} {'ok' if a['ok'] else '-'}\n"
                      f"  with   : {b['reply'][:90]!r} {'ok' if b['ok'] else '-'}")
    console.print(f"retrieval precision (fact among {k} passages): hybrid {result['precision_hybrid']:.0%}, "
                  f"vectors only {result['precision_vector']:.0%}; hybrid k=1 {result['precision_hybrid_k1']:.0%}")
    console.print(f"fact recall on {model}: with retrieval {result['recall_with']:.0%}, "
                  f"without (baseline) {result['recall_without']:.0%}")
    if scale_size:
        console.print(f"index of {result['passages']} passages: retrieval {result['latency_ms_hybrid']:.1f} ms/message "
                      f"hybrid, {result['latency_ms_vector']:.1f} ms vectors only, numpy brute force "
                      f"{result['latency_ms_numpy_bruteforce']:.1f} ms (query embedding included in all)")
        console.print(f"indexing: {result['embed_msgs_per_s']:.0f} messages/s embedded ({result['embedded_messages']} "
                      f"real), {result['insert_rows_per_s']:.0f} rows/s inserted; 100,000 messages: "
                      f"{result['index_100k_min_extrapolated']:.1f} min (extrapolated)")
    if as_json:
        print(json.dumps(result))
