"""Persona presets: character cards kept in the store's `personas` table, and the system prompt each one gives.

A preset's prompt opens with "You are NAME." as the clone's own training frame does (demo and import examples
start that way), then the card's system prompt, description, personality and scenario; it then goes through
persona/frame.py like any context. `{{char}}` and `{{user}}` are filled in as the card format means.

    add_preset(store, new_card("Captain", description="A gruff sea captain."))
    preset_context(get_preset(store, "Captain"))     # -> "You are Captain. A gruff sea captain."
"""
from __future__ import annotations

import json

from ..errors import DataError
from .cards import Card, parse_card


def add_preset(store, card: Card, *, name: str | None = None, replace: bool = False) -> Card:
    name = (name or card.name).strip()
    exists = store.db.execute("select 1 from personas where name = ?", (name,)).fetchone()
    if exists and not replace:
        raise DataError(f"a persona named '{name}' exists already", "pass --replace, or choose another NAME")
    with store.db:
        store.db.execute("insert into personas(name, card_json) values (?, ?) on conflict(name) do update set "
                         "card_json = excluded.card_json", (name, json.dumps(card.to_json(), ensure_ascii=False)))
    return card


def get_preset(store, name: str) -> Card:
    row = store.db.execute("select card_json from personas where name = ?", (name,)).fetchone()
    if row is None:
        known = [r[0] for r in store.db.execute("select name from personas order by name")]
        raise DataError(f"no persona named '{name}'",
                        f"known: {', '.join(known)}" if known else "add one with `selfclone persona add NAME --text T`")
    return parse_card(json.loads(row[0]), f"persona '{name}'")


def list_presets(store) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in store.db.execute("select name, created_at from personas order by name")]


def remove_preset(store, name: str) -> None:
    get_preset(store, name)
    with store.db:
        store.db.execute("delete from personas where name = ?", (name,))


def preset_context(card: Card, user: str = "the user") -> str:
    """The system prompt of a preset, in the clone's frame."""
    data = card.data
    parts = [f"You are {card.name}."]
    for key in ("system_prompt", "description", "personality", "scenario"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
    text = " ".join(parts)
    return text.replace("{{char}}", card.name).replace("{{user}}", user)
