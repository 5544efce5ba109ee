"""/v1/files: uploads for fine-tuning, kept in the workspace (data/uploads/) and listed in the `api_files` table.

Each upload is written atomically (a temporary file in the same folder, fsync, rename: a crash never leaves half a
file under a file's name); a full disk answers 507 with what to do. Each upload is read with the dataset's own readers (chat JSONL and legacy prompt/completion through
`dataset/chat.py`, preference pairs for DPO through `dataset/preferences.py`). Content that does not parse is kept
with status `error` and a `status_details` naming the line and the fix; 400 is only for malformed requests.

    client.files.create(file=open("me.jsonl", "rb"), purpose="fine-tune")
"""
from __future__ import annotations

import errno
import time
import uuid
from pathlib import Path

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...dataset.chat import read_examples
from ...dataset.preferences import read_preferences
from ...errors import SelfcloneError
from ...fileio import atomic_open
from ...store import Store
from .errors import APIError

router = APIRouter()
PURPOSES = ("fine-tune",)


def check_content(path: Path) -> tuple[str | None, str, str | None]:
    """(format, status, status_details): chat first, then DPO preference pairs; the chat error is the one shown."""
    try:
        read_examples(path)
        return "chat", "processed", None
    except SelfcloneError as chat_error:
        try:
            read_preferences(path)
            return "preference", "processed", None
        except SelfcloneError:
            return None, "error", str(chat_error).replace(str(path), "the uploaded file")


def write_error(exc: OSError, path: Path, size: int) -> APIError:
    """A failed upload write as the API reports it: a full disk is 507 (Insufficient Storage), anything else 500."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return APIError(507, f"the disk is full: the upload ({size} bytes) could not be saved in {path.parent} "
                             "(nothing was kept): free some space there, or upload a smaller file",
                        type="server_error", code="insufficient_storage")
    return APIError(500, f"the upload could not be saved in {path.parent}: {exc.strerror or exc}",
                    type="server_error", code="file_write_failed")


def save_upload(path: Path, content: bytes) -> None:
    """Write atomically; on any failure nothing is left under `path` or beside it."""
    try:
        with atomic_open(path, "wb") as fh:
            fh.write(content)
    except OSError as exc:
        raise write_error(exc, path, len(content)) from exc


def file_object(row) -> dict:
    return {"id": row["id"], "object": "file", "bytes": row["bytes"], "created_at": row["created_at"],
            "filename": row["filename"], "purpose": row["purpose"], "status": row["status"],
            "status_details": row["status_details"], "expires_at": None}


def workspace_store(request: Request) -> Store:
    path = request.app.state.store_path
    if path is None:
        raise APIError(400, "files need a workspace: start `selfclone serve api` inside one (`selfclone init DIR`)",
                       code="no_workspace")
    return Store(path)


def get_row(store: Store, file_id: str):
    row = store.db.execute("select * from api_files where id = ?", (file_id,)).fetchone()
    if row is None:
        raise APIError(404, f"no file with id '{file_id}' (GET /v1/files lists them)", param="file_id",
                       code="file_not_found")
    return row


@router.post("/files")
async def upload(request: Request, file: UploadFile, purpose: str = Form("fine-tune")):
    if purpose not in PURPOSES:
        raise APIError(400, f"purpose '{purpose}' is not supported here: use one of {', '.join(PURPOSES)}",
                       param="purpose")
    file_id = "file-" + uuid.uuid4().hex[:24]
    with workspace_store(request) as store:
        path = store.path.parent / "data" / "uploads" / f"{file_id}.jsonl"
        content = await file.read()
        await run_in_threadpool(save_upload, path, content)
        fmt, status, details = await run_in_threadpool(check_content, path)
        with store.db:
            store.db.execute("insert into api_files values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (file_id, file.filename or "upload.jsonl", purpose, len(content), str(path), fmt,
                              status, details, int(time.time())))
        return file_object(get_row(store, file_id))


@router.get("/files")
async def list_files(request: Request):
    with workspace_store(request) as store:
        rows = store.db.execute("select * from api_files order by created_at desc, id").fetchall()
        return {"object": "list", "data": [file_object(r) for r in rows], "has_more": False}


@router.get("/files/{file_id}")
async def retrieve(file_id: str, request: Request):
    with workspace_store(request) as store:
        return file_object(get_row(store, file_id))


@router.get("/files/{file_id}/content")
async def content(file_id: str, request: Request):
    with workspace_store(request) as store:
        row = get_row(store, file_id)
    return Response(Path(row["path"]).read_bytes(), media_type="application/jsonl")


@router.delete("/files/{file_id}")
async def delete(file_id: str, request: Request):
    with workspace_store(request) as store:
        row = get_row(store, file_id)
        Path(row["path"]).unlink(missing_ok=True)
        with store.db:
            store.db.execute("delete from api_files where id = ?", (file_id,))
    return {"id": file_id, "object": "file", "deleted": True}
