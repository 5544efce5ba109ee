"""How training looks in a terminal: a Rich progress bar fed by the trainers' events, and the summary after.

    with progress_bar() as progress:
        summary = prepared.train(ProgressEvents(progress))
    print_summary(prepared.run)

The trainers never print; the commands, the demo and the benchmarks render them through this module.
"""
from __future__ import annotations

import time

from ..terminal import console, progress_bar
from .methods import Prepared
from .rundir import RunDir


class ProgressEvents:
    """Renders training events as a Rich progress bar with ETA, loss and validation loss."""

    def __init__(self, progress):
        self.progress, self.task, self.valid = progress, None, None

    def on_start(self, total_steps, done_steps, info):
        self.valid = None         # a second run (the refit) has its own validation, or none
        self.task = self.progress.add_task(f"training {info['name']}", total=total_steps, completed=done_steps,
                                           status="")

    def on_step(self, row):
        valid = f"  valid {self.valid:.3f}" if self.valid is not None else ""
        self.progress.update(self.task, completed=row["step"],
                             status=f"loss {row['train_loss']:.3f}  acc {row['train_token_accuracy']:.2f}{valid}")

    def on_eval(self, row):
        self.valid = row["valid_loss"]


def print_recipe(run: RunDir) -> None:
    """What the default recipe chose for the settings left at auto, and why (from run.json)."""
    recipe = run.info().get("recipe")
    if not recipe or not recipe.get("reasons"):
        return
    console.print("[bold]recipe[/] (settings left at auto, chosen from the data):")
    for reason in recipe["reasons"]:
        console.print(f"  {reason}")


def print_summary(run: RunDir) -> None:
    info = run.info()
    s = info.get("summary", {})
    console.print(f"\n[green]done:[/] [bold]{info['name']}[/]  ({run.path})")
    probe = info.get("probe") or {}
    if probe.get("reason") or probe.get("skipped"):
        console.print(f"  learning-rate probe: {probe.get('reason') or probe['skipped']}"
                      + (f" ({probe['seconds']:.0f} s)" if "seconds" in probe else ""))
    if s.get("best_valid_loss") is not None:
        start = f" (from {s['initial_valid_loss']:.3f} before training)" if "initial_valid_loss" in s else ""
        console.print(f"  validation loss was lowest at epoch {s['best_epoch']:g} (step {s['best_step']}): "
                      f"{s['best_valid_loss']:.3f}{start}")
        if s.get("select") != "best" and s.get("final_valid_loss", 0) > s["best_valid_loss"] * 1.02:
            console.print(f"  [yellow]it rose after that (final {s['final_valid_loss']:.3f}): "
                          f"consider --epochs {max(1, round(s['best_epoch']))}[/]")
    if s.get("stopped_early_at"):
        console.print(f"  stopped early at step {s['stopped_early_at']}: no new lowest validation loss for "
                      f"{info['settings'].get('patience')} evaluations")
    refit = s.get("refit") or {}
    if refit.get("steps"):
        console.print(f"  then trained again from the start on all {refit['examples']} examples (train + validation) "
                      f"to the same point of the schedule, {refit['steps']} steps")
        if refit.get("soup"):
            rank = refit["soup"]["lora_rank"]
            console.print(f"  the clone is the average of the two, step {refit['soup']['of_step']}'s weights and the "
                          f"refit's" + (f" (one LoRA adapter of rank {rank})" if rank else ""))
        console.print(f"  (--no-refit keeps step {s['selected_step']}'s)")
    elif s.get("select") == "best" and s.get("selected_step") != s.get("steps"):
        console.print(f"  kept the weights of step {s['selected_step']} (lowest validation loss), not the last step")
    if refit.get("skipped"):
        console.print(f"  no refit: {refit['skipped']}")
    if s.get("selection_note"):
        console.print(f"  kept the last step: {s['selection_note']}")
    more = f" (+{refit['train_seconds']:.0f} s of refit)" if refit.get("steps") else ""
    console.print(f"  {s.get('tokens_per_second', 0):.0f} tokens/s over {s.get('train_seconds', 0):.0f} s{more}; "
                  f"curves: {run.curves_path}")
    console.print(f"  talk to it: selfclone chat {info['name']}")


class PreferenceEvents:
    """Training progress as a Rich bar; the status shows the method's key figure."""

    KEYS = {"dpo": ("reward_accuracy", "acc"), "reward": ("pair_accuracy", "acc"), "rl": ("reward_mean", "reward")}

    def __init__(self, progress, method: str):
        self.progress, self.method, self.task = progress, method, None

    def on_start(self, total_steps, done_steps, info):
        self.task = self.progress.add_task(f"{self.method} {info['name']}", total=total_steps, completed=done_steps,
                                           status="")

    def on_step(self, row):
        key, label = self.KEYS[self.method]
        figure = f"  {label} {row[key]:.2f}" if row.get(key) is not None else ""
        loss = f"loss {row['train_loss']:.3f}" if row.get("train_loss") is not None else ""
        self.progress.update(self.task, completed=row["step"], status=loss + figure)

    def on_eval(self, row):
        pass


def print_preference_summary(info: dict, s: dict, run) -> None:
    console.print(f"\n[green]done:[/] [bold]{info['name']}[/]  ({run.path})")
    figures = {"reward_accuracy": "preference accuracy (last steps)", "reward_margin": "reward margin (last steps)",
               "valid_reward_accuracy": "held-out preference accuracy", "pair_accuracy": "pair accuracy (last steps)",
               "heldout_pairwise_accuracy": "held-out pairwise accuracy (reloaded model)",
               "reward_first": "reward of sampled replies, first step", "reward_last": "... last step",
               "kl": "KL to the supervised policy"}
    for key, label in figures.items():
        if s.get(key) is not None:
            console.print(f"  {label}: {s[key]:.3f}")
    if info["method"] == "reward" and not s.get("valid_pairs"):
        console.print("  [yellow]no held-out rankings (fewer than 10 ranked prompts): pass --validation FILE "
                      "for a pairwise accuracy[/]")
    console.print(f"  {s.get('steps', 0)} steps in {s.get('train_seconds', 0):.0f} s; curves: {run.curves_path}")
    if info["method"] == "reward":
        console.print(f"  use it: selfclone train --method rl --from CLONE --reward {run.path}")
    else:
        console.print(f"  talk to it: selfclone chat {info['name']}")


def events_for(method: str, progress):
    return ProgressEvents(progress) if method == "sft" else PreferenceEvents(progress, method)


def print_run_summary(prepared_run: RunDir, summary: dict) -> None:
    info = prepared_run.info()
    if info.get("method") in ("dpo", "reward", "rl"):
        print_preference_summary(info, summary, prepared_run)
    else:
        print_summary(prepared_run)


class PlainLines:
    """Without a terminal (CI logs, nohup, a pipe) a Rich bar shows nothing until the end: these events print a
    plain line at the start, then at least every `every` seconds while steps arrive, and at the last step."""

    def __init__(self, inner, every: float = 30.0, clock=time.monotonic):
        self.inner, self.every, self.clock = inner, every, clock
        self.total, self.last, self.started, self.valid = 0, float("-inf"), 0.0, None

    def on_start(self, total_steps, done_steps, info):
        self.total, self.started, self.valid = total_steps, self.clock(), None
        console.print(f"training {info['name']}: step {done_steps}/{total_steps}", highlight=False, emoji=False,
                      markup=False)
        self.inner.on_start(total_steps, done_steps, info)

    def on_step(self, row):
        self.inner.on_step(row)
        now = self.clock()
        if now - self.last >= self.every or row["step"] == self.total:
            self.last = now
            figures = "  ".join(f"{k} {row[k]:.3f}" for k in ("train_loss", "loss") if isinstance(row.get(k), float))
            valid = f"  valid {self.valid:.3f}" if self.valid is not None else ""
            console.print(f"step {row['step']}/{self.total}  {figures}{valid}  {now - self.started:.0f} s",
                          highlight=False, emoji=False, markup=False)

    def on_eval(self, row):
        self.valid = row.get("valid_loss", self.valid)
        self.inner.on_eval(row)


def run_prepared(prepared: Prepared, method: str) -> dict:
    """Train with a progress bar (plain lines when the output is no terminal), then print the summary: the one
    way a command shows training."""
    with progress_bar() as progress:
        events = events_for(method, progress)
        summary = prepared.train(events if console.is_terminal else PlainLines(events))
    print_run_summary(prepared.run, summary)
    return summary
