"""The Models page of the web app (`/models`): the workspace's clones (models.list_clones: each run.json) with
their metrics, their training curves, and the evaluation reports (`selfclone eval --report FILE.html`) found in the
workspace: its folder and reports/, and each run folder. Reports are served by their index in that listing only,
so no other file of the machine can be asked for.

    selfclone eval ft:smollm2-135m:maggie:RUN --report reports/maggie.html
    selfclone serve web                        # then open http://127.0.0.1:8000/models
"""
from __future__ import annotations

from pathlib import Path

from ... import models
from ...errors import SelfcloneError
from ...plugins import hookimpl
from .layout import page

MAIN = """<section class="card"><h3>Clones</h3><table class="grid" id="clones" aria-label="Clones"><thead><tr>
<th>Name</th><th>Method</th><th>Base</th><th>Created</th><th>Steps</th><th>Best valid loss</th><th>Final train loss</th>
<th>Tokens/s</th><th>Status</th><th>Curves</th></tr></thead><tbody></tbody></table>
<p id="no-clones" class="muted" hidden>No clones yet: train one on the Train page or with `selfclone train DATA.jsonl`.</p></section>
<section class="card"><h3>Evaluation reports</h3><ul id="reports" aria-label="Evaluation reports"></ul>
<p id="no-reports" class="muted" hidden>No reports yet: `selfclone eval CLONE --report reports/NAME.html` writes one.</p></section>"""

SCRIPT = """
const fixed = (v, d) => v === null || v === undefined ? "-" : (+v).toFixed(d);
(async () => {
  try {
    const data = await getJSON("/web/models");
    const body = $("clones").tBodies[0];
    for (const c of data.clones) {
      const s = c.summary || {};
      const curves = c.curves ? element("a", {href: c.curves, textContent: "curves"}) : "-";
      const base = (c.base_model || "-").split("/").filter(Boolean).pop();       // a folder: its name (full path on hover)
      const cells = [c.name, c.method, base, (c.created || "").slice(0, 16).replace("T", " "), s.steps,
                     fixed(s.best_valid_loss, 3), fixed(s.final_train_loss, 3), s.tokens_per_second, c.status];
      const row = element("tr", {}, ...cells.map((v) => element("td", {textContent: v ?? "-"})), element("td", {}, curves));
      row.cells[2].title = c.base_model || "";
      body.appendChild(row);
    }
    $("no-clones").hidden = data.clones.length > 0;
    for (const r of data.reports) {
      $("reports").appendChild(element("li", {}, element("a", {href: r.url, textContent: r.name}),
                                       element("span", {className: "muted", textContent: "  " + r.where})));
    }
    $("no-reports").hidden = data.reports.length > 0;
  } catch (err) { showError(err); }
})();
"""


def clones(runs_dir: Path | None) -> list[dict]:
    """Every clone with the fields the page shows, and the URL of its curves when it has them."""
    rows = []
    for index, run in enumerate(models.list_clones(runs_dir)):
        curves = Path(run["run_dir"]) / "curves.png"
        rows.append({"name": run.get("name") or Path(run["run_dir"]).name, "method": run.get("method"),
                     "base_model": run.get("base_model"), "created": run.get("created"), "status": run.get("status"),
                     "summary": run.get("summary") or {}, "run_dir": run["run_dir"],
                     "curves": f"/web/models/{index}/curves.png" if curves.exists() else None})
    return rows


def reports(workspace) -> list[Path]:
    """HTML evaluation reports: the workspace folder and its reports/ (recursively), and each run folder."""
    if workspace is None:
        return []
    found = list(workspace.root.glob("*.html")) + list((workspace.root / "reports").rglob("*.html"))
    for run in models.list_clones(workspace.runs_dir):
        found += Path(run["run_dir"]).glob("*.html")
    return sorted(set(found), key=lambda p: p.stat().st_mtime, reverse=True)


class ModelsPage:
    name = "models"
    title = "Models"
    position = 50             # its place in the sidebar

    def router(self, site):
        from fastapi import APIRouter
        from fastapi.responses import FileResponse, HTMLResponse

        router = APIRouter()
        runs = site.workspace.runs_dir if site.workspace else None

        def nth(items: list, index: int, what: str):
            if not 0 <= index < len(items):
                raise SelfcloneError(f"no {what} number {index} here", "reload the Models page")
            return items[index]

        @router.get("/models", response_class=HTMLResponse)
        async def models_page():
            return page("Models", MAIN, script=SCRIPT)

        @router.get("/web/models")
        def listing():
            root = site.workspace.root if site.workspace else None
            shown = []
            for index, path in enumerate(reports(site.workspace)):
                where = str(path.parent.relative_to(root)) if root and path.is_relative_to(root) else str(path.parent)
                shown.append({"name": path.name, "where": where, "url": f"/web/reports/{index}/{path.name}"})
            return {"clones": clones(runs), "reports": shown}

        @router.get("/web/models/{index}/curves.png")
        def curves(index: int):
            return FileResponse(Path(nth(clones(runs), index, "clone")["run_dir"]) / "curves.png")

        @router.get("/web/reports/{index}/{name}", response_class=HTMLResponse)
        def report(index: int, name: str):
            return FileResponse(nth(reports(site.workspace), index, "report"), media_type="text/html")

        return router


@hookimpl
def register_web_pages(register):
    register(ModelsPage)
