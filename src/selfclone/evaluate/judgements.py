"""Judgements saved as they are given, so a Turing or probe session resumes where it stopped.

Rows live in the workspace store's `judgements(kind, session, item_key, payload_json)` table, unique per
(kind, session, item_key); every answer is committed at once. `wilson` gives the 95% Wilson score interval
of a proportion, which stays honest for the small counts a person can judge in one sitting.

    book = Judgements(store, "turing", "stranger-1")
    book.put("item-3", {"pick": "a"})
    wilson(7, 20)      # (0.18, 0.57)
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

META_KEY = "_session"      # the row that describes a session (model, judge kind, ...)


@dataclass(frozen=True)
class Estimate:
    successes: int
    n: int

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.successes, self.n)

    def __str__(self) -> str:
        if not self.n:
            return "no answers yet"
        low, high = self.interval
        return f"{self.rate:.0%} ({self.successes}/{self.n}; 95% CI {low:.0%}-{high:.0%})"

    def to_dict(self) -> dict:
        low, high = self.interval if self.n else (None, None)
        return {"successes": self.successes, "n": self.n, "rate": self.rate if self.n else None,
                "ci95": [low, high]}


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval for `successes` out of `n` (95% by default)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


class Judgements:
    """One session's rows of one kind ("turing", "probe", ...)."""

    def __init__(self, store, kind: str, session: str):
        self.db, self.kind, self.session = store.db, kind, session

    def get(self, item_key: str) -> dict | None:
        row = self.db.execute("select payload_json from judgements where kind=? and session=? and item_key=?",
                              (self.kind, self.session, item_key)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, item_key: str, payload: dict) -> None:
        with self.db:
            self.db.execute("insert into judgements(kind, session, item_key, payload_json) values (?, ?, ?, ?) "
                            "on conflict(kind, session, item_key) do update set payload_json=excluded.payload_json",
                            (self.kind, self.session, item_key, json.dumps(payload, ensure_ascii=False)))

    def items(self) -> dict[str, dict]:
        """Every item of the session except its description, in the order they were first saved."""
        rows = self.db.execute("select item_key, payload_json from judgements where kind=? and session=? "
                               "and item_key != ? order by id", (self.kind, self.session, META_KEY))
        return {key: json.loads(payload) for key, payload in rows}

    @property
    def meta(self) -> dict | None:
        return self.get(META_KEY)

    @meta.setter
    def meta(self, value: dict) -> None:
        self.put(META_KEY, value)


def sessions(store, kind: str) -> list[str]:
    rows = store.db.execute("select distinct session from judgements where kind=? order by id", (kind,))
    return [r[0] for r in rows]
