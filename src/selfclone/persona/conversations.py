"""The store's `conversations` table: every conversation held in chat, the web app or a bot, kept so it can be
reviewed and fed back into training.

    with ws.store() as store:
        save_conversation(store, "ft:smollm2-135m:maggie:RUN", "chat", session.transcript())
"""
from __future__ import annotations

import json


def save_conversation(store, model: str, channel: str, messages: list[dict]) -> int:
    with store.db:
        cur = store.db.execute("insert into conversations(model, channel, messages_json) values (?, ?, ?)",
                               (model, channel, json.dumps(messages, ensure_ascii=False)))
    return cur.lastrowid
