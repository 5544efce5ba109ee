"""`selfclone jobs ...`: the fine-tuning queue from the command line, with or without a running server.

    selfclone jobs create data/me.jsonl --suffix ana --epochs 2 --follow
    selfclone jobs list | show ID [--json] | cancel ID | pause ID | resume ID | follow ID
    selfclone jobs worker            # runs the queue in the foreground (`serve api` starts one itself)
    selfclone jobs run-one ID        # what the worker starts for each job, in its own process
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from .. import jobs
from ..terminal import console, progress_bar, workspace
from .display import ProgressEvents
from .methods import Defaults
from .worker import Supervisor, die_with_parent, run_one

app = typer.Typer(help="Fine-tuning jobs: a queue in the workspace, run by a worker.", no_args_is_help=True)


def _store():
    return workspace(required=True).store()


@app.command()
def create(data: Path = typer.Argument(..., help="training file (chat JSONL, or DPO pairs with --method dpo)"),
           validation: Path = typer.Option(None, "--validation"), model: str = typer.Option(None, "--model"),
           suffix: str = typer.Option(None, "--suffix"), epochs: int = typer.Option(None, "--epochs"),
           method: str = typer.Option("sft", "--method", help="sft or dpo"),
           follow_: bool = typer.Option(False, "--follow", help="follow its events until it ends")):
    """Queue a fine-tuning job; prints its id."""
    ws = workspace(required=True)
    with ws.store() as store:
        job = jobs.create(store, model=model or ws.config.model, training_file=str(data.resolve()),
                          validation_file=str(validation.resolve()) if validation else None, suffix=suffix,
                          method=method, hyperparameters={"n_epochs": epochs} if epochs else {})
    print(job["id"])
    if follow_:
        follow(job["id"], poll=1.0)


@app.command("list")
def list_jobs(limit: int = typer.Option(20, "--limit")):
    """The newest jobs."""
    with _store() as store:
        rows, _ = jobs.page(store, limit=limit)
    table = Table()
    for col in ("id", "status", "model", "method", "fine-tuned model"):
        table.add_column(col)
    for j in rows:
        table.add_row(j["id"], j["status"], j["model"], j["method"], j["fine_tuned_model"] or "-")
    console.print(table if rows else "[dim]no jobs yet: `selfclone jobs create DATA.jsonl`[/]")


@app.command()
def show(job_id: str, as_json: bool = typer.Option(False, "--json")):
    """One job's settings and status."""
    with _store() as store:
        job = jobs.get(store, job_id)
    if as_json:
        print(json.dumps(job))
        return
    for key, value in job.items():
        console.print(f"[bold]{key}[/]: {value}")


def _action(name):
    def command(job_id: str):
        with _store() as store:
            job = getattr(jobs, name)(store, job_id)
        console.print(f"{job_id}: {job['status']}")
    command.__doc__ = f"{name.capitalize()} a job."
    return command


for _name in ("cancel", "pause", "resume"):
    app.command(_name)(_action(_name))


class _FollowBar:
    """A job's events on the training progress bar (train/display.py): step/total, loss, valid loss, ETA."""

    def __init__(self, job_id: str):
        self.job_id, self.progress = job_id, progress_bar()
        self.bar = ProgressEvents(self.progress)

    def show(self, event: dict) -> bool:
        """Feed one event; False when it is a plain message to print above the bar."""
        data = event["data"] or {}
        if "total_steps" not in data:
            return False
        if event["type"] != "metrics":          # "training started": a first start or a resume
            if self.bar.task is None:
                self.bar.on_start(data["total_steps"], data.get("step") or 0, {"name": self.job_id})
            else:
                self.progress.reset(self.bar.task, total=data["total_steps"], completed=data.get("step") or 0)
            return False
        if self.bar.task is None:
            self.bar.on_start(data["total_steps"] or 0, 0, {"name": self.job_id})
        if data.get("train_loss") is not None:
            self.bar.on_step({"step": data["step"], "train_loss": data["train_loss"],
                              "train_token_accuracy": data.get("train_mean_token_accuracy") or 0.0})
        elif data.get("valid_loss") is not None:
            self.bar.on_eval({"valid_loss": data["valid_loss"]})
        return True

    def caught_up(self) -> None:
        """The backlog is shown: forget its instant speed so that the ETA counts from steps seen live."""
        if self.bar.task is not None:
            task = self.progress.tasks[self.bar.task]
            self.progress.reset(self.bar.task, total=task.total, completed=task.completed)


@app.command()
def follow(job_id: str, poll: float = typer.Option(1.0, "--poll", help="seconds between looks at the events")):
    """Stream a job's events with a progress bar until it ends; Ctrl-C stops following, not the job."""
    try:
        _follow(job_id, poll)
    except KeyboardInterrupt:
        console.print(f"[yellow]stopped following[/]; the job goes on (`selfclone jobs follow {job_id}`)")


def _follow(job_id: str, poll: float) -> None:
    after, backlog = None, True
    bar = _FollowBar(job_id) if console.is_terminal else None
    with bar.progress if bar else contextlib.nullcontext():
        while True:
            with _store() as store:
                rows, more = jobs.events(store, job_id, after, limit=100)
                status = jobs.get(store, job_id)["status"]
            for event in rows:
                after = event["id"]
                if bar is None or not bar.show(event):
                    console.print(f"[dim]{time.strftime('%H:%M:%S', time.localtime(event['created_at']))}[/] "
                                  f"{escape(event['message'])}", highlight=False)
            if backlog and not more:
                backlog = False
                if bar:
                    bar.caught_up()
            if status in jobs.FINISHED and not rows:
                console.print(f"{job_id}: {status}")
                return
            if not more:
                time.sleep(poll)


@app.command()
def worker(once: bool = typer.Option(False, "--once", help="run the queued jobs, then stop"),
           poll: float = typer.Option(0.5, "--poll", help="seconds between looks at the queue")):
    """Run the queue in the foreground: up to jobs.concurrency jobs at once, each in its own process."""
    ws = workspace(required=True)
    with Supervisor(ws.root, ws.store_path, ws.config.jobs) as supervisor:
        # stop asks each job's process to checkpoint, exactly once; the loop ends when they have all exited
        previous = {sig: signal.signal(sig, lambda *_: supervisor.stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while True:
                for note in supervisor.tick():
                    console.print(note, markup=False, soft_wrap=True)
                if not supervisor.children and (supervisor.stopping or once):
                    return
                time.sleep(poll)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@app.command("run-one", hidden=True)
def run_one_command(job_id: str, watch_stdin: bool = typer.Option(False, "--watch-stdin"),
                    threads: int = typer.Option(None, "--threads")):
    """Train one claimed job in this process (what the worker starts for each job)."""
    if watch_stdin:
        die_with_parent(sys.stdin.fileno())
    ws = workspace(required=True)
    defaults = Defaults(model=ws.config.model, system=ws.config.system or None)
    run_one(ws.store_path, ws.runs_dir, job_id, defaults, threads=threads)
    # As multiprocessing's children do: the job's end is in the store and its files are closed, so skip the
    # interpreter's teardown of torch and the model (seconds on a loaded machine: `selfclone bench jobs`).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def register_commands(root):
    root.add_typer(app, name="jobs")
