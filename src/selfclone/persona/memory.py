"""Memory beyond the window: exchanges older than the last `memory` are folded into a running summary by a
summariser (any Backend: the clone itself or a teacher), and what is learned about a person the clone talks to is
kept in the store's `memories` table, per contact, for the next conversation.

    summary = fold(backend, summary, [{"role": "user", "content": "my cat is Pimento"}, ...], options)
    remember(store, "Lowen", summary); recall_memories(store, "Lowen")   # -> ["..."]
"""
from __future__ import annotations

from collections.abc import Sequence

from ..backends.base import Backend
from ..config import GenerationOptions
from ..errors import DataError

SUMMARY_INSTRUCTION = ("Summarise the conversation below in at most three short sentences. Keep every name, "
                       "number, date and fact that was said. Write only the summary.")
SUMMARY_OPTIONS = GenerationOptions(max_tokens=96, temperature=0.0, frequency_penalty=0.0)


def summary_request(summary: str, turns: Sequence[dict]) -> list[dict]:
    """The messages a summariser gets: the instruction, the summary so far and the turns to fold in."""
    lines = [f"Summary so far: {summary}"] if summary else []
    lines += [f"{t['role']}: {t['content']}" for t in turns]
    return [{"role": "system", "content": SUMMARY_INSTRUCTION}, {"role": "user", "content": "\n".join(lines)}]


def fold(summariser: Backend, summary: str, turns: Sequence[dict],
         options: GenerationOptions = SUMMARY_OPTIONS) -> str:
    """The running summary with `turns` folded in."""
    if not turns:
        return summary
    return "".join(summariser.chat(summary_request(summary, turns), options)).strip() or summary


def remember(store, contact: str, fact: str, source: str = "summary") -> int:
    with store.db:
        return store.db.execute("insert into memories(contact, fact, source) values (?, ?, ?)",
                                (contact, fact.strip(), source)).lastrowid


def recall_memories(store, contact: str) -> list[str]:
    return [r[0] for r in store.db.execute("select fact from memories where contact = ? order by id", (contact,))]


def memory_rows(store, contact: str | None = None) -> list[tuple]:
    sql = "select id, contact, fact, source, created_at from memories"
    rows = store.db.execute(sql + (" where contact = ? order by id" if contact else " order by contact, id"),
                            (contact,) if contact else ())
    return [tuple(r) for r in rows]


def forget(store, what: str) -> int:
    """Forget one memory by id, or everything about a contact; returns how many were removed."""
    with store.db:
        if what.isdigit():
            cur = store.db.execute("delete from memories where id = ?", (int(what),))
        else:
            cur = store.db.execute("delete from memories where contact = ?", (what,))
    if cur.rowcount == 0:
        raise DataError(f"no memory '{what}'", "see `selfclone memory list` for ids and contacts")
    return cur.rowcount
