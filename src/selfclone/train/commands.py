"""`selfclone train` (sft, and the preference methods) and `selfclone bench train`."""
from __future__ import annotations

from pathlib import Path

import typer

from ..dataset.chat import read_examples
from ..dataset.split import auto_validation
from ..errors import SelfcloneError
from ..terminal import console, progress_bar, workspace
from .rundir import RunDir

METHODS = ("sft", "dpo", "reward", "rl")


class ProgressEvents:
    """Renders training events as a Rich progress bar with ETA, loss and validation loss."""

    def __init__(self, progress):
        self.progress, self.task, self.valid = progress, None, None

    def on_start(self, total_steps, done_steps, info):
        self.task = self.progress.add_task(f"training {info['name']}", total=total_steps, completed=done_steps,
                                           status="")

    def on_step(self, row):
        valid = f"  valid {self.valid:.3f}" if self.valid is not None else ""
        self.progress.update(self.task, completed=row["step"],
                             status=f"loss {row['train_loss']:.3f}  acc {row['train_token_accuracy']:.2f}{valid}")

    def on_eval(self, row):
        self.valid = row["valid_loss"]


def print_summary(run: RunDir) -> None:
    info = run.info()
    s = info.get("summary", {})
    console.print(f"\n[green]done:[/] [bold]{info['name']}[/]  ({run.path})")
    if s.get("best_valid_loss") is not None:
        start = f" (from {s['initial_valid_loss']:.3f} before training)" if "initial_valid_loss" in s else ""
        console.print(f"  validation loss was lowest at epoch {s['best_epoch']:g} (step {s['best_step']}): "
                      f"{s['best_valid_loss']:.3f}{start}")
        if s.get("final_valid_loss", 0) > s["best_valid_loss"] * 1.02:
            console.print(f"  [yellow]it rose after that (final {s['final_valid_loss']:.3f}): "
                          f"consider --epochs {max(1, round(s['best_epoch']))}[/]")
    console.print(f"  {s.get('tokens_per_second', 0):.0f} tokens/s over {s.get('train_seconds', 0):.0f} s; "
                  f"curves: {run.curves_path}")
    console.print(f"  talk to it: selfclone chat {info['name']}")


def run_sft(run: RunDir, runs_dir: Path | None) -> None:
    from . import sft

    with progress_bar() as progress:
        sft.train(run, ProgressEvents(progress), workspace_runs=runs_dir)
    print_summary(run)


def train_cmd(
    data: Path = typer.Argument(None, help="training data: chat JSONL (or legacy prompt/completion JSONL)"),
    validation: Path = typer.Option(None, "--validation", help="validation JSONL (default: a seeded 10% once >= 50 examples)"),
    model: str = typer.Option(None, help="base model (default: the workspace's, else smollm2-135m)"),
    epochs: int = typer.Option(3, help="passes over the data"),
    learning_rate_multiplier: float = typer.Option(1.0, help="x 2e-4 for LoRA, x 2e-5 for --full"),
    batch_size: int = typer.Option(8),
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
    method: str = typer.Option("sft", help="sft, dpo, reward or rl"),
    preferences: Path = typer.Option(None, help="preference pairs (dpo, reward)"),
    from_: str = typer.Option(None, "--from", help="the run or model to start from (dpo, rl)"),
    reward: Path = typer.Option(None, help="reward model run (rl)"),
    beta: float = typer.Option(None, help="dpo, rl: how far from the supervised model it may move (0.1, 0.05)"),
):
    """Fine-tune a clone on your data; `--resume RUN_DIR` continues after Ctrl-C or a crash."""
    if method not in METHODS:
        raise SelfcloneError(f"unknown --method {method!r}", f"choose one of: {', '.join(METHODS)}")
    ws = workspace(required=False)
    runs_dir = ws.runs_dir if ws else Path("runs")
    if method != "sft":
        from .preference_commands import run_preference_method

        return run_preference_method(method, data=data, validation=validation, preferences=preferences,
                                     from_=from_, reward=reward, model=model, epochs=epochs,
                                     learning_rate_multiplier=learning_rate_multiplier, batch_size=batch_size,
                                     lora_rank=lora_rank, suffix=suffix, out=out, max_steps=max_steps, seed=seed,
                                     workspace=ws, beta=beta, precision=precision)
    if resume is not None:
        return run_sft(RunDir(resume), runs_dir)
    if data is None:
        raise SelfcloneError("no training data given", "pass DATA.jsonl, or --resume RUN_DIR")
    from . import sft
    from .settings import SFTSettings

    settings = SFTSettings(model=model or (ws.config.model if ws else "smollm2-135m"), epochs=epochs,
                           batch_size=batch_size, learning_rate_multiplier=learning_rate_multiplier, full=full,
                           lora_rank=lora_rank, merge=merge, precision=precision, max_length=max_length,
                           max_steps=max_steps, seed=seed, report_to=tuple(report_to),
                           suffix=suffix or (ws.config.name if ws else "clone"))
    train_examples = read_examples(data)
    if validation is not None:
        valid_examples = read_examples(validation)
    else:
        train_examples, valid_examples = auto_validation(train_examples, seed)
    run = sft.prepare_run(train_examples, valid_examples, settings, out, runs_dir,
                          {"train_file": str(data), "valid_file": str(validation) if validation else None})
    console.print(f"run directory: {run.path}  ({len(train_examples)} train, {len(valid_examples)} validation examples)")
    run_sft(run, runs_dir)


def register_commands(app, bench):
    app.command("train")(train_cmd)
    from .bench import bench_train

    bench.command("train")(bench_train)
