"""Ranking candidate replies: the clone writes n diverse candidates per prompt, the person orders them.

Prompts come from a --prompts file (chat JSONL, or plain text with one question per line), else from the
workspace: held-out chat files in data/ (names with "heldout" or "valid") and the questions of interview
answers. Every step is committed to the store at once: candidates are saved (table rank_items) before they
are shown, and a ranking the moment it is given, so a killed session resumes at the same prompt with the
same candidates. The terminal loop is `selfclone rank` in refine/commands.py; this module never prints.

What a line of input means (parse_response):
    2 1 4 3     the full order, best first
    b2 w4       only the best and the worst
    e2          edit candidate 2 into what you would really say (the edit becomes the best, and a new
                supervised example in the store's examples table)
    s / q       skip this prompt / quit

    with ws.store() as store:
        session = RankingSession(RankingLog(store), "ft:...", backend, prompts, n=4)
        while (item := session.next_item()) is not None:
            session.apply(item, parse_response(input(), len(item.candidates)))
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..dataset.chat import Example, Turn
from ..errors import DataError
from ..dataset.preferences import check_ranking, insert_ranking
from ..dataset.prompts import RankPrompt, example_prompt, heldout_files, prompts_from_file


@dataclass(frozen=True)
class RankItem:
    id: int
    model: str
    prompt: RankPrompt
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class Response:
    """One parsed line: kind is order, best_worst, edit, skip or quit; `order` holds 0-based indexes."""

    kind: str
    order: tuple[int, ...] = ()


class RankInputError(DataError):
    """A line of ranking input that does not parse; the session asks again."""


# --- prompts --------------------------------------------------------------------------------------------

def workspace_prompts(ws, store) -> list[RankPrompt]:
    """Held-out prompts from the workspace's data/ and the questions of the person's interview answers."""
    from ..collect.interview import InterviewLog
    from ..dataset.chat import read_examples

    prompts = [example_prompt(e, "heldout") for path in heldout_files(ws.data_dir) for e in read_examples(path)]
    system = ws.config.system or None
    for answer in InterviewLog(store).answers():
        example = answer.question.example(answer.answer, system)
        prompts.append(example_prompt(example, "interview"))
    if not prompts:
        raise DataError(f"no prompts to rank: no held-out files in {ws.data_dir} and no interview answers",
                        "pass --prompts FILE (chat JSONL, or one question per line), or run `selfclone interview`")
    return list({p.key: p for p in prompts}.values())


# --- candidates -----------------------------------------------------------------------------------------

def distinct(texts: Sequence[str], seen: dict[str, str] | None = None) -> dict[str, str]:
    """Stripped non-empty texts keyed by their case- and space-insensitive form: repeats collapse to one."""
    seen = {} if seen is None else seen
    for text in texts:
        text = text.strip()
        key = " ".join(text.lower().split())
        if key and key not in seen:
            seen[key] = text
    return seen


def generate_candidates(backend, messages: Sequence[dict], n: int, options, seed: int, attempts: int = 3) -> list[str]:
    """n different replies: sample with the given options, drop repeats and empty ones, sample again for the rest."""
    seen: dict[str, str] = {}
    for attempt in range(attempts):
        want = n - len(seen)
        if want <= 0:
            break
        distinct(backend.candidates(list(messages), options.with_(n=max(want, 2), seed=seed + 1009 * attempt)), seen)
    return list(seen.values())[:n]


# --- the store ------------------------------------------------------------------------------------------

class RankingLog:
    """rank_items (candidates awaiting a ranking) and rankings, committed one at a time."""

    def __init__(self, store):
        self.db = store.db

    def _item(self, row) -> RankItem:
        prompt = RankPrompt(tuple(json.loads(row["prompt_json"])), row["reference"], row["source"])
        return RankItem(row["id"], row["model"], prompt, tuple(json.loads(row["candidates_json"])))

    def pending(self, model: str) -> list[RankItem]:
        rows = self.db.execute("select * from rank_items where model = ? and status = 'pending' order by id", (model,))
        return [self._item(r) for r in rows]

    def done_keys(self, model: str) -> set[str]:
        rows = self.db.execute("select prompt_key from rank_items where model = ? and status != 'pending'", (model,))
        return {r[0] for r in rows}

    def counts(self, model: str) -> dict[str, int]:
        rows = self.db.execute("select status, count(*) from rank_items where model = ? group by status", (model,))
        return {r[0]: r[1] for r in rows}

    def add_item(self, model: str, prompt: RankPrompt, candidates: Sequence[str]) -> RankItem:
        with self.db:
            cur = self.db.execute("insert into rank_items(model, prompt_key, prompt_json, reference, source, "
                                  "candidates_json) values (?, ?, ?, ?, ?, ?)",
                                  (model, prompt.key, json.dumps(prompt.messages, ensure_ascii=False),
                                   prompt.reference, prompt.source, json.dumps(list(candidates), ensure_ascii=False)))
        return RankItem(cur.lastrowid, model, prompt, tuple(candidates))

    def skip(self, item: RankItem) -> None:
        with self.db:
            self.db.execute("update rank_items set status = 'skipped' where id = ?", (item.id,))

    def save_ranking(self, item: RankItem, kind: str, order: Sequence[int], edited: str | None = None) -> int:
        """Store the ranking and mark the item ranked, in one transaction; an edit also becomes an example."""
        check_ranking(len(item.candidates), order, kind)
        with self.db:
            ranking_id = insert_ranking(self.db, item.model, item.prompt.messages, item.candidates, order, kind,
                                        edited, item.id)
            self.db.execute("update rank_items set status = 'ranked' where id = ?", (item.id,))
            if edited is not None:
                turns = [Turn(m["role"], m["content"]) for m in item.prompt.messages] + [Turn("assistant", edited)]
                messages_json = json.dumps(Example(tuple(turns)).to_dict()["messages"], ensure_ascii=False)
                self.db.execute("insert or ignore into examples(source, origin, messages_json, fingerprint) "
                                "values ('rank', ?, ?, ?)", (item.model, messages_json,
                                                             hashlib.sha1(messages_json.encode()).hexdigest()))
        return ranking_id


# --- input ----------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"\d+")


def parse_response(line: str, n: int) -> Response:
    """Parse one line of ranking input for `n` candidates; RankInputError says what to type instead."""
    text = line.strip().lower()
    if text in ("q", "quit"):
        return Response("quit")
    if text in ("s", "skip"):
        return Response("skip")
    help_ = (f"type the order best first (e.g. {' '.join(str(i + 1) for i in range(n))}), "
             "b1 w3 for best and worst, e2 to edit candidate 2, s to skip, q to quit")
    if not text:
        raise RankInputError("nothing typed", help_)
    if "=" in text:
        raise RankInputError("ties are not allowed: every candidate needs its own place", help_)
    tokens = text.replace(",", " ").split()
    try:
        if len(tokens) == 1 and tokens[0].startswith("e"):
            order, kind = (int(tokens[0][1:]) - 1,), "edit"
        elif tokens and all(t[:1] in ("b", "w") for t in tokens):
            marks = {t[0]: int(t[1:]) - 1 for t in tokens}
            if len(tokens) != 2 or set(marks) != {"b", "w"}:
                raise RankInputError("give one best and one worst, e.g. b2 w4", help_)
            order, kind = (marks["b"], marks["w"]), "best_worst"
        elif all(_NUMBER.fullmatch(t) for t in tokens):
            order, kind = tuple(int(t) - 1 for t in tokens), "order"
        else:
            raise RankInputError(f"could not read {line.strip()!r}", help_)
    except ValueError:
        raise RankInputError(f"could not read {line.strip()!r}", help_) from None
    if n < 2 and kind != "edit":
        raise RankInputError("there is only one candidate: nothing to order", "edit it (e1) or skip (s)")
    try:
        check_ranking(n, order, kind)
    except DataError as exc:
        raise RankInputError(exc.message, exc.hint or help_) from None
    return Response(kind, order)


# --- the session ----------------------------------------------------------------------------------------

@dataclass
class RankingSession:
    """Walks the prompts: unfinished items first (same candidates as before), then new prompts in order."""

    log: RankingLog
    model: str
    backend: object
    prompts: Sequence[RankPrompt]
    n: int
    options: object
    seed: int = 0
    limit: int | None = None                  # stop after this many rankings in this session
    on_generate: Callable[[RankPrompt], None] | None = None
    ranked_now: int = 0

    def next_item(self) -> RankItem | None:
        if self.limit is not None and self.ranked_now >= self.limit:
            return None
        pending = self.log.pending(self.model)
        if pending:
            return pending[0]
        done = self.log.done_keys(self.model)
        for index, prompt in enumerate(self.prompts):
            if prompt.key in done:
                continue
            if self.on_generate:
                self.on_generate(prompt)
            candidates = generate_candidates(self.backend, prompt.messages, self.n, self.options,
                                             self.seed + 7919 * index)
            return self.log.add_item(self.model, prompt, candidates)
        return None

    def apply(self, item: RankItem, response: Response, edited: str | None = None) -> None:
        """Save what the person decided (quit saves nothing: the item stays pending for next time)."""
        if response.kind == "skip":
            self.log.skip(item)
        elif response.kind == "edit":
            if not edited or not edited.strip():
                raise RankInputError("the edit is empty", "type the reply as you would write it, or s to skip")
            self.log.save_ranking(item, "edit", response.order, edited.strip())
            self.ranked_now += 1
        elif response.kind in ("order", "best_worst"):
            self.log.save_ranking(item, response.kind, response.order)
            self.ranked_now += 1


# --- opening a session ---------------------------------------------------------------------------------

class LazyBackend:
    """Opens the model only when new candidates are needed: resuming pending items starts at once."""

    def __init__(self, model: str, runs_dir: Path):
        self.model, self.runs_dir, self._backend = model, runs_dir, None

    def candidates(self, messages, options):
        if self._backend is None:
            from ..backends.registry import open_backend

            self._backend = open_backend(self.model, workspace_runs=self.runs_dir)
        return self._backend.candidates(messages, options)


def open_session(ws, store, model: str, prompts_file: Path | None, n: int, temperature: float,
                 max_tokens: int | None, seed: int, limit: int | None = None, rotate: int = 0,
                 on_generate: Callable | None = None) -> RankingSession:
    from ..train.preference_runs import expand_run_id, model_key

    if n < 2:
        raise DataError(f"--n must be at least 2 to compare candidates, got {n}", "use --n 4")
    prompts = prompts_from_file(prompts_file, ws.config.system or None) if prompts_file else workspace_prompts(ws, store)
    if rotate:
        rotate %= len(prompts)
        prompts = prompts[rotate:] + prompts[:rotate]
    options = ws.config.generation.with_(temperature=temperature, top_p=0.95,
                                              max_tokens=max_tokens)
    model = expand_run_id(model, ws.runs_dir)
    return RankingSession(RankingLog(store), model_key(model, ws.runs_dir), LazyBackend(model, ws.runs_dir), prompts,
                          n, options, seed=seed, limit=limit,
                          on_generate=on_generate)
