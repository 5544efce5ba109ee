"""`selfclone turing`: a judge who is not the person sees a conversation and two replies, the person's real
one and the clone's, in random order, and picks the real one.

A session draws n held-out examples (seeded by its name), has the clone answer them once, and stores every
item (context, both replies, which side is real) before the first question, then each answer as it is
given: stopping with q, Ctrl-C or a crash loses nothing, and the same command resumes. The judge's accuracy
comes with a 95% Wilson interval; 50% means the judge cannot tell them apart (the clone passed half of the
time). Sessions are labelled stranger or acquaintance: people who know the person are harder to fool.

    game = TuringGame.open(store, "stranger-1", model="ft:...", judge_kind="stranger", heldout=examples, n=20)
    game.generate(backend, options)          # only the items whose clone reply is missing
    for key, item in game.pending(): game.answer(key, "a")
    game.score()                             # Estimate: 14/20 right -> 70% (48%-85%)
"""
from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from ..config import GenerationOptions
from ..dataset.chat import Example
from ..errors import ConfigError, DataError
from .generate import generate_replies
from .judgements import Estimate, Judgements, sessions

KIND = "turing"
JUDGE_KINDS = ("stranger", "acquaintance")


def item_key(index: int, example: Example) -> str:
    digest = hashlib.sha1(repr((example.prompt(), example.reply())).encode()).hexdigest()[:8]
    return f"{index:05d}-{digest}"


class TuringGame:
    def __init__(self, book: Judgements, meta: dict):
        self.book, self.meta = book, meta

    @classmethod
    def open(cls, store, session: str, *, model: str, judge_kind: str, heldout: Sequence[Example], n: int,
             heldout_path: str = "") -> "TuringGame":
        """Start the session, or resume it when it exists (with the same model and judge kind)."""
        if judge_kind not in JUDGE_KINDS:
            raise ConfigError(f"--judge-kind must be one of {', '.join(JUDGE_KINDS)}, got {judge_kind!r}")
        book = Judgements(store, KIND, session)
        meta = book.meta
        if meta is not None:
            for field, given in (("model", model), ("judge_kind", judge_kind)):
                if meta[field] != given:
                    raise ConfigError(f"session '{session}' was started with {field} {meta[field]!r}, not {given!r}",
                                      "resume it with the same settings, or start another with --session NAME")
            return cls(book, meta)
        if n < 1:
            raise ConfigError(f"--n must be >= 1, got {n}")
        if len(heldout) < n:
            raise DataError(f"a Turing session of {n} items needs {n} held-out examples, but there are only "
                            f"{len(heldout)}", f"pass --n {len(heldout)} or fewer, or a larger --heldout file",
                            path=heldout_path or None)
        picked = sorted(random.Random(session).sample(range(len(heldout)), n))
        meta = {"model": model, "judge_kind": judge_kind, "n": n, "heldout": heldout_path,
                "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        book.meta = meta
        for index in picked:
            example = heldout[index]
            key = item_key(index, example)
            book.put(key, {"context": [m for m in example.prompt() if m["role"] != "system"],
                           "prompt": example.prompt(), "real": example.reply(), "clone": None,
                           "real_side": random.Random(f"{session}:{key}").choice("ab"), "pick": None})
        return cls(book, meta)

    def items(self) -> dict[str, dict]:
        return self.book.items()

    def missing_replies(self) -> list[str]:
        return [k for k, item in self.items().items() if item["clone"] is None]

    def generate(self, backend, options: GenerationOptions, progress: Callable[[int], None] | None = None) -> None:
        """Have the clone answer every item that has no clone reply yet, and save the replies."""
        items = self.items()
        keys = self.missing_replies()
        replies = generate_replies(backend, [items[k]["prompt"] for k in keys], options, progress=progress)
        for key, reply in zip(keys, replies):
            self.book.put(key, items[key] | {"clone": reply})

    def sides(self, key: str) -> dict[str, str]:
        """{"a": text, "b": text} as the judge sees them."""
        item = self.book.get(key)
        real, clone = item["real"], item["clone"]
        return {"a": real, "b": clone} if item["real_side"] == "a" else {"a": clone, "b": real}

    def pending(self) -> list[tuple[str, dict]]:
        return [(k, item) for k, item in self.items().items() if item["pick"] is None and item["clone"] is not None]

    def answer(self, key: str, pick: str) -> bool:
        """Save the judge's pick ("a" or "b") at once; returns whether it was the real reply."""
        if pick not in ("a", "b"):
            raise ValueError(f"pick must be 'a' or 'b', got {pick!r}")
        item = self.book.get(key)
        correct = pick == item["real_side"]
        self.book.put(key, item | {"pick": pick, "correct": correct,
                                   "answered": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        return correct

    def score(self) -> Estimate:
        answered = [i for i in self.items().values() if i["pick"] is not None]
        return Estimate(sum(bool(i["correct"]) for i in answered), len(answered))


def summary(store) -> list[dict]:
    """Every Turing session with its model, judge kind and accuracy; plus totals per model and judge kind."""
    rows, totals = [], {}
    for name in sessions(store, KIND):
        book = Judgements(store, KIND, name)
        meta = book.meta or {}
        game = TuringGame(book, meta)
        est = game.score()
        rows.append({"session": name, "model": meta.get("model"), "judge_kind": meta.get("judge_kind"),
                     "n": meta.get("n"), "accuracy": est})
        key = (meta.get("model"), meta.get("judge_kind"))
        prev = totals.get(key, Estimate(0, 0))
        totals[key] = Estimate(prev.successes + est.successes, prev.n + est.n)
    for (model, judge_kind), est in totals.items():
        rows.append({"session": "(all)", "model": model, "judge_kind": judge_kind, "n": None, "accuracy": est})
    return rows
