"""The job worker: claims jobs from the queue (selfclone/jobs.py) and trains them through train/methods.py.
A job left `running` by a crash is claimed first and continues from its run's last checkpoint (`methods.resume`).

    run_next(ws.store_path, ws.runs_dir, Defaults())      # one job; returns its id, or None when the queue is empty
"""
from __future__ import annotations

from pathlib import Path

from .. import jobs
from ..errors import SelfcloneError
from ..store import Store
from . import methods
from .rundir import RunDir


class JobEvents:
    """The trainers' events protocol, written to the job's events: messages and `metrics` rows."""

    def __init__(self, store_path: Path, job_id: str):
        self.store_path, self.job_id = store_path, job_id

    def _add(self, message: str, **kw) -> None:
        with Store(self.store_path) as store:
            jobs.add_event(store, self.job_id, message, **kw)

    def on_start(self, total_steps, done_steps, info):
        self._add(f"training started: {total_steps} steps" + (f", resuming at {done_steps}" if done_steps else ""))

    def on_step(self, row):
        data = {"step": row.get("step"), "train_loss": row.get("train_loss"),
                "train_mean_token_accuracy": row.get("train_token_accuracy")}
        self._add(f"step {row.get('step')}: train loss {row.get('train_loss')}", type="metrics", data=data)

    def on_eval(self, row):
        data = {"step": row.get("step"), "valid_loss": row.get("valid_loss"),
                "valid_mean_token_accuracy": row.get("valid_token_accuracy")}
        self._add(f"step {row.get('step')}: valid loss {row.get('valid_loss')}", type="metrics", data=data)


def request_for(job: dict) -> methods.TrainRequest:
    params = job["hyperparameters"]
    given = {"epochs": params.get("n_epochs"), "batch_size": params.get("batch_size"),
             "learning_rate_multiplier": params.get("learning_rate_multiplier"), "beta": params.get("beta"),
             "seed": job["seed"], "max_steps": params.get("max_steps")}
    return methods.TrainRequest(method=job["method"], data=Path(job["training_file"]),
                                validation=Path(job["validation_file"]) if job["validation_file"] else None,
                                model=job["model"], suffix=job["suffix"],
                                preferences=Path(job["training_file"]) if job["method"] == "dpo" else None,
                                **{k: v for k, v in given.items() if v is not None})


def run_next(store_path: Path, runs_dir: Path, defaults: methods.Defaults | None = None) -> str | None:
    """Claim and train one job to its end; returns its id (None when nothing is queued)."""
    with Store(store_path) as store:
        job = jobs.claim_next(store)
    if job is None:
        return None
    events = JobEvents(store_path, job["id"])
    try:
        if job["run_dir"]:
            prepared = methods.resume(RunDir(Path(job["run_dir"])), runs_dir)
        else:
            prepared = methods.prepare(request_for(job), runs_dir, defaults)
            with Store(store_path) as store:
                jobs.set_status(store, job["id"], "running", run_dir=str(prepared.run.path))
        prepared.train(events)
    except SelfcloneError as exc:
        with Store(store_path) as store:
            jobs.set_status(store, job["id"], "failed", error=str(exc))
            jobs.add_event(store, job["id"], str(exc), level="error")
        return job["id"]
    name = prepared.run.info()["name"]
    with Store(store_path) as store:
        jobs.set_status(store, job["id"], "succeeded", fine_tuned_model=name)
        jobs.add_event(store, job["id"], f"job succeeded: {name}")
    return job["id"]
