"""Learning from conversations: the clone's stored replies (the `conversations` table), reviewed one by one.
A kept or edited reply becomes a training example with its context (the `examples` table, source `review`); an
edit, or a rejection with what the person would have said, becomes a preference pair (the `rankings` table, kind
`edit`: the person's text beats the clone's), which `selfclone train --method dpo` and `preferences export` read.

    for item in pending(store):
        record(store, item, "edit", "stewed, five minutes. milk after.")
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from ..dataset.preferences import insert_ranking
from ..errors import DataError

VERDICTS = ("keep", "edit", "reject")


@dataclass(frozen=True)
class ReviewItem:
    conversation_id: int
    model: str
    turn: int                        # index of the assistant message
    prompt: tuple[dict, ...]         # everything before it: the context it answered
    reply: str


def pending(store) -> Iterator[ReviewItem]:
    """Every assistant reply of the stored conversations not reviewed yet, oldest first."""
    done = {(r[0], r[1]) for r in store.db.execute("select conversation_id, turn from reviews")}
    for cid, model, text in store.db.execute("select id, model, messages_json from conversations order by id").fetchall():
        messages = json.loads(text)
        for i, message in enumerate(messages):
            if message.get("role") == "assistant" and (cid, i) not in done and i > 0:
                yield ReviewItem(cid, model, i, tuple(messages[:i]), message.get("content", ""))


def record(store, item: ReviewItem, verdict: str, edited: str | None = None) -> None:
    """Store the verdict, and the example and the preference pair it gives, in one transaction."""
    if verdict not in VERDICTS:
        raise DataError(f"unknown verdict '{verdict}'", f"one of: {', '.join(VERDICTS)}")
    edited = edited.strip() if edited and edited.strip() else None
    if verdict == "edit" and edited is None:
        raise DataError("an edit needs the text the person would have said")
    with store.db:
        store.db.execute("insert into reviews(conversation_id, turn, verdict, edited) values (?, ?, ?, ?)",
                         (item.conversation_id, item.turn, verdict, edited))
        reply = edited if verdict == "edit" else item.reply if verdict == "keep" else None
        if reply is not None:
            messages = list(item.prompt) + [{"role": "assistant", "content": reply}]
            text = json.dumps(messages, ensure_ascii=False)
            origin = f"conversation:{item.conversation_id}"
            key = hashlib.blake2b(f"review\x1f{origin}\x1f{text}".encode(), digest_size=16).hexdigest()
            store.db.execute("insert or ignore into examples(source, origin, messages_json, fingerprint) "
                             "values ('review', ?, ?, ?)", (origin, text, key))
        if edited is not None and edited != item.reply:
            insert_ranking(store.db, item.model, item.prompt, [item.reply], [0], "edit", edited, None)
