"""`selfclone bench recall`: does the clone answer with facts from its notes? And how fast is the index?

Fact recall: the probe persona (resources/recall/probe.toml, a fictional clockmaker with 25 invented facts spread
over six notes among distracting text) is indexed through the real path (`add_notes`: splitter, MiniLM,
sqlite-vec, FTS5); each question goes through a ChatSession with and without the retriever, greedy. A reply
counts when it contains the fact; with retrieval it is asked twice in the same run, without and with the copy bias
(GenerationOptions.copy_bias), and each figure is also given on the tuning half (the even-numbered questions, the
ones the bias was tuned on) and the held-out half (the odd ones). Retrieval precision (the fact among the k passages)
is reported for vectors alone and for the hybrid. With `--drill N` (default 200) a clone trained on N notes-drill
examples (persona/drill.py: invented facts, none of the probe's) answers the probe with retrieval too. Scale (bench/recall_scale.py): indexing speed, and retrieval latency per message (query
embedding included) on an index of `--scale` passages, against sqlite-vec float KNN, numpy and LanceDB.

    selfclone bench recall                          # embedded model, k=1, scale 100,000
    selfclone bench recall --scale 20000 --index-messages 1000 --json
    selfclone bench recall --scale 0 --copy-bias 3 --json       # the probe only, another bias
    selfclone bench recall --scale 0 --drill 0                  # without the drilled clone (3 min less)
"""
from __future__ import annotations

import json
import tempfile
import time
import tomllib
from dataclasses import replace
from importlib import resources
from pathlib import Path

import typer

from .. import machine
from ..backends.registry import DEFAULT as DEFAULT_BACKEND, open_backend
from ..config import GenerationOptions
from ..persona.index import NotesIndex
from ..persona.retrieval import Retriever, add_notes, notes_path
from ..persona.session import ChatSession
from ..terminal import console
from .recall_scale import DEFAULT_DIR, scale

COPY_BIAS = 4.0     # the best copy bias on the tuning half (docs/BENCHMARKS.md, issue #13); chat's default stays 0


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


def halves(rows: list[dict]) -> tuple[float, float]:
    """The share answered on the tuning half (even-numbered questions) and on the held-out half (odd)."""
    share = lambda part: sum(r["ok"] for r in part) / len(part)      # noqa: E731
    return share(rows[0::2]), share(rows[1::2])


def recall(backend, probe: dict, retriever: Retriever | None, options: GenerationOptions) -> tuple[float, list[dict]]:
    """Share of questions answered with the fact, and each reply."""
    rows = []
    for q in probe["questions"]:
        session = ChatSession(backend, options, context=probe["context"], memory=0, retriever=retriever)
        reply = "".join(session.send(q["q"])).strip()
        rows.append({"q": q["q"], "reply": reply, "ok": answered(reply, q["answers"]),
                     "retrieved": answered(" ".join(session.last_passages), q["answers"]) if retriever else None})
    return sum(r["ok"] for r in rows) / len(rows), rows


def fact_sentence(probe: dict, answers: list[str]) -> str:
    """The sentence of the probe's notes that holds one of `answers` (the fact, as the person wrote it)."""
    import re

    text = " ".join(re.sub(r"<[^>]+>|^#.*$", " ", n["text"], flags=re.M) for n in probe["notes"])
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    return next(s for a in answers for s in sentences if answered(s, [a]))      # the first answer first: 11 in 1911


def trained_recall(probe: dict, root: Path, model: str, steps: int, options: GenerationOptions) -> dict:
    """The facts only in the training data: a short LoRA on each question answered with its fact sentence, then
    the same questions without retrieval. (It measures memorised facts: the questions are the trained prompts.)"""
    from ..dataset.chat import Example, write_examples
    from ..train import methods

    data = root / "facts.jsonl"
    write_examples(data, [Example.chat(("user", q["q"]), ("assistant", fact_sentence(probe, q["answers"])),
                                       system=probe["context"]) for q in probe["questions"]])
    request = methods.TrainRequest(data=data, validation=data, model=model, max_steps=steps, batch_size=5,
                                   report_to=("none",), out=root / "facts-run", patience=0, select="last")
    prepared = methods.prepare(request, root)
    start = time.perf_counter()
    prepared.train()
    seconds = time.perf_counter() - start
    clone = open_backend(prepared.run.info()["name"], "transformers", workspace_runs=root)
    share, rows = recall(clone, probe, None, options)
    return {"recall_trained": share, "trained_steps": steps, "train_s": seconds, "trained_rows": rows}


def drilled_recall(probe: dict, root: Path, model: str, backend: str, retriever: Retriever, count: int,
                   options: GenerationOptions) -> dict:
    """A clone trained on the notes drill only (persona/drill.py: invented facts that share nothing with the
    probe), with the default recipe, then the probe's questions with retrieval: did it learn to read its notes?"""
    from ..dataset.chat import write_examples
    from ..persona.drill import drill
    from ..train import methods

    write_examples(root / "drill.jsonl", drill(count, seed=1))
    write_examples(root / "drill-valid.jsonl", drill(max(16, count // 5), seed=2))
    request = methods.TrainRequest(data=root / "drill.jsonl", validation=root / "drill-valid.jsonl", model=model,
                                   report_to=("none",), out=root / "drill-run")
    prepared = methods.prepare(request, root)
    start = time.perf_counter()
    with console.status(f"training a clone on {count} drill examples ..."):
        prepared.train()
    seconds = time.perf_counter() - start
    clone = open_backend(prepared.run.info()["name"], backend, workspace_runs=root)
    share, rows = recall(clone, probe, retriever, options)
    tuning, heldout = halves(rows)
    return {"recall_drilled": share, "recall_drilled_tuning": tuning, "recall_drilled_heldout": heldout,
            "drill_examples": count, "drill_train_s": seconds, "drilled_rows": rows}


def bench_recall(model: str = typer.Option("smollm2-135m"), backend: str = typer.Option(DEFAULT_BACKEND),
                 k: int = typer.Option(1, help="passages retrieved"),
                 copy_bias: float = typer.Option(COPY_BIAS, help="the copy bias of the second run with retrieval "
                                                 "(the first has none)"),
                 max_tokens: int = typer.Option(32),
                 scale_size: int = typer.Option(100_000, "--scale", help="passages in the index for the latency test; 0 skips"),
                 index_messages: int = typer.Option(2000, help="synthetic messages really embedded to time indexing"),
                 scale_dir: Path = typer.Option(DEFAULT_DIR, help="where the scale index is built once and kept"),
                 trained_steps: int = typer.Option(0, help="also train a LoRA this many steps on the facts as Q/A "
                                                   "and ask without retrieval (0 skips)"),
                 drill: int = typer.Option(200, help="also train a clone on this many notes-drill examples and ask "
                                           "with retrieval (0 skips)"),
                 probe_recall: bool = typer.Option(True, "--recall/--no-recall", help="the probe's fact recall (the "
                                                   "model); --no-recall measures the scale index only"),
                 as_json: bool = typer.Option(False, "--json")):
    """Fact recall with and without retrieval on the probe persona; retrieval latency and indexing speed."""
    console.print(f"machine: {machine.describe()}")
    probe = load_probe()
    result = {"model": model, "k": k, "questions": len(probe["questions"])}
    with tempfile.TemporaryDirectory(prefix="selfclone-recall-") as tmp:
        if probe_recall:
            result |= probe_figures(Path(tmp), probe, model, backend, k, max_tokens, trained_steps, copy_bias, drill)
        if scale_size:
            result |= scale(scale_size, min(index_messages, scale_size), scale_dir)
    result["machine"] = machine.describe()
    if probe_recall:
        print_probe(result, model, k, trained_steps)
    if scale_size:
        print_scale(result)
    if as_json:
        print(json.dumps({key: value for key, value in result.items() if not key.endswith("rows")}))


def probe_figures(root: Path, probe: dict, model: str, backend: str, k: int, max_tokens: int,
                  trained_steps: int, copy_bias: float = COPY_BIAS, drill: int = 0) -> dict:
    """Retrieval precision, and fact recall with retrieval (without and with the copy bias), without, and
    (trained_steps) with the facts trained."""
    result = {}
    start = time.perf_counter()
    path = index_probe(root, probe)
    result["probe_index_s"] = time.perf_counter() - start
    hybrid, vector = Retriever(path, k, True), Retriever(path, k, False)
    result["precision_hybrid"] = precision(hybrid, probe["questions"])
    result["precision_vector"] = precision(vector, probe["questions"])
    result["precision_hybrid_k1"] = precision(Retriever(path, 1, True), probe["questions"])
    engine = open_backend(model, backend)
    result["backend"] = getattr(engine, "name", backend)      # what auto chose on this machine
    options = GenerationOptions(max_tokens=max_tokens, temperature=0.0, frequency_penalty=0.0, seed=0, copy_bias=0.0)
    retriever = hybrid if result["precision_hybrid"] >= result["precision_vector"] else vector
    result["recall_without"], result["without_rows"] = recall(engine, probe, None, options)
    result["recall_with"], result["with_rows"] = recall(engine, probe, retriever, options)
    result["copy_bias"] = copy_bias
    result["recall_with_copy"], result["copy_rows"] = recall(engine, probe, retriever,
                                                             replace(options, copy_bias=copy_bias))
    for name in ("with", "copy"):
        key = "recall_with" if name == "with" else "recall_with_copy"
        result[key + "_tuning"], result[key + "_heldout"] = halves(result[name + "_rows"])
    if trained_steps:
        result |= trained_recall(probe, root, model, trained_steps, options)
    if drill:
        result |= drilled_recall(probe, root, model, backend, retriever, drill, options)
    return result


def print_probe(result: dict, model: str, k: int, trained_steps: int) -> None:
    for row in result.get("drilled_rows", []):
        console.print(f"[dim]{row['q']}[/] drilled clone: {row['reply'][:90]!r} {'ok' if row['ok'] else '-'}")
    for a, b, c in zip(result["without_rows"], result["with_rows"], result["copy_rows"]):
        console.print(f"[dim]{a['q']}[/]\n  without: {a['reply'][:90]!r} {'ok' if a['ok'] else '-'}\n"
                      f"  with   : {b['reply'][:90]!r} {'ok' if b['ok'] else '-'}\n"
                      f"  + copy : {c['reply'][:90]!r} {'ok' if c['ok'] else '-'}")
    console.print(f"retrieval precision (fact among {k} passages): hybrid {result['precision_hybrid']:.0%}, "
                  f"vectors only {result['precision_vector']:.0%}; hybrid k=1 {result['precision_hybrid_k1']:.0%}")
    console.print(f"fact recall on {model}: with retrieval {result['recall_with']:.0%}, "
                  f"without (baseline) {result['recall_without']:.0%}"
                  + (f", facts only in the training data ({trained_steps} LoRA steps, {result['train_s']:.0f} s) "
                     f"{result['recall_trained']:.0%}" if trained_steps else ""))
    console.print(f"with retrieval and copy bias {result['copy_bias']:g}: {result['recall_with_copy']:.0%} "
                  f"(tuning half {result['recall_with_copy_tuning']:.0%}, held-out half "
                  f"{result['recall_with_copy_heldout']:.0%}); without the bias: {result['recall_with']:.0%} "
                  f"(tuning {result['recall_with_tuning']:.0%}, held-out {result['recall_with_heldout']:.0%})")
    if "recall_drilled" in result:
        console.print(f"a clone trained on {result['drill_examples']} notes-drill examples (invented facts, none of "
                      f"the probe's; {result['drill_train_s']:.0f} s), with retrieval: {result['recall_drilled']:.0%} "
                      f"(tuning half {result['recall_drilled_tuning']:.0%}, held-out half "
                      f"{result['recall_drilled_heldout']:.0%}) against the base model's {result['recall_with']:.0%}")


def print_scale(result: dict) -> None:
    console.print(f"index of {result['passages']} passages: retrieval {result['latency_ms_hybrid']:.1f} ms/message "
                  f"hybrid (embedding {result['latency_ms_embed']:.1f}, vectors {result['latency_ms_vectors']:.1f}, "
                  f"BM25 {result['latency_ms_bm25']:.1f}); vector search baselines: sqlite-vec vec0 float "
                  f"{result['latency_ms_vec0_float']:.1f} ms, numpy exact {result['latency_ms_numpy_exact']:.1f} ms"
                  + (f", LanceDB flat {result['latency_ms_lancedb_flat']:.1f} ms" if "latency_ms_lancedb_flat"
                     in result else f" ({result['lancedb']})"))
    console.print(f"recall@10 against exact neighbours: binary codes + rescoring "
                  f"{result['recall_at_10_binary_rescored']:.1%}"
                  + (f", LanceDB flat {result['recall_at_10_lancedb_flat']:.1%}" if "recall_at_10_lancedb_flat"
                     in result else ""))
    console.print(f"indexing: {result['embed_msgs_per_s']:.0f} messages/s embedded ({result['embedded_messages']} "
                  f"real), {result['insert_rows_per_s']:.0f} rows/s inserted; 100,000 messages: "
                  f"{result['index_100k_min']:.1f} min" + (" (index reused: its insert rate is from the run that "
                                                           "built it)" if result["index_reused"] else ""))
