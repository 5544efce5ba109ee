"""`selfclone train`: every method (sft, dpo, reward, rl) through the one registry in train/methods.py.

    selfclone train data.jsonl --validation valid.jsonl
    selfclone train --resume runs/RUNID
    selfclone train --method dpo --from ft:smollm2-135m:maggie:RUNID
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import typer

from ..dataset.preferences import pairs_from_store, ranked_models
from ..errors import DataError, TrainingError
from ..terminal import console, workspace
from . import distributed
from .display import print_recipe, print_run_summary, run_prepared
from .launch import LAUNCHERS, accelerate_command, read_accelerate_config
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


def parse_drill(value: str) -> int | None:
    """--notes-drill: 'auto' -> None (the workspace decides), else a whole number of examples."""
    if value.strip().lower() == "auto":
        return None
    if not value.strip().isdigit():
        raise TrainingError(f"--notes-drill must be 'auto' or a whole number of examples, got {value!r}",
                            "pass --notes-drill auto ([notes] drill when the workspace has notes), 0, or e.g. 200")
    return int(value)


def notes_training(ws, data: Path, count: int | None, seed: int) -> dict:
    """TrainRequest fields for training with notes: the notes drill (persona/drill.py) in the data's own system
    prompt (`count` examples; auto: [notes] drill of them when the workspace has notes), and the person's own
    examples with their retrieved notes in the frame (persona/augment.py), so that notes in the frame do not mean
    "answer like the drill" (measured: docs/BENCHMARKS.md, "The notes drill")."""
    from ..persona.retrieval import workspace_retriever

    retriever = workspace_retriever(ws.root, ws.config.notes) if ws else None
    if count is None:
        count = ws.config.notes.drill if retriever else 0
    if not count:
        return {}
    fields: dict = {"notes_drill": drill_examples(data, count, ws.config.system if ws else "")}
    if retriever is not None:
        from ..persona.augment import augment

        fields["notes_frame"] = lambda examples: augment(examples, retriever, distractors=1, seed=seed)
        console.print("your examples get their retrieved notes in the frame too, as at talk time")
    return fields


def drill_examples(data: Path, count: int, fallback: str) -> tuple:
    """`count` drill examples in the system prompt the clone is trained with (the data's, else `fallback`)."""
    from ..dataset.chat import read_examples
    from ..persona.drill import drill
    from .sft import default_context

    context = default_context(read_examples(data)) or fallback
    console.print(f"notes drill: {count} examples of invented facts in the notes frame added to the training split "
                  "(the clone learns to answer from its notes; --notes-drill 0 leaves them out)")
    return tuple(drill(count, context=context or ""))


def given_with_resume(ctx) -> list[str]:
    """The flags typed next to --resume: a resumed run keeps the settings it was started with."""
    given = [p for p in ctx.command.params if p.name not in ("resume", *LAUNCH_FLAGS)
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
    refit: bool = typer.Option(None, "--refit/--no-refit", help="once the best step is known, train again from the "
                               "start on train + validation to it (default: when the validation split came from "
                               "DATA)"),
    packing: bool = typer.Option(False, "--packing", help="pack each step's examples into one row (no padding)"),
    lora_rank: int = typer.Option(16, help="LoRA rank (the soup doubles it in the clone's adapter)"),
    neftune_alpha: float = typer.Option(0.0, help="NEFTune embedding noise while training (e.g. 5; 0: off)"),
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
    device: str = typer.Option("auto", help="auto (the GPU when torch sees one), cpu or cuda"),
    load_4bit: bool = typer.Option(False, "--load-4bit", help="QLoRA: the base in 4-bit NF4 (CUDA + bitsandbytes)"),
    force: bool = typer.Option(False, "--force", help="train even when the memory estimate says it will not fit"),
    launcher: str = typer.Option("none", help="accelerate: several processes or GPUs (docs/SCALE.md)"),
    accelerate_config: Path = typer.Option(None, "--accelerate-config", help="--launcher accelerate: its config file "
                                           "(DDP, FSDP, DeepSpeed; default: `accelerate config`'s)"),
    processes: int = typer.Option(None, help="--launcher accelerate: number of processes (default: the config's)"),
    notes_drill: str = typer.Option("auto", help="sft: N invented facts in the notes frame, so the clone learns to "
                                    "answer from its notes (e.g. 200); auto: [notes] drill (default 200) when the "
                                    "workspace has notes; 0: train without notes"),
):
    """Fine-tune a clone on your data; `--resume RUN_DIR` continues after Ctrl-C or a crash."""
    ws = workspace(required=False)
    runs_dir = ws.runs_dir if ws else Path("runs")
    if resume is not None and given_with_resume(ctx):
        raise TrainingError(f"--resume continues {resume} with the settings it was started with; "
                            f"these were given too: {', '.join(given_with_resume(ctx))}",
                            "leave them out to resume, or start a new run with them (without --resume)")
    if launcher not in LAUNCHERS:
        raise TrainingError(f"unknown --launcher {launcher!r}", f"use one of: {', '.join(LAUNCHERS)}")
    if launcher == "accelerate" and method != "sft":
        raise TrainingError(f"--launcher accelerate runs supervised training; --method {method} runs in one process",
                            "leave out --launcher, or use --method sft")
    request = TrainRequest(method=method, data=data, validation=validation, model=model,
                           epochs=parse_auto(epochs, int, "--epochs"), batch_size=parse_auto(batch_size, int, "--batch-size"),
                           learning_rate_multiplier=parse_auto(learning_rate_multiplier, float, "--learning-rate-multiplier"),
                           select=select, patience=patience, refit=refit, packing=packing,
                           lora_rank=lora_rank, neftune_alpha=neftune_alpha, full=full, suffix=suffix, out=out,
                           merge=merge, precision=precision,
                           max_length=max_length, max_steps=max_steps, seed=seed, report_to=tuple(report_to),
                           preferences=preferences, from_=from_, reward=reward, beta=beta,
                           continue_from=continue_from, replay=replay, device=device, load_4bit=load_4bit,
                           force=force, processes=processes or distributed.world_size(),
                           **notes_training(ws, data, parse_drill(notes_drill), seed) if method == "sft"
                           and resume is None and data is not None else {})
    if method in ("dpo", "reward") and preferences is None or method == "rl" and data is None and preferences is None:
        from dataclasses import replace

        request = replace(request, **store_pairs(ws, from_, runs_dir))

    def prepared_run():
        prepared = prepare(request, runs_dir, workspace_defaults(ws))
        console.print(f"run directory: {prepared.run.path}  ({prepared.description})")
        print_recipe(prepared.run)
        return prepared

    if resume is None and distributed.world_size() > 1 and method == "sft":
        # started by `accelerate launch -m selfclone train DATA`: rank 0 prepares the run, every rank trains it
        resume = distributed.share_from_main(lambda: prepared_run().run.path, device)
    if launcher == "accelerate":
        if accelerate_config is not None:
            read_accelerate_config(accelerate_config)            # a bad file fails before a run folder exists
        run = RunDir(resume) if resume is not None else prepared_run().run
        cmd = accelerate_command(run.path, config=accelerate_config, processes=processes)
        console.print(f"[dim]{' '.join(cmd)}[/]", highlight=False)
        code = subprocess.call(cmd)
        if code != 0:
            raise TrainingError(f"the training processes stopped with exit code {code} (see their output above)",
                                f"continue with `selfclone train --resume {run.path} --launcher accelerate`")
        print_run_summary(run, run.info().get("summary") or {})
        return
    if resume is not None and method == "sft":
        prepared = resume_run(RunDir(resume), runs_dir)
        if distributed.is_main_process():
            run_prepared(prepared, "sft")
        else:
            prepared.train(None)
        return
    run_prepared(prepared_run(), method)


LAUNCH_FLAGS = ("launcher", "accelerate_config", "processes")


def register_commands(app):
    app.command("train")(train_cmd)
