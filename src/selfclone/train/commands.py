"""`selfclone train`: every method (sft, dpo, reward, rl) through the one registry in train/methods.py.

    selfclone train data.jsonl --validation valid.jsonl
    selfclone train --resume runs/RUNID
    selfclone train --method dpo --from ft:smollm2-135m:maggie:RUNID
"""
from __future__ import annotations

from pathlib import Path

import typer

from ..dataset.preferences import pairs_from_store, ranked_models
from ..errors import DataError, TrainingError
from ..terminal import console, workspace
from .display import print_recipe, run_prepared
from .methods import METHODS, Defaults, TrainRequest, prepare, resume as resume_run
from .preference_runs import model_key
from .recipe import parse_auto
from .rundir import RunDir


def workspace_defaults(ws) -> Defaults:
    return Defaults(ws.config.model, ws.config.name, ws.config.system or None) if ws else Defaults()


def store_pairs(ws, from_: str | None, runs_dir: Path) -> dict:
    """The workspace's rankings as preference pairs (for --method dpo|reward without --preferences)."""
    if ws is None:
        raise DataError("no --preferences file and no workspace to read rankings from",
                        "pass --preferences FILE, or run inside a workspace after `selfclone rank`")
    with ws.store() as store:
        ranked = ranked_models(store)
        if not ranked:
            raise DataError("no rankings in this workspace", "rank some candidates first: `selfclone rank MODEL`")
        own = model_key(from_, runs_dir) if from_ else None
        source = own if own in ranked else (None if from_ else ranked[0])
        pairs = pairs_from_store(store, source)
    return {"pairs": tuple(pairs), "ranked_model": source or ranked[0], "pairs_info": {"rankings_of": source or "all models"}}


def given_with_resume(ctx) -> list[str]:
    """The flags typed next to --resume: a resumed run keeps the settings it was started with."""
    given = [p for p in ctx.command.params if p.name != "resume"
             and getattr(ctx.get_parameter_source(p.name), "name", "") == "COMMANDLINE"]
    return [p.opts[0] if p.opts[0].startswith("-") else p.name.upper() for p in given]


def train_cmd(
    ctx: typer.Context,
    data: Path = typer.Argument(None, help="training data: chat JSONL (or legacy prompt/completion JSONL)"),
    validation: Path = typer.Option(None, "--validation", help="validation JSONL (default: a seeded 10% once >= 50 examples)"),
    model: str = typer.Option(None, help="base model (default: the workspace's, else smollm2-135m)"),
    epochs: str = typer.Option("auto", help="passes over the data; auto: from the data's size (train/recipe.py)"),
    learning_rate_multiplier: str = typer.Option("auto", help="x 2e-4 for LoRA, x 2e-5 for --full; auto: from the steps"),
    batch_size: str = typer.Option("auto", help="examples per step; auto: from the data's size and length"),
    select: str = typer.Option("best", help="best: keep the step of the lowest validation loss; last: the last step"),
    patience: int = typer.Option(None, help="stop after N evaluations without a new best (default 3; 0: never)"),
    packing: bool = typer.Option(False, "--packing", help="pack each step's examples into one row (no padding)"),
    lora_rank: int = typer.Option(16, help="LoRA rank"),
    full: bool = typer.Option(False, "--full", help="full fine-tuning instead of LoRA"),
    suffix: str = typer.Option(None, help="name part of the clone: ft:BASE:SUFFIX:RUNID"),
    out: Path = typer.Option(None, help="run directory (default: runs/RUNID in the workspace or here)"),
    merge: bool = typer.Option(False, help="also save a standalone merged model in RUN_DIR/model"),
    resume: Path = typer.Option(None, help="continue an interrupted run directory"),
    precision: str = typer.Option("auto", help="auto, fp32 or bf16"),
    max_length: int = typer.Option(1024, help="longest example, in tokens"),
    max_steps: int = typer.Option(None, help="stop after this many steps"),
    seed: int = typer.Option(42),
    report_to: list[str] = typer.Option(["tensorboard"], help="tensorboard, wandb, mlflow or none (repeatable)"),
    method: str = typer.Option("sft", help=f"{', '.join(METHODS)}"),
    preferences: Path = typer.Option(None, help="preference pairs (dpo, reward)"),
    from_: str = typer.Option(None, "--from", help="the run or model to start from (dpo, rl)"),
    reward: Path = typer.Option(None, help="reward model run (rl)"),
    beta: float = typer.Option(None, help="dpo, rl: how far from the supervised model it may move (0.1, 0.05)"),
    continue_from: str = typer.Option(None, "--continue", help="train a LoRA clone further on DATA, replaying its own data"),
    replay: float = typer.Option(1.0, help="--continue: earlier examples replayed per new one"),
):
    """Fine-tune a clone on your data; `--resume RUN_DIR` continues after Ctrl-C or a crash."""
    ws = workspace(required=False)
    runs_dir = ws.runs_dir if ws else Path("runs")
    if resume is not None and given_with_resume(ctx):
        raise TrainingError(f"--resume continues {resume} with the settings it was started with; "
                            f"these were given too: {', '.join(given_with_resume(ctx))}",
                            "leave them out to resume, or start a new run with them (without --resume)")
    if resume is not None and method == "sft":
        return run_prepared(resume_run(RunDir(resume), runs_dir), "sft")
    request = TrainRequest(method=method, data=data, validation=validation, model=model,
                           epochs=parse_auto(epochs, int, "--epochs"), batch_size=parse_auto(batch_size, int, "--batch-size"),
                           learning_rate_multiplier=parse_auto(learning_rate_multiplier, float, "--learning-rate-multiplier"),
                           select=select, patience=patience, packing=packing,
                           lora_rank=lora_rank, full=full, suffix=suffix, out=out, merge=merge, precision=precision,
                           max_length=max_length, max_steps=max_steps, seed=seed, report_to=tuple(report_to),
                           preferences=preferences, from_=from_, reward=reward, beta=beta,
                           continue_from=continue_from, replay=replay)
    if method in ("dpo", "reward") and preferences is None or method == "rl" and data is None and preferences is None:
        from dataclasses import replace

        request = replace(request, **store_pairs(ws, from_, runs_dir))
    prepared = prepare(request, runs_dir, workspace_defaults(ws))
    console.print(f"run directory: {prepared.run.path}  ({prepared.description})")
    print_recipe(prepared.run)
    run_prepared(prepared, method)


def register_commands(app):
    app.command("train")(train_cmd)
