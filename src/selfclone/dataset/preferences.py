"""Preference pairs (the `rankings` table is read and written here): from the person's rankings to (prompt, chosen, rejected), exported and read back.

A ranking says which candidate replies sound more like the person. It becomes pairs:
  order       "2 1 4 3"   every earlier candidate beats every later one (n(n-1)/2 pairs)
  best_worst  "b2 w4"     the best beats every other, every other beats the worst
  edit        "e2"        the person's edited text beats every candidate (it is what they would say)

Two file formats, one JSON object per line:
  dpo    OpenAI's DPO fine-tuning format:
         {"input": {"messages": [...]}, "preferred_output": [{"role": "assistant", "content": "..."}],
          "non_preferred_output": [{"role": "assistant", "content": "..."}]}
  pairs  TRL's conversational preference format (what DPOTrainer and RewardTrainer read):
         {"prompt": [...], "chosen": [{"role": "assistant", ...}], "rejected": [{"role": "assistant", ...}]}

    pairs = pairs_from_store(store, model="ft:smollm2-135m:maggie:...")
    write_preferences("prefs.jsonl", pairs, "dpo")
    pairs = read_preferences("prefs.jsonl")        # either format; DataError names the line and field
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .chat import json_type, parse_turns
from .tables import iter_jsonl
from ..errors import DataError
from ..fileio import input_file, write_jsonl

FORMATS = ("dpo", "pairs")
KINDS = ("order", "best_worst", "edit")


@dataclass(frozen=True)
class PreferencePair:
    prompt: tuple[dict, ...]          # chat messages up to the reply, ending with the user's turn
    chosen: str
    rejected: str
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def prompt_key(self) -> str:
        return json.dumps(self.prompt, sort_keys=True, ensure_ascii=False)

    def to_dpo(self) -> dict:
        return {"input": {"messages": list(self.prompt)},
                "preferred_output": [{"role": "assistant", "content": self.chosen}],
                "non_preferred_output": [{"role": "assistant", "content": self.rejected}]}

    def to_pairs(self) -> dict:
        return {"prompt": list(self.prompt), "chosen": [{"role": "assistant", "content": self.chosen}],
                "rejected": [{"role": "assistant", "content": self.rejected}]}


@dataclass(frozen=True)
class Ranking:
    """One stored ranking: `order` holds candidate indexes, best first (for `edit`: the edited candidate)."""

    id: int
    model: str
    prompt: tuple[dict, ...]
    candidates: tuple[str, ...]
    order: tuple[int, ...]
    kind: str = "order"
    edited: str | None = None

    def pairs(self) -> list[PreferencePair]:
        """The pairs this ranking implies; identical texts on both sides (a tie) give no pair."""
        c, meta = self.candidates, {"ranking": self.id, "model": self.model}
        if self.kind == "edit":
            wins = [(self.edited, text) for text in c]
        elif self.kind == "best_worst":
            best, worst = self.order
            middle = [i for i in range(len(c)) if i not in (best, worst)]
            wins = [(c[best], c[i]) for i in middle + [worst]] + [(c[i], c[worst]) for i in middle]
        else:
            wins = [(c[a], c[b]) for k, a in enumerate(self.order) for b in self.order[k + 1:]]
        return [PreferencePair(self.prompt, good, bad, meta) for good, bad in wins
                if good is not None and good.strip() != bad.strip()]


def check_ranking(n_candidates: int, order: Sequence[int], kind: str) -> None:
    """Raise DataError when `order` is not a valid ranking of `n_candidates` candidates (ties, repeats, gaps)."""
    if kind not in KINDS:
        raise DataError(f"unknown ranking kind {kind!r}", f"use one of {', '.join(KINDS)}")
    if n_candidates < 1:
        raise DataError("a ranking needs candidates, got none")
    bad = [i for i in order if not 0 <= i < n_candidates]
    if bad:
        raise DataError(f"candidate {bad[0] + 1} does not exist (there are {n_candidates})")
    repeated = sorted({i + 1 for i in order if list(order).count(i) > 1})
    if repeated:
        raise DataError(f"candidate {repeated[0]} is ranked twice: a ranking cannot have ties",
                        "give each candidate one place, best first")
    if kind == "order" and len(order) != n_candidates:
        missing = sorted(set(range(n_candidates)) - set(order))
        raise DataError(f"the order leaves out candidate(s) {', '.join(str(i + 1) for i in missing)}",
                        f"list all {n_candidates}, best first (e.g. {' '.join(str(i + 1) for i in range(n_candidates))}),"
                        " or pick just the best and worst (b1 w3)")
    if kind == "best_worst" and len(order) != 2:
        raise DataError("best and worst need exactly two different candidates")
    if kind == "edit" and len(order) != 1:
        raise DataError("an edit names exactly one candidate")


def insert_ranking(db, model: str, prompt, candidates, order, kind: str, edited: str | None, item_id: int | None) -> int:
    """Store one ranking (inside the caller's transaction); returns its id."""
    cur = db.execute("insert into rankings(model, prompt_json, candidates_json, order_json, edited, kind, item_id) "
                     "values (?, ?, ?, ?, ?, ?, ?)",
                     (model, json.dumps(list(prompt), ensure_ascii=False), json.dumps(list(candidates), ensure_ascii=False),
                      json.dumps(list(order)), edited, kind, item_id))
    return cur.lastrowid


def load_rankings(store, model: str | None = None) -> list[Ranking]:
    rows = store.db.execute("select id, model, prompt_json, candidates_json, order_json, kind, edited from rankings "
                            + ("where model = ? " if model else "") + "order by id", (model,) if model else ())
    return [Ranking(r["id"], r["model"], tuple(json.loads(r["prompt_json"])), tuple(json.loads(r["candidates_json"])),
                    tuple(json.loads(r["order_json"])), r["kind"], r["edited"]) for r in rows]


def ranked_models(store) -> list[str]:
    """Models that have rankings, the most recently ranked first."""
    rows = store.db.execute("select model, max(id) as last from rankings group by model order by last desc")
    return [r["model"] for r in rows]


def pairs_from_rankings(rankings: Iterable[Ranking]) -> list[PreferencePair]:
    rankings = list(rankings)
    pairs = [p for r in rankings for p in r.pairs()]
    if rankings and not pairs:
        single = sum(1 for r in rankings if len(r.candidates) < 2 and r.kind != "edit")
        raise DataError(f"{len(rankings)} ranking(s) give no preference pairs"
                        + (f" ({single} have a single candidate)" if single else " (every candidate ties)"),
                        "rank prompts with at least two different candidates (`selfclone rank MODEL --n 4`), "
                        "or edit a candidate into what you would say (e2)")
    return pairs


def pairs_from_store(store, model: str | None = None) -> list[PreferencePair]:
    rankings = load_rankings(store, model)
    if not rankings:
        where = f" for '{model}'" if model else ""
        raise DataError(f"no rankings{where} in this workspace", "rank some candidates first: `selfclone rank MODEL`")
    return pairs_from_rankings(rankings)


# --- files ---------------------------------------------------------------------------------------------

def write_preferences(path: Path | str, pairs: Iterable[PreferencePair], fmt: str = "dpo") -> int:
    if fmt not in FORMATS:
        raise DataError(f"unknown preference format {fmt!r}", f"use one of: {', '.join(FORMATS)}")
    return write_jsonl(path, (p.to_dpo() if fmt == "dpo" else p.to_pairs() for p in pairs))


def _assistant_text(value, *, path, line, name: str) -> str:
    """One reply: a list holding one assistant message (both formats), or a plain string (pairs format)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise DataError(f"'{name}' must be a list holding one {{\"role\": \"assistant\", \"content\": ...}} message",
                        "see `selfclone help preferences` for the format", path=path, line=line, field=name)
    msg = value[0]
    if msg.get("role") != "assistant" or not isinstance(msg.get("content"), str):
        raise DataError(f"'{name}[0]' must be an assistant message with text content, got role "
                        f"{msg.get('role')!r}", path=path, line=line, field=f"{name}[0]")
    return msg["content"]


def parse_preference(record, *, path=None, line=None) -> PreferencePair:
    """One JSON object in the dpo or pairs format -> PreferencePair (DataError naming what is wrong)."""
    if not isinstance(record, dict):
        raise DataError(f"expected a JSON object per line, got {json_type(record)}", path=path, line=line)
    if "preferred_output" in record or "input" in record:
        for key in ("input", "preferred_output", "non_preferred_output"):
            if key not in record:
                raise DataError(f"missing '{key}' (OpenAI's DPO format needs input, preferred_output and "
                                "non_preferred_output)", path=path, line=line, field=key)
        if not isinstance(record["input"], dict) or "messages" not in record["input"]:
            raise DataError("'input' must be an object with 'messages'", path=path, line=line, field="input")
        raw_prompt, good, bad = record["input"]["messages"], "preferred_output", "non_preferred_output"
    elif "chosen" in record or "rejected" in record:
        for key in ("prompt", "chosen", "rejected"):
            if key not in record:
                raise DataError(f"missing '{key}' (the pairs format needs prompt, chosen and rejected)",
                                path=path, line=line, field=key)
        raw_prompt, good, bad = record["prompt"], "chosen", "rejected"
        if isinstance(raw_prompt, str):
            raw_prompt = [{"role": "user", "content": raw_prompt}]
    else:
        raise DataError(f"unknown preference row with keys {sorted(record)}",
                        "use OpenAI's DPO format (input, preferred_output, non_preferred_output) or "
                        "the pairs format (prompt, chosen, rejected)", path=path, line=line)
    where = "input.messages" if good == "preferred_output" else "prompt"
    if not isinstance(raw_prompt, list) or not raw_prompt:
        raise DataError("the prompt must be a non-empty list of chat messages", path=path, line=line, field=where)
    # Validate roles and contents with the dataset's own checker (it wants a reply, so give it one).
    turns = parse_turns(raw_prompt + [{"role": "assistant", "content": ""}], path=path, line=line)
    if turns[-2].role != "user":
        raise DataError("the prompt must end with the user's turn", "put the reply in the preferred/chosen field, "
                        "not in the prompt", path=path, line=line, field=where)
    prompt = tuple(t.to_dict() for t in turns[:-1])
    chosen = _assistant_text(record[good], path=path, line=line, name=good)
    rejected = _assistant_text(record[bad], path=path, line=line, name=bad)
    if chosen.strip() == rejected.strip():
        raise DataError(f"'{good}' and '{bad}' are the same text: a tie says nothing about preference",
                        "drop the line, or replace one side with a reply that is really worse",
                        path=path, line=line, field=bad)
    return PreferencePair(prompt, chosen, rejected, {"path": str(path), "line": line})


def read_preferences(path: Path | str) -> list[PreferencePair]:
    path = input_file(path, "export rankings with `selfclone preferences export --out FILE`")
    pairs = [parse_preference(record, path=path, line=lineno) for lineno, record in iter_jsonl(path)]
    if not pairs:
        raise DataError("the file has no preference pairs", "export some: `selfclone preferences export --out FILE`",
                        path=path)
    return pairs


def split_by_prompt(pairs: Sequence[PreferencePair], fraction: float = 0.1, seed: int = 42,
                    minimum_prompts: int = 10) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """Hold out whole prompts (never pairs of a prompt seen in training); nothing held out below `minimum_prompts`."""
    from ..dataset.split import split

    keys = list(dict.fromkeys(p.prompt_key for p in pairs))
    if len(keys) < minimum_prompts:
        return list(pairs), []
    _, held = split(keys, fraction, seed)
    held = set(held)
    return [p for p in pairs if p.prompt_key not in held], [p for p in pairs if p.prompt_key in held]


def trl_rows(pairs: Iterable[PreferencePair]) -> list[dict]:
    """Rows for TRL's DPOTrainer / RewardTrainer (conversational prompt, chosen, rejected)."""
    return [p.to_pairs() for p in pairs]
