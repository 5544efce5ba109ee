"""The Turing game in the web app (`/turing`): the same TuringGame as `selfclone turing`, stored in the same tables.
A friend starts a session on a held-out file, the clone answers each item once, then the friend picks the real
reply of each pair; the score shows with its 95% Wilson interval. Registered through `register_web_pages`, so the
web app (serve) never imports evaluate.

    selfclone serve web ft:smollm2-135m:maggie:RUN     # then open http://127.0.0.1:8000/turing
"""
from __future__ import annotations

from pathlib import Path

from ..dataset.chat import read_examples
from ..errors import DataError
from ..plugins import hookimpl
from .judgements import Judgements
from .turing import KIND, TuringGame

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>selfclone: Turing game</title>
<link rel="stylesheet" href="/static/style.css"></head><body><main>
<h1>Turing game</h1><p><a href="/">Chat</a></p>
<form id="start"><label>Session <input id="session" value="stranger-1"></label>
<label>Held-out file <input id="heldout" size="50"></label> <label>Items <input id="n" type="number" value="10" min="1"></label>
<label>Judge <select id="judge"><option>stranger</option><option>acquaintance</option></select></label>
<button>Start</button></form>
<section id="round" hidden><h2>Which reply is the real one?</h2><ol id="context"></ol>
<div class="pair"><button id="a" type="button"></button><button id="b" type="button"></button></div></section>
<p id="score" role="status"></p><p id="error" class="error"></p>
<script>
const $ = (id) => document.getElementById(id);
let session = null, key = null;
async function post(url, body) {
  const r = await fetch(url, {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
  const data = await r.json();
  if (!r.ok) throw new Error(data.error.message + (data.error.hint ? " (" + data.error.hint + ")" : ""));
  return data;
}
function show(data) {
  $("score").textContent = data.score;
  key = data.next ? data.next.key : null;
  $("round").hidden = !key;
  if (!key) { $("score").textContent = "Done. " + data.score; return; }
  $("context").replaceChildren(...data.next.context.map((m) => {
    const li = document.createElement("li"); li.textContent = m.role + ": " + m.content; return li; }));
  $("a").textContent = data.next.a; $("b").textContent = data.next.b;
}
$("start").onsubmit = async (e) => {
  e.preventDefault(); $("error").textContent = ""; $("score").textContent = "the clone is answering...";
  try {
    session = $("session").value;
    show(await post("/web/turing/start", {session, heldout: $("heldout").value, n: +$("n").value, judge: $("judge").value}));
  } catch (err) { $("error").textContent = err.message; $("score").textContent = ""; }
};
for (const side of ["a", "b"]) $(side).onclick = async () => show(await post("/web/turing/answer", {session, key, pick: side}));
</script></main></body></html>"""


def _state(game: TuringGame) -> dict:
    score = game.score()
    pending = game.pending()
    state = {"score": str(score), "right": score.successes, "answered": score.n, "next": None}
    if score.n:
        state["interval"] = list(score.interval)
    if pending:
        key, item = pending[0]
        state["next"] = {"key": key, "context": item["context"], **game.sides(key)}
    return state


class TuringPage:
    name = "turing"
    title = "Turing game"

    def router(self, site):
        from fastapi import APIRouter
        from fastapi.responses import HTMLResponse

        router = APIRouter()

        def game(store, body: dict) -> TuringGame:
            heldout = Path(str(body.get("heldout") or "")).expanduser()
            if not heldout.is_file():
                raise DataError("held-out file not found", "give the path of the person's real conversations "
                                "(chat JSONL) on this machine", path=heldout)
            return TuringGame.open(store, str(body.get("session") or "stranger-1"), model=site.model,
                                   judge_kind=str(body.get("judge") or "stranger"), heldout=read_examples(heldout),
                                   n=int(body.get("n") or 10), heldout_path=str(heldout))

        @router.get("/turing", response_class=HTMLResponse)
        async def page():
            return PAGE

        @router.post("/web/turing/start")
        def start(body: dict):
            with site.store() as store:
                played = game(store, body)
                played.generate(site.backend, site.options)
                return _state(played)

        @router.post("/web/turing/answer")
        def answer(body: dict):
            with site.store() as store:
                book = Judgements(store, KIND, str(body["session"]))
                played = TuringGame(book, book.meta)
                played.answer(str(body["key"]), str(body["pick"]))
                return _state(played)

        return router


@hookimpl
def register_web_pages(register):
    register(TuringPage)
