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


def load_thread(store, channel: str, chat_key: str) -> tuple[list[dict], float] | None:
    """A bot user's kept context (history, unix time of its last message), or None when there is none."""
    row = store.db.execute("select history_json, updated_at from chat_threads where channel = ? and chat_key = ?",
                           (channel, chat_key)).fetchone()
    return (json.loads(row[0]), row[1]) if row else None


def save_thread(store, channel: str, chat_key: str, model: str, history: list[dict], updated_at: float) -> None:
    with store.db:
        store.db.execute(
            "insert into chat_threads(channel, chat_key, model, history_json, updated_at) values (?, ?, ?, ?, ?) "
            "on conflict(channel, chat_key) do update set model = excluded.model, "
            "history_json = excluded.history_json, updated_at = excluded.updated_at",
            (channel, chat_key, model, json.dumps(history, ensure_ascii=False), updated_at))


def clear_thread(store, channel: str, chat_key: str) -> None:
    with store.db:
        store.db.execute("delete from chat_threads where channel = ? and chat_key = ?", (channel, chat_key))


def list_threads(store, channel: str, limit: int = 50) -> list[dict]:
    """A channel's kept conversations, newest first: key, model, last update, first user message."""
    rows = store.db.execute("select chat_key, model, history_json, updated_at from chat_threads where channel = ? "
                            "order by updated_at desc limit ?", (channel, limit)).fetchall()
    out = []
    for key, model, history_json, updated_at in rows:
        history = json.loads(history_json)
        first = next((t["content"] for t in history if t["role"] == "user"), "")
        out.append({"id": key, "model": model, "updated_at": updated_at, "title": first[:60], "turns": len(history)})
    return out
