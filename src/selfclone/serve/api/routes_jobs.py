"""/v1/fine_tuning/jobs: create (from uploaded files), list (paginated), retrieve, cancel, pause, resume, events and
checkpoints, over the queue in `selfclone/jobs.py`. This module only writes the queue; `selfclone jobs worker` runs it.
Each checkpoint's `fine_tuned_model_checkpoint` is a model name the server can chat with (models.CHECKPOINT_NAME).

    client.fine_tuning.jobs.create(training_file=f.id, model="smollm2-135m", suffix="ana",
                                   method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}})
"""
from __future__ import annotations

from pathlib import Path

import pydantic
from fastapi import APIRouter, Request

from ... import jobs, models
from ...errors import SelfcloneError
from .errors import APIError, from_library
from .routes_files import get_row, workspace_store

router = APIRouter()
API_METHODS = {"supervised": "sft", "dpo": "dpo"}
HYPERPARAMETERS = ("n_epochs", "batch_size", "learning_rate_multiplier", "beta")


class JobRequest(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")

    model: str
    training_file: str
    validation_file: str | None = None
    suffix: str | None = None
    seed: int | None = None
    hyperparameters: dict | None = None
    method: dict | None = None


def hyperparameters(req: JobRequest) -> tuple[str, dict]:
    """(method, hyperparameters) from `method` as the SDK sends it, or the older top-level `hyperparameters`;
    "auto" (or absent) means the recipe's default and is not stored."""
    kind, given = "supervised", dict(req.hyperparameters or {})
    if req.method:
        kind = req.method.get("type", "supervised")
        if kind not in API_METHODS:
            raise APIError(400, f"method type '{kind}' is not supported: use supervised or dpo", param="method.type")
        given |= (req.method.get(kind) or {}).get("hyperparameters") or {}
    unknown = sorted(set(given) - set(HYPERPARAMETERS))
    if unknown:
        raise APIError(400, f"unknown hyperparameter(s) {', '.join(unknown)}: use {', '.join(HYPERPARAMETERS)}",
                       param="hyperparameters")
    return API_METHODS[kind], {k: v for k, v in given.items() if v != "auto" and v is not None}


def job_object(store, job: dict) -> dict:
    def file_id(path):
        row = path and store.db.execute("select id from api_files where path = ?", (path,)).fetchone()
        return row["id"] if row else path

    kind = "supervised" if job["method"] == "sft" else "dpo"
    params = {k: job["hyperparameters"].get(k, "auto") for k in ("n_epochs", "batch_size", "learning_rate_multiplier")}
    error = {"code": "job_failed", "message": job["error"], "param": None} if job["error"] else None
    return {"id": job["id"], "object": "fine_tuning.job", "model": job["model"], "created_at": job["created_at"],
            "finished_at": job["finished_at"], "fine_tuned_model": job["fine_tuned_model"],
            "organization_id": "local", "result_files": [], "status": job["status"],
            "training_file": file_id(job["training_file"]), "validation_file": file_id(job["validation_file"]),
            "hyperparameters": params, "trained_tokens": None, "error": error, "seed": job["seed"],
            "suffix": job["suffix"], "method": {"type": kind, kind: {"hyperparameters": job["hyperparameters"]}}}


FORMATS = {"sft": ("chat", "chat examples ({messages: [...]}, or prompt/completion)"),
           "dpo": ("preference", "preference pairs ({prompt, chosen, rejected})")}


def check_formats(method: str, files: dict) -> None:
    """A file that parsed, but as the other method's format: refused before a job exists."""
    want, described = FORMATS[method]
    for name, row in files.items():
        if row["status"] != "error" and row["format"] != want:
            kind = "supervised" if method == "sft" else method
            other = next(m for m, (fmt, _) in FORMATS.items() if fmt == row["format"])
            raise APIError(400, f"{name} {row['id']} ({row['filename']}) holds {FORMATS[other][1]}, but a {kind} job "
                                f"needs {described}: upload such a file, or use method "
                                f"{'supervised' if other == 'sft' else other}", param=name, code="invalid_file_format")


def _queue(call):
    try:
        return call()
    except jobs.JobError as exc:
        status = 404 if exc.message.startswith("no job") else 400
        raise APIError(status, f"{exc.message} ({exc.hint})" if exc.hint else exc.message,
                       code="job_not_found" if status == 404 else "invalid_job_state") from exc


@router.post("/fine_tuning/jobs")
async def create(req: JobRequest, request: Request):
    method, params = hyperparameters(req)
    try:
        request.app.state.pool.resolve(req.model)
    except SelfcloneError as exc:
        raise from_library(exc, param="model") from exc
    with workspace_store(request) as store:
        files = {name: get_row(store, getattr(req, name)) for name in ("training_file", "validation_file")
                 if getattr(req, name)}
        broken = [f"{name} {row['id']}: {row['status_details']}" for name, row in files.items()
                  if row["status"] == "error"]
        check_formats(method, files)
        job = jobs.create(store, model=req.model, training_file=files["training_file"]["path"],
                          validation_file=files["validation_file"]["path"] if "validation_file" in files else None,
                          suffix=req.suffix, method=method, hyperparameters=params, seed=req.seed,
                          status="failed" if broken else "queued")
        if broken:       # a job on a broken file fails with the file's own line-specific message
            job = jobs.set_status(store, job["id"], "failed", error="; ".join(broken))
            jobs.add_event(store, job["id"], job["error"], level="error")
        return job_object(store, job)


@router.get("/fine_tuning/jobs")
async def list_jobs(request: Request, after: str | None = None, limit: int = 20):
    with workspace_store(request) as store:
        rows, more = _queue(lambda: jobs.page(store, after, limit))
        return {"object": "list", "data": [job_object(store, j) for j in rows], "has_more": more}


@router.get("/fine_tuning/jobs/{job_id}")
async def retrieve(job_id: str, request: Request):
    with workspace_store(request) as store:
        return job_object(store, _queue(lambda: jobs.get(store, job_id)))


@router.post("/fine_tuning/jobs/{job_id}/{action}")
async def act(job_id: str, action: str, request: Request):
    actions = {"cancel": jobs.cancel, "pause": jobs.pause, "resume": jobs.resume}
    if action not in actions:
        raise APIError(404, f"no action '{action}': use cancel, pause or resume", code="not_found")
    with workspace_store(request) as store:
        return job_object(store, _queue(lambda: actions[action](store, job_id)))


@router.get("/fine_tuning/jobs/{job_id}/events")
async def job_events(job_id: str, request: Request, after: str | None = None, limit: int = 20):
    with workspace_store(request) as store:
        rows, more = _queue(lambda: jobs.events(store, job_id, int(after.removeprefix("ftevent-")) if after else None,
                                                limit))
    data = [{"id": f"ftevent-{e['id']}", "object": "fine_tuning.job.event", "created_at": e["created_at"],
             "level": e["level"], "message": e["message"], "type": e["type"], "data": e["data"]} for e in rows]
    return {"object": "list", "data": data, "has_more": more}


def checkpoint_object(job_id: str, kept: dict) -> dict:
    row = kept["metrics"]
    metrics = {"step": kept["step"], "train_loss": row.get("train_loss"),
               "train_mean_token_accuracy": row.get("train_token_accuracy"), "valid_loss": row.get("valid_loss"),
               "valid_mean_token_accuracy": row.get("valid_token_accuracy"),
               # our validation loss is always over the whole validation set
               "full_valid_loss": row.get("valid_loss"), "full_valid_mean_token_accuracy": row.get("valid_token_accuracy")}
    return {"id": f"ftckpt-{job_id.removeprefix('ftjob-')}-{kept['step']}", "object": "fine_tuning.job.checkpoint",
            "created_at": kept["created_at"], "fine_tuned_model_checkpoint": kept["name"],
            "step_number": kept["step"], "metrics": metrics, "fine_tuning_job_id": job_id}


@router.get("/fine_tuning/jobs/{job_id}/checkpoints")
async def checkpoints(job_id: str, request: Request, after: str | None = None, limit: int = 10):
    """The run's kept checkpoints, newest first (as OpenAI lists them), paginated by checkpoint id."""
    with workspace_store(request) as store:
        job = _queue(lambda: jobs.get(store, job_id))
    run_dir = Path(job["run_dir"]) if job["run_dir"] else None
    kept = models.run_checkpoints(run_dir) if run_dir and (run_dir / "run.json").exists() else []
    data = [checkpoint_object(job_id, c) for c in reversed(kept)]
    if after:
        ids = [c["id"] for c in data]
        if after not in ids:
            raise APIError(404, f"job {job_id} has no checkpoint '{after}' (it may have been pruned: list again)",
                           param="after", code="checkpoint_not_found")
        data = data[ids.index(after) + 1:]
    return {"object": "list", "data": data[:limit], "has_more": len(data) > limit,
            "first_id": data[0]["id"] if data else None, "last_id": data[:limit][-1]["id"] if data else None}
