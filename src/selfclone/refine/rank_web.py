"""The Rank page of the web app (`/rank`): the same ranking flow as `selfclone rank`, over the same `rank_items` and
`rankings` tables. The served model writes n candidates for a prompt (saved before they are shown, so a reload shows
the same ones); the person orders them by dragging or with the Up/Down buttons (keyboard: Alt+ArrowUp/ArrowDown on a
focused candidate), and saves the order, or edits the best one into what they would really say, which also becomes a
new training example. Registered through `register_web_pages`, so the web app (serve) never imports refine, and
this page never imports train.

    selfclone serve web ft:smollm2-135m:maggie:RUN     # then open http://127.0.0.1:8000/rank
"""
from __future__ import annotations

from pathlib import Path

from .. import models
from ..dataset.prompts import prompts_from_file
from ..errors import DataError, SelfcloneError
from ..plugins import hookimpl
from ..serve.web.layout import page
from .rank import RankingLog, RankingSession, Response, workspace_prompts

MAIN = """<section class="card"><form id="start" class="row">
<label>Prompts file <input id="prompts" size="40" placeholder="the workspace's held-out and interview prompts"></label>
<label>Replies per prompt <input id="n" type="number" value="4" min="2" max="8"></label>
<label>Temperature <input id="temperature" type="number" value="0.9" min="0" max="2" step="0.1"></label>
<button class="primary">Next prompt</button></form>
<p id="progress" class="muted" role="status"></p></section>
<section id="item" class="card" hidden><h3>The prompt</h3><ol id="prompt" class="prompt"></ol>
<h3>Order the replies, best first</h3>
<p class="muted">Drag a reply, or focus it and use Up/Down (Alt+Arrow keys). The top one is the best.</p>
<ol id="candidates" class="candidates" aria-label="Replies, best first"></ol><p id="moved" class="muted" aria-live="polite"></p>
<div class="actions"><button id="save" class="primary" type="button">Save this order</button>
<button id="edit" type="button">Edit the best one</button><button id="skip" type="button">Skip</button></div>
<div id="editing" hidden><label for="edited">What you would really say</label>
<textarea id="edited" class="edit" rows="4"></textarea>
<div class="actions"><button id="save-edit" class="primary" type="button">Save the edit as a training example</button></div>
</div></section>"""

SCRIPT = """
let item = null;
const list = $("candidates");
function order() { return [...list.children].map((li) => +li.dataset.index); }
function move(li, step) {
  const to = step < 0 ? li.previousElementSibling : li.nextElementSibling?.nextElementSibling;
  if (step < 0 && !to) return;
  list.insertBefore(li, to || null);
  li.querySelector(step < 0 ? ".up" : ".down").focus();
  announce(li);
}
function announce(li) {
  $("moved").textContent = "Reply " + (+li.dataset.index + 1) + " is now in place " + ([...list.children].indexOf(li) + 1);
}
function candidate(text, index) {
  const li = element("li", {draggable: true, tabIndex: -1});
  li.dataset.index = index;
  const up = element("button", {type: "button", className: "up", textContent: "Up", onclick: () => move(li, -1)});
  const down = element("button", {type: "button", className: "down", textContent: "Down", onclick: () => move(li, 1)});
  up.setAttribute("aria-label", "Move reply " + (index + 1) + " up");
  down.setAttribute("aria-label", "Move reply " + (index + 1) + " down");
  li.append(element("span", {className: "text", textContent: text}), up, down);
  li.addEventListener("keydown", (e) => {
    if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) { e.preventDefault(); move(li, e.key === "ArrowUp" ? -1 : 1); }
  });
  li.addEventListener("dragstart", (e) => { li.classList.add("dragging"); e.dataTransfer.effectAllowed = "move"; });
  li.addEventListener("dragend", () => { li.classList.remove("dragging"); announce(li); });
  return li;
}
list.addEventListener("dragover", (e) => {
  e.preventDefault();
  const dragging = list.querySelector(".dragging");
  const after = [...list.children].find((li) => li !== dragging && e.clientY < li.getBoundingClientRect().top + li.offsetHeight / 2);
  if (dragging) list.insertBefore(dragging, after || null);
});
function settings() { return {prompts: $("prompts").value, n: +$("n").value, temperature: +$("temperature").value}; }
function show(data) {
  $("progress").textContent = data.progress;
  item = data.item;
  $("item").hidden = !item;
  $("editing").hidden = true;
  if (!item) { $("progress").textContent = "Nothing left to rank. " + data.progress; return; }
  $("prompt").replaceChildren(...item.prompt.map((m) => element("li", {className: m.role, textContent: m.content})));
  list.replaceChildren(...item.candidates.map(candidate));
  list.querySelector("button").focus();
}
async function next() {
  showError(); $("progress").textContent = "the clone is writing candidates...";
  try { show(await postJSON("/web/rank/next", settings())); } catch (err) { showError(err); $("progress").textContent = ""; }
}
async function apply(body) {
  showError();
  try { await postJSON("/web/rank/apply", {item: item.id, ...body}); await next(); } catch (err) { showError(err); }
}
$("start").onsubmit = (e) => { e.preventDefault(); next(); };
$("save").onclick = () => apply({kind: "order", order: order()});
$("skip").onclick = () => apply({kind: "skip"});
$("edit").onclick = () => {
  $("editing").hidden = false;
  $("edited").value = item.candidates[order()[0]];
  $("edited").focus();
};
$("save-edit").onclick = () => apply({kind: "edit", order: [order()[0]], edited: $("edited").value});
"""


def model_key(site) -> str:
    """The name rankings are stored under, as `selfclone rank` stores them: a clone's or embedded model's name."""
    runs = site.workspace.runs_dir if site.workspace else None
    try:
        ref = models.resolve(site.model, runs)
    except SelfcloneError:
        return site.model            # a remote or plugin backend's own model name
    return ref.name if ref.kind in ("clone", "embedded", "hub") else str(Path(site.model).expanduser().resolve())


class RankPage:
    name = "rank"
    title = "Rank"
    position = 10             # its place in the sidebar

    def router(self, site):
        from fastapi import APIRouter
        from fastapi.responses import HTMLResponse

        router = APIRouter()
        key = model_key(site)

        def session(store, body: dict) -> RankingSession:
            ws = site.workspace
            given = str(body.get("prompts") or "").strip()
            if not given and ws is None:
                raise DataError("no prompts to rank", "give a prompts file (chat JSONL, or one question per line)")
            prompts = (prompts_from_file(Path(given).expanduser(), ws.config.system or None if ws else None) if given
                       else workspace_prompts(ws, store))
            n = int(body.get("n") or 4)
            if n < 2:
                raise DataError(f"candidates must be at least 2 to compare, got {n}", "use 4")
            options = site.options.with_(temperature=float(body.get("temperature") or 0.9), top_p=0.95)
            return RankingSession(RankingLog(store), key, site.backend, prompts, n, options)

        def state(store, item) -> dict:
            counts = RankingLog(store).counts(key)
            progress = f"{counts.get('ranked', 0)} ranked, {counts.get('skipped', 0)} skipped for {key}"
            if item is None:
                return {"item": None, "progress": progress}
            return {"item": {"id": item.id, "prompt": list(item.prompt.messages), "candidates": list(item.candidates)},
                    "progress": progress}

        @router.get("/rank", response_class=HTMLResponse)
        async def rank_page():
            return page("Rank", MAIN, script=SCRIPT)

        @router.post("/web/rank/next")
        def next_item(body: dict):
            with site.open_store("ranking") as store:
                return state(store, session(store, body).next_item())

        @router.post("/web/rank/apply")
        def apply(body: dict):
            with site.open_store("ranking") as store:
                log = RankingLog(store)
                item = next((i for i in log.pending(key) if i.id == int(body.get("item") or 0)), None)
                if item is None:
                    raise DataError("this prompt is not waiting for a ranking any more", "press Next prompt")
                kind = str(body.get("kind") or "")
                if kind not in ("order", "edit", "skip"):
                    raise DataError(f"unknown ranking kind {kind!r}", "order, edit or skip")
                order = tuple(int(i) for i in body.get("order") or ())
                RankingSession(log, key, site.backend, (), len(item.candidates), site.options).apply(
                    item, Response(kind, order), body.get("edited"))
                return {"saved": kind, **state(store, None)}

        return router


@hookimpl
def register_web_pages(register):
    register(RankPage)
