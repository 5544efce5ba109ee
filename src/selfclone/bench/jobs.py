"""`selfclone bench jobs`: how promptly a running fine-tuning job stops when paused, and what one process per job
costs, measured through the real worker (train/worker.py's Supervisor, one child process per job) in one run.

    selfclone bench jobs --batch-size 2

A job on the demo data trains in its own process; after a few steps it is paused. The stop latency (pause request to
the process's exit, checkpoint included) is compared with the run's own median step time: about 1x means it stopped
after the step it was in. Then it is resumed; the start-up of each process (spawn to its first step: imports, model
load, and for the first one the step-0 evaluation) is reported against the median step as well.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import typer

from .. import jobs, machine
from ..config import JobSettings
from ..demo import demo_files
from ..store import Store
from ..terminal import console
from ..train.worker import Supervisor
from ..workspace import Workspace


def _step_events(store, job_id: str) -> list[dict]:
    rows, _ = jobs.events(store, job_id, limit=10**6)
    return [r for r in rows if r["type"] == "metrics" and (r["data"] or {}).get("train_loss") is not None]


POLL = 0.5      # as `selfclone jobs worker` looks at the queue


def _run_until(supervisor: Supervisor, store_path: Path, job_id: str, done, timeout: float = 3600.0) -> float:
    """Tick the supervisor every POLL seconds until done(store) is true (looked at every 50 ms); returns the time."""
    deadline, ticked = time.time() + timeout, 0.0
    while time.time() < deadline:
        if time.time() - ticked >= POLL:
            supervisor.tick()
            ticked = time.time()
        with Store(store_path) as store:
            if done(store):
                return time.time()
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} did not get there in {timeout:.0f} s")


def measure(model: str, batch_size: int, pause_after: int, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "ws", person="bench")
        with Store(ws.store_path) as store:
            job_id = jobs.create(store, model=model, training_file=str(demo_files() / "train.jsonl"),
                                 hyperparameters={"batch_size": batch_size, "max_steps": steps, "n_epochs": 1})["id"]
        with Supervisor(ws.root, ws.store_path, JobSettings()) as supervisor:
            spawned = time.time()
            first = _run_until(supervisor, ws.store_path, job_id, lambda s: len(_step_events(s, job_id)) >= 1)
            _run_until(supervisor, ws.store_path, job_id, lambda s: len(_step_events(s, job_id)) >= pause_after)
            with Store(ws.store_path) as store:
                asked = time.time()
                jobs.pause(store, job_id)
            child = supervisor.children[job_id]
            checkpointed = _run_until(supervisor, ws.store_path, job_id, lambda s: any(
                e["message"].startswith("training stopped") for e in jobs.events(s, job_id, limit=10**6)[0]))
            stopped = _run_until(supervisor, ws.store_path, job_id, lambda s: child.process.poll() is not None)
            with Store(ws.store_path) as store:
                paused_at = max(e["data"]["step"] for e in _step_events(store, job_id))
                jobs.resume(store, job_id)
            resumed = time.time()
            again = _run_until(supervisor, ws.store_path, job_id,
                               lambda s: max(e["data"]["step"] for e in _step_events(s, job_id)) > paused_at)
            end = _run_until(supervisor, ws.store_path, job_id, lambda s: jobs.get(s, job_id)["status"] in jobs.FINISHED)
            with Store(ws.store_path) as store:
                job = jobs.get(store, job_id)
                rows = _step_events(store, job_id)
            step_seconds = [e["data"]["step_seconds"] for e in rows]
            step_rows = [e["data"]["step"] for e in rows]
    return {"status": job["status"], "error": job["error"], "paused_at": paused_at,
            "final_step": max(step_rows), "total_steps": steps,
            "median_step_s": statistics.median(step_seconds), "stop_s": stopped - asked,
            "checkpointed_s": checkpointed - asked,
            "first_start_s": first - spawned, "resume_start_s": again - resumed, "total_s": end - spawned}


def bench_jobs(model: str = typer.Option("smollm2-135m", help="the base model the job trains"),
               batch_size: int = typer.Option(2), pause_after: int = typer.Option(3, help="steps before the pause"),
               steps: int = typer.Option(6, help="the job's total steps")):
    """Stop latency of a paused job and the start-up of a job's process, against the run's median step."""
    console.print(f"machine: {machine.describe()}")
    console.print(f"a job on the demo data ({model}, batch {batch_size}, {steps} steps) in its own process; "
                  f"paused after step {pause_after}, then resumed ...")
    r = measure(model, batch_size, pause_after, steps)
    if r["status"] != "succeeded":
        console.print(f"[red]the job ended {r['status']}[/]: {r['error']}")
        raise typer.Exit(1)
    step = r["median_step_s"]
    console.print(f"  median step {step:.2f} s (the baseline)")
    console.print(f"  pause -> process exited: {r['stop_s']:.2f} s = {r['stop_s'] / step:.2f}x a step (stopped after step "
                  f"{r['paused_at']}; checkpoint saved and stop reported after {r['checkpointed_s']:.2f} s = "
                  f"{r['checkpointed_s'] / step:.2f}x a step, the rest is the process's exit)")
    console.print(f"  process start-up to the first step: {r['first_start_s']:.1f} s = {r['first_start_s'] / step:.1f}x "
                  f"a step; after resume: {r['resume_start_s']:.1f} s = {r['resume_start_s'] / step:.1f}x a step")
    console.print(f"  succeeded at step {r['final_step']} of {r['total_steps']} in {r['total_s']:.0f} s")
