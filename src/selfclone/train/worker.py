"""The job worker: a supervisor that claims up to `jobs.concurrency` jobs from the queue (selfclone/jobs.py) and
trains each in its own child process (`selfclone jobs run-one ID`), so a crash of one job's process touches that job
only. `selfclone jobs worker` runs it in the foreground; `serve api` starts that command as its own child.

    with Supervisor(ws.root, ws.store_path, ws.config.jobs) as supervisor:    # one supervisor per workspace
        while supervisor.tick() or not supervisor.stopping:
            time.sleep(0.5)
    run_one(ws.store_path, ws.runs_dir, job_id, defaults)                  # in the child: train one claimed job

How a job stops:
- pause or cancel (API or CLI) sets its status; at its next look at the queue the supervisor sends the child SIGINT,
  the trainer finishes the step it is in, saves a checkpoint and the child exits. Resume queues the job again and a
  new child continues from that checkpoint to the same final step; a cancelled job keeps its partial run.
- the supervisor stopping (Ctrl-C, SIGTERM) asks every child the same way; their jobs stay `running` and the next
  worker resumes them from their checkpoints.
- a child that dies (kill -9, out of memory) without writing its job's end: the job is queued again and resumes from
  its last checkpoint, up to `jobs.retries` times; after that it fails with a message naming the signal and the step.
- the supervisor dying (kill -9): each child sees its stdin close and kills itself; the next worker resumes the job.
"""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import jobs
from ..config import JobSettings
from ..errors import SelfcloneError
from ..store import Store
from . import methods
from .rundir import RunDir
from .sft import TrainingInterrupted


class JobEvents:
    """The trainers' events protocol, written to the job's events: messages and `metrics` rows."""

    def __init__(self, store_path: Path, job_id: str):
        self.store_path, self.job_id, self.total_steps = store_path, job_id, None

    def _add(self, message: str, **kw) -> None:
        with Store(self.store_path) as store:
            jobs.add_event(store, self.job_id, message, **kw)

    def on_start(self, total_steps, done_steps, info):
        self.total_steps = total_steps
        what = "refit on the training and validation examples" if info.get("refit_of") else "training"
        self._add(f"{what} started: {total_steps} steps" + (f", resuming at {done_steps}" if done_steps else ""),
                  data={"total_steps": total_steps, "step": done_steps})

    def on_step(self, row):
        data = {"step": row.get("step"), "total_steps": self.total_steps, "train_loss": row.get("train_loss"),
                "train_mean_token_accuracy": row.get("train_token_accuracy"), "step_seconds": row.get("step_seconds")}
        self._add(f"step {row.get('step')}: train loss {row.get('train_loss')}", type="metrics", data=data)

    def on_eval(self, row):
        data = {"step": row.get("step"), "total_steps": self.total_steps, "valid_loss": row.get("valid_loss"),
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


def _prepared(job: dict, store_path: Path, runs_dir: Path, defaults) -> methods.Prepared:
    """The job's run: continued from its checkpoint when it has one that resumes, else set up anew."""
    if job["run_dir"]:
        run = RunDir(Path(job["run_dir"]))
        if run.info().get("method", "sft") in methods.RESUMABLE:
            return methods.resume(run, runs_dir)
    prepared = methods.prepare(request_for(job), runs_dir, defaults)
    with Store(store_path) as store:
        jobs.record(store, job["id"], run_dir=str(prepared.run.path))
    return prepared


def run_one(store_path: Path, runs_dir: Path, job_id: str, defaults: methods.Defaults | None = None,
            threads: int | None = None) -> str:
    """Train one claimed (`running`) job in this process to its end or until SIGINT; returns its status after.
    An interrupt keeps the checkpoint and leaves the status to whoever asked (pause, cancel, a stopping worker)."""
    with Store(store_path) as store:
        job = jobs.get(store, job_id)
    if job["status"] != "running":
        return job["status"]
    if threads:
        import torch

        torch.set_num_threads(threads)
    prepared = None
    try:
        prepared = _prepared(job, store_path, runs_dir, defaults)
        prepared.train(JobEvents(store_path, job_id))
    except (TrainingInterrupted, KeyboardInterrupt) as exc:
        where = f"; the run is kept in {prepared.run.path}" if prepared else ""
        with Store(store_path) as store:
            jobs.add_event(store, job_id, f"{getattr(exc, 'message', 'stopped before training started')}{where}")
            return jobs.get(store, job_id)["status"]
    except Exception as exc:     # a bad file, or a bug: fail it once rather than retrying what will fail again
        message = str(exc) if isinstance(exc, SelfcloneError) else f"internal error: {type(exc).__name__}: {exc}"
        with Store(store_path) as store:
            jobs.add_event(store, job_id, message, level="error")
            return jobs.set_status(store, job_id, "failed", only_from=("running", "paused", "queued"),
                                   error=message)["status"]
    name = prepared.run.info()["name"]
    with Store(store_path) as store:     # a cancel that came in as the last step ended stays cancelled
        job = jobs.set_status(store, job_id, "succeeded", only_from=("running", "paused", "queued"),
                              fine_tuned_model=name)
        if job["status"] == "succeeded":
            jobs.add_event(store, job_id, f"job succeeded: {name}")
        return job["status"]


def die_with_parent(fd: int) -> None:
    """In a child: kill this process when `fd` (its stdin, a pipe from the supervisor) closes, i.e. the supervisor
    died, so that no orphan goes on training a job that the next worker will resume."""
    def watch():
        while os.read(fd, 4096):     # the raw descriptor: a buffered reader would hold a lock at interpreter exit
            pass
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


@dataclass
class Child:
    job_id: str
    process: subprocess.Popen
    signalled: bool = False


class Supervisor:
    """Claims jobs and runs each in a child process; `tick()` is one look at the queue (call it every half second)."""

    def __init__(self, root: Path, store_path: Path, settings: JobSettings = JobSettings(), *,
                 cpu_count: int | None = None):
        self.root, self.store_path, self.settings = Path(root), Path(store_path), settings
        self.children: dict[str, Child] = {}
        self.stopping = False
        cpus = cpu_count or os.cpu_count() or 1
        self.threads = max(1, cpus // settings.concurrency) if settings.concurrency > 1 else None
        self._lock = None

    def __enter__(self) -> "Supervisor":
        """One supervisor per workspace: a second one would claim the same jobs."""
        path = self.store_path.with_name(".jobs-worker.lock")
        self._lock = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.seek(0)
            holder = self._lock.read().strip() or "another process"
            self._lock.close()
            raise SelfcloneError(f"a job worker ({holder}) already runs this workspace's queue",
                                 "let it run the jobs (`serve api` starts one itself), or stop it first") from None
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f"process {os.getpid()}")
        self._lock.flush()
        return self

    def __exit__(self, *exc) -> None:
        for child in self.children.values():      # only reached when stopping was cut short: no orphans
            child.process.kill()
        if self._lock is not None:
            self._lock.close()

    def tick(self) -> list[str]:
        """Reap ended children, signal those whose job was paused or cancelled, start new ones; what happened."""
        notes: list[str] = []
        with Store(self.store_path) as store:
            for child in [c for c in self.children.values() if c.process.poll() is not None]:
                notes.append(self._reap(store, child))
            for child in self.children.values():
                status = jobs.get(store, child.job_id)["status"]
                if status in ("paused", "cancelled") and not child.signalled:
                    self._signal(child)
                    jobs.add_event(store, child.job_id, f"stopping the training process: job {status}")
                    notes.append(f"{child.job_id}: stopping ({status})")
            while not self.stopping and len(self.children) < self.settings.concurrency:
                job = jobs.claim_next(store, exclude=tuple(self.children))
                if job is None:
                    break
                notes.append(self._spawn(store, job))
        return notes

    def stop(self) -> None:
        """Ask every child to checkpoint and exit; their jobs stay `running` for the next worker to resume."""
        self.stopping = True
        for child in self.children.values():
            self._signal(child)

    def _signal(self, child: Child) -> None:
        if not child.signalled:           # a second SIGINT would stop the trainer without its checkpoint
            child.signalled = True
            child.process.send_signal(signal.SIGINT)

    def _spawn(self, store, job: dict) -> str:
        command = [sys.executable, "-m", "selfclone", "jobs", "run-one", job["id"], "--watch-stdin"]
        if self.threads:
            command += ["--threads", str(self.threads)]
        # its own session: a Ctrl-C in the terminal reaches the supervisor, which asks each child exactly once
        process = subprocess.Popen(command, cwd=self.root, stdin=subprocess.PIPE, start_new_session=True)
        self.children[job["id"]] = Child(job["id"], process)
        jobs.record(store, job["id"], pid=process.pid)
        if self.stopping:             # stop() came while it started
            self._signal(self.children[job["id"]])
        return f"{job['id']}: training in process {process.pid}"

    def _reap(self, store, child: Child) -> str:
        del self.children[child.job_id]
        child.process.stdin.close()
        jobs.record(store, child.job_id, pid=None)
        job = jobs.get(store, child.job_id)
        if job["status"] != "running" or self.stopping:
            return f"{job['id']}: {job['status']}"
        return self._died(store, job, child.process.returncode)

    def _died(self, store, job: dict, code: int) -> str:
        """The child ended without writing the job's end: queue it to resume, or fail it after `jobs.retries`."""
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        latest = RunDir(Path(job["run_dir"])).latest_checkpoint() if job["run_dir"] else None
        step = int(latest.name.removeprefix("step-")) if latest else 0
        attempts = job["attempts"] + 1
        if attempts <= self.settings.retries:
            message = (f"the training process {how}; resuming from the checkpoint at step {step} "
                       f"(retry {attempts} of {self.settings.retries})")
            jobs.record(store, job["id"], attempts=attempts)
            jobs.set_status(store, job["id"], "queued", only_from=("running",))
            jobs.add_event(store, job["id"], message, level="warn")
            return f"{job['id']}: {message}"
        kept = f"; the partial run is kept in {job['run_dir']}" if job["run_dir"] else ""
        message = (f"the training process {how} (last checkpoint: step {step}) and the job has no retries left "
                   f"(jobs.retries = {self.settings.retries}){kept}: create the job again, or raise jobs.retries "
                   "in selfclone.toml if the machine was short of memory")
        jobs.record(store, job["id"], attempts=attempts)
        jobs.set_status(store, job["id"], "failed", only_from=("running",), error=message)
        jobs.add_event(store, job["id"], message, level="error")
        return f"{job['id']}: failed: {message}"
