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
from ..serve.web.layout import page
from .judgements import Judgements
from .turing import KIND, TuringGame

MAIN = """<section class="card"><form id="start" class="row"><label>Session <input id="session" value="stranger-1"></label>
<label>Held-out file <input id="heldout" size="40"></label> <label>Items <input id="n" type="number" value="10" min="1"></label>
<label>Judge <select id="judge"><option>stranger</option><option>acquaintance</option></select></label>
<button class="primary">Start</button></form></section>
<section id="round" class="card" hidden><h3>Which reply is the real one?</h3><ol id="context" class="prompt"></ol>
<div class="pair"><button id="a" type="button"></button><button id="b" type="button"></button></div></section>
<p id="score" role="status"></p>"""

SCRIPT = """
let session = null, key = null;
function show(data) {
  $("score").textContent = data.score;
  key = data.next ? data.next.key : null;
  $("round").hidden = !key;
  if (!key) { $("score").textContent = "Done. " + data.score; return; }
  $("context").replaceChildren(...data.next.context.map((m) => element("li", {className: m.role, textContent: m.content})));
  $("a").textContent = data.next.a; $("b").textContent = data.next.b;
}
$("start").onsubmit = async (e) => {
  e.preventDefault(); showError(); $("score").textContent = "the clone is answering...";
  try {
    session = $("session").value;
    show(await postJSON("/web/turing/start", {session, heldout: $("heldout").value, n: +$("n").value, judge: $("judge").value}));
  } catch (err) { showError(err); $("score").textContent = ""; }
};
for (const side of ["a", "b"]) $(side).onclick = async () => show(await postJSON("/web/turing/answer", {session, key, pick: side}));
"""


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
    position = 30             # its place in the sidebar

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
        async def turing_page():
            return page("Turing game", MAIN, script=SCRIPT)

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
