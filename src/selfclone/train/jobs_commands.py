"""`selfclone jobs ...`: the fine-tuning queue from the command line, with or without a running server.

    selfclone jobs create data/me.jsonl --suffix ana --epochs 2 --follow
    selfclone jobs list | show ID [--json] | cancel ID | pause ID | resume ID | follow ID
    selfclone jobs worker            # runs the queue in the foreground (`serve api` starts one itself)
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from .. import jobs
from ..terminal import console, workspace
from .methods import Defaults
from .worker import run_next

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
        follow(job["id"])


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


@app.command()
def follow(job_id: str):
    """Stream a job's events until it ends; Ctrl-C stops following, not the job."""
    after = None
    try:
        while True:
            with _store() as store:
                rows, _ = jobs.events(store, job_id, after, limit=100)
                status = jobs.get(store, job_id)["status"]
            for event in rows:
                console.print(f"[dim]{time.strftime('%H:%M:%S', time.localtime(event['created_at']))}[/] "
                              f"{event['message']}", markup=False, highlight=False)
                after = event["id"]
            if status in jobs.FINISHED and not rows:
                console.print(f"{job_id}: {status}")
                return
            time.sleep(1)
    except KeyboardInterrupt:
        console.print(f"[yellow]stopped following[/]; the job goes on (`selfclone jobs follow {job_id}`)")


@app.command()
def worker(once: bool = typer.Option(False, "--once", help="run the queued jobs, then stop"),
           poll: float = typer.Option(2.0, "--poll", help="seconds between looks at the queue")):
    """Run the queue in the foreground, one job at a time."""
    ws = workspace(required=True)
    defaults = Defaults(model=ws.config.model, system=ws.config.system or None)
    while True:
        job_id = run_next(ws.store_path, ws.runs_dir, defaults)
        if job_id:
            console.print(f"{job_id} done")
            continue
        if once:
            return
        time.sleep(poll)


def register_commands(root):
    root.add_typer(app, name="jobs")
