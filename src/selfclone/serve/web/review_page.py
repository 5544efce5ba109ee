"""The Review page of the web app (`/review`): the clone's stored replies one by one, through the same code as
`selfclone review` (persona/review.py): keep, edit or reject each. Kept and edited replies become training
examples with their context; an edit, or a rejection with what the person would have said, becomes a preference
pair against the clone's reply.

    selfclone serve web ft:smollm2-135m:maggie:RUN     # then open http://127.0.0.1:8000/review
"""
from __future__ import annotations

from ...errors import DataError
from ...persona.review import pending, record
from ...plugins import hookimpl
from .layout import page

MAIN = """<p id="left" class="muted" role="status"></p>
<section id="item" class="card" hidden><h3 id="where"></h3><ol id="prompt" class="prompt"></ol>
<h3>The clone said</h3><ol class="prompt"><li id="reply" class="assistant"></li></ol>
<label for="edited">What you would have said (for Edit, and optionally for Reject)</label>
<textarea id="edited" class="edit" rows="3"></textarea>
<div class="actions"><button id="keep" class="primary" type="button">Keep</button>
<button id="edit" type="button">Save my edit</button><button id="reject" type="button">Reject</button>
<button id="skip" type="button">Skip</button></div></section>
<p id="done" class="muted" hidden>Nothing left to review: a conversation comes here when it ends (Reset on the Chat page, /reset or a silence in a bot, the end of `selfclone chat`).</p>"""

SCRIPT = """
let item = null;
const skipped = [];
function show(data) {
  item = data.item;
  $("left").textContent = data.left + " replies to review" + (data.counts ? "; this visit: " + data.counts : "");
  $("item").hidden = !item; $("done").hidden = !!item;
  if (!item) return;
  $("where").textContent = "Conversation " + item.conversation_id + " with " + item.model;
  $("prompt").replaceChildren(...item.prompt.map((m) => element("li", {className: m.role, textContent: m.content})));
  $("reply").textContent = item.reply;
  $("edited").value = "";
  $("keep").focus();
}
async function next() {
  try { show(await postJSON("/web/review/next", {skip: skipped})); } catch (err) { showError(err); }
}
const counts = {keep: 0, edit: 0, reject: 0};
async function verdict(kind) {
  showError();
  try {
    await postJSON("/web/review", {conversation_id: item.conversation_id, turn: item.turn, verdict: kind,
                                   edited: $("edited").value});
    counts[kind] += 1;
    const data = await postJSON("/web/review/next", {skip: skipped});
    data.counts = "kept " + counts.keep + ", edited " + counts.edit + ", rejected " + counts.reject;
    show(data);
  } catch (err) { showError(err); }
}
$("keep").onclick = () => verdict("keep");
$("edit").onclick = () => verdict("edit");
$("reject").onclick = () => verdict("reject");
$("skip").onclick = () => { skipped.push([item.conversation_id, item.turn]); next(); };
next();
"""


class ReviewPage:
    name = "review"
    title = "Review"
    position = 20             # its place in the sidebar

    def router(self, site):
        from fastapi import APIRouter
        from fastapi.responses import HTMLResponse

        router = APIRouter()

        @router.get("/review", response_class=HTMLResponse)
        async def review_page():
            return page("Review", MAIN, script=SCRIPT)

        @router.post("/web/review/next")
        def next_item(body: dict):
            skip = {tuple(pair) for pair in body.get("skip") or ()}
            with site.open_store("reviewing") as store:
                items = [i for i in pending(store) if (i.conversation_id, i.turn) not in skip]
            if not items:
                return {"item": None, "left": 0}
            first = items[0]
            return {"left": len(items), "item": {"conversation_id": first.conversation_id, "turn": first.turn,
                                                 "model": first.model, "prompt": list(first.prompt[-6:]),
                                                 "reply": first.reply}}

        @router.post("/web/review")
        def give_verdict(body: dict):
            key = (int(body.get("conversation_id") or 0), int(body.get("turn") or 0))
            with site.open_store("reviewing") as store:
                item = next((i for i in pending(store) if (i.conversation_id, i.turn) == key), None)
                if item is None:
                    raise DataError("this reply is not waiting for a review any more", "reload the page")
                verdict = str(body.get("verdict") or "")
                edited = body.get("edited") or None
                if verdict == "edit" and not (edited and edited.strip()):
                    raise DataError("an edit needs the text you would have said", "type it in the box, then Save")
                record(store, item, verdict, edited)
            return {"saved": verdict}

        return router


@hookimpl
def register_web_pages(register):
    register(ReviewPage)
