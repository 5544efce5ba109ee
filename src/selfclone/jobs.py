"""The fine-tuning job queue: the `jobs` and `job_events` tables and their queries. The API and `selfclone jobs`
write jobs here; the worker in train/ claims and runs them. Nothing here trains or serves.

    with Store(ws.store_path) as store:
        job = create(store, model="smollm2-135m", training_file="data/me.jsonl")
        claim_next(store)          # the worker: the oldest queued job, now running
"""
from __future__ import annotations

import json
import time
import uuid

from .errors import SelfcloneError

METHODS = ("sft", "dpo")
ACTIVE = ("validating_files", "queued", "running", "paused")
FINISHED = ("succeeded", "failed", "cancelled")


class JobError(SelfcloneError):
    """A job that does not exist, or an action its status does not allow."""


def _row(row) -> dict:
    job = dict(row)
    job["hyperparameters"] = json.loads(job.pop("hyperparameters_json") or "{}")
    return job


def create(store, *, model: str, training_file: str, validation_file: str | None = None, suffix: str | None = None,
           method: str = "sft", hyperparameters: dict | None = None, seed: int | None = None,
           status: str = "queued") -> dict:
    if method not in METHODS:
        raise JobError(f"unknown method '{method}'", f"use one of: {', '.join(METHODS)}")
    job_id = "ftjob-" + uuid.uuid4().hex[:24]
    with store.db:
        store.db.execute(
            "insert into jobs (id, model, method, training_file, validation_file, suffix, seed, hyperparameters_json,"
            " status, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job_id, model, method, str(training_file), validation_file and str(validation_file), suffix, seed,
             json.dumps(hyperparameters or {}), status, int(time.time())))
    add_event(store, job_id, f"created fine-tuning job {job_id}")
    return get(store, job_id)


def get(store, job_id: str) -> dict:
    row = store.db.execute("select * from jobs where id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobError(f"no job with id '{job_id}'", "run `selfclone jobs list` to see the jobs")
    return _row(row)


def page(store, after: str | None = None, limit: int = 20) -> tuple[list[dict], bool]:
    """Jobs newest first, after the job `after`; returns (jobs, has_more)."""
    query, args = "select * from jobs", []
    if after:
        get(store, after)
        query += " where rowid < (select rowid from jobs where id = ?)"
        args.append(after)
    rows = store.db.execute(query + " order by rowid desc limit ?", (*args, limit + 1)).fetchall()
    return [_row(r) for r in rows[:limit]], len(rows) > limit


def set_status(store, job_id: str, status: str, *, only_from: tuple[str, ...] | None = None, **fields) -> dict:
    """Set a job's status (and other columns); with `only_from`, only when its status is one of those, so a
    worker finishing a job never overwrites a cancel that came in meanwhile."""
    changes = {"status": status, **fields}
    if status in FINISHED:
        changes["finished_at"] = int(time.time())
    where, args = "id = ?", [job_id]
    if only_from:
        where += f" and status in ({', '.join('?' * len(only_from))})"
        args += only_from
    with store.db:
        store.db.execute(f"update jobs set {', '.join(f'{k} = ?' for k in changes)} where {where}",
                         (*changes.values(), *args))
    return get(store, job_id)


def record(store, job_id: str, **fields) -> None:
    """Set columns other than the status (run_dir, pid, attempts) without touching it."""
    with store.db:
        store.db.execute(f"update jobs set {', '.join(f'{k} = ?' for k in fields)} where id = ?",
                         (*fields.values(), job_id))


def _transition(store, job_id: str, allowed: tuple[str, ...], status: str, verb: str, done: str) -> dict:
    job = get(store, job_id)
    if job["status"] not in allowed:
        raise JobError(f"cannot {verb} job {job_id}: it is {job['status']}",
                       f"only {', '.join(allowed)} jobs can be {done}")
    add_event(store, job_id, f"job {done}")
    return set_status(store, job_id, status)


def cancel(store, job_id: str) -> dict:
    return _transition(store, job_id, ACTIVE, "cancelled", "cancel", "cancelled")


def pause(store, job_id: str) -> dict:
    return _transition(store, job_id, ("queued", "running"), "paused", "pause", "paused")


def resume(store, job_id: str) -> dict:
    return _transition(store, job_id, ("paused",), "queued", "resume", "resumed")


def claim_next(store, exclude=()) -> dict | None:
    """The worker's step: a job left running by a crash first (it resumes), else the oldest queued one, now running.
    `exclude`: the jobs the worker is running right now (their status may be anything while they stop)."""
    skip = f" and id not in ({', '.join('?' * len(exclude))})" if exclude else ""
    with store.db:
        for status in ("running", "queued"):
            row = store.db.execute(f"select id from jobs where status = ?{skip} order by rowid limit 1",
                                   (status, *exclude)).fetchone()
            if row is not None:
                break
        else:
            return None
        store.db.execute("update jobs set status = 'running' where id = ?", (row["id"],))
    return get(store, row["id"])


def add_event(store, job_id: str, message: str, *, type: str = "message", level: str = "info",
              data: dict | None = None) -> None:
    with store.db:
        store.db.execute("insert into job_events (job_id, created_at, level, type, message, data_json)"
                         " values (?, ?, ?, ?, ?, ?)",
                         (job_id, int(time.time()), level, type, message, data and json.dumps(data)))


def events(store, job_id: str, after: int | None = None, limit: int = 20) -> tuple[list[dict], bool]:
    """Events oldest first after the event id `after` (what `follow` uses to pick up where it stopped)."""
    get(store, job_id)
    rows = store.db.execute("select * from job_events where job_id = ? and id > ? order by id limit ?",
                            (job_id, after or 0, limit + 1)).fetchall()
    out = [dict(r) | {"data": json.loads(r["data_json"]) if r["data_json"] else None} for r in rows[:limit]]
    for event in out:
        event.pop("data_json")
    return out, len(rows) > limit
