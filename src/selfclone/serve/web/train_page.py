"""The Train page of the web app (`/train`): upload a file (POST /v1/files), see the dataset doctor's findings for
it (the file's status and `status_details`, then `selfclone prepare`'s checks through dataset/validate.prepare,
nothing changed on disk), start a fine-tuning job (POST /v1/fine_tuning/jobs: the queue the worker that `serve
web` starts runs), and watch its progress bar and live loss and token-accuracy curves from the job's events
(type "metrics"), polled once a second. The curves are plain SVG (static/train.js): nothing is loaded from a CDN.

    selfclone serve web        # then open http://127.0.0.1:8000/train
"""
from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool

from ...dataset.validate import prepare
from ...errors import DataError, SelfcloneError
from ...plugins import hookimpl
from .layout import page

MAIN = """<section class="card"><h3>1. Upload training data</h3>
<form id="upload" class="row"><label>Chat JSONL (or DPO pairs) <input id="file" type="file" accept=".jsonl,.json"></label>
<button class="primary">Upload</button></form>
<div id="doctor" hidden><p><span class="status" id="file-status"></span> <span id="file-details"></span></p>
<p id="doctor-summary" class="muted" role="status"></p><ul id="findings" aria-label="Findings"></ul></div></section>
<section class="card" id="job-form" hidden><h3>2. Start a fine-tuning job</h3>
<form id="start" class="row"><label>Base model <input id="model" size="32"></label>
<label>Name suffix <input id="suffix" size="12" placeholder="optional"></label>
<label>Method <select id="method"><option value="supervised">supervised (SFT)</option><option value="dpo">dpo</option></select></label>
<label>Epochs <input id="epochs" type="number" min="1" max="50" placeholder="auto"></label>
<button class="primary">Start training</button></form></section>
<section class="card" id="job" hidden><h3>3. Training <span id="job-id" class="muted"></span></h3>
<p><span class="status" id="job-status" role="status"></span> <span id="job-step" class="muted"></span></p>
<progress id="progress" max="1" value="0" aria-label="Training progress"></progress>
<div class="charts"><div class="chart"><h3>Loss</h3><svg id="loss" viewBox="0 0 400 180" role="img" aria-label="Loss curves"></svg>
<p class="legend"><span><i style="background:#8a5a00"></i>train_loss</span><span><i style="background:#2a6fdb"></i>valid_loss</span></p></div>
<div class="chart"><h3>Token accuracy</h3><svg id="accuracy" viewBox="0 0 400 180" role="img" aria-label="Token accuracy curves"></svg>
<p class="legend"><span><i style="background:#8a5a00"></i>train</span><span><i style="background:#2a6fdb"></i>valid</span></p></div></div>
<ol id="events" class="muted" aria-label="Job events"></ol>
<div class="actions"><button id="cancel" type="button">Cancel the job</button></div></section>"""


def findings(path: Path) -> dict:
    """The doctor's report on an uploaded file: each check's finding (severity, message, first rows, the fix)."""
    prep = prepare(path)
    return {"examples": len(prep.examples), "complete": prep.complete, "blocking": len(prep.blocking),
            "notices": prep.notices,
            "findings": [{"check": f.check, "severity": f.severity, "message": f.message, "rows": f.rows[:10],
                          "fix": f.fix.description if f.fix else None, "applied": f.applied} for f in prep.findings]}


class TrainPage:
    name = "train"
    title = "Train"
    position = 40             # its place in the sidebar

    def router(self, site):
        from fastapi import APIRouter
        from fastapi.responses import HTMLResponse

        router = APIRouter()

        @router.get("/train", response_class=HTMLResponse)
        async def train_page():
            return page("Train", MAIN, scripts=("/static/train.js",))

        @router.get("/web/files/{file_id}/doctor")
        async def doctor(file_id: str):
            with site.open_store("training") as store:
                row = store.db.execute("select path from api_files where id = ?", (file_id,)).fetchone()
            if row is None:
                raise DataError(f"no uploaded file with id '{file_id}'", "upload it again")
            try:
                return await run_in_threadpool(findings, Path(row["path"]))
            except SelfcloneError as exc:
                return {"examples": 0, "complete": False, "blocking": 1, "notices": [],
                        "findings": [{"check": "read", "severity": "error", "message": exc.message, "rows": [],
                                      "fix": exc.hint, "applied": None}]}

        return router


@hookimpl
def register_web_pages(register):
    register(TrainPage)
