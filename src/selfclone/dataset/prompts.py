"""Prompts to answer: from a --prompts file (chat JSONL, whose last reply is the reference, or plain text with one
question per line) or a workspace's held-out files. Ranking (refine/) and RL training (train/rl.py) read them.

    prompts = prompts_from_file("questions.txt", system="You are Maggie.")
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..fileio import input_file
from .chat import Example, iter_examples

SOURCES = ("file", "heldout", "interview")


@dataclass(frozen=True)
class RankPrompt:
    messages: tuple[dict, ...]          # ends with the user's turn
    reference: str | None = None        # the person's real reply, when known (for simulated ranking)
    source: str = "file"

    @property
    def key(self) -> str:
        return hashlib.sha1(json.dumps(self.messages, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    @property
    def question(self) -> str:
        return self.messages[-1]["content"]


def example_prompt(example: Example, source: str) -> RankPrompt:
    return RankPrompt(tuple(example.prompt()), example.reply(), source)


def prompts_from_file(path: Path | str, system: str | None = None) -> list[RankPrompt]:
    """Chat JSONL (each example's last reply is the reference) or text: one question per line."""
    path = input_file(path, "pass a chat JSONL file or a text file with one question per line")
    if path.suffix == ".jsonl":
        return [example_prompt(e, "file") for e in iter_examples(path)]
    head = [{"role": "system", "content": system}] if system else []
    lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    prompts = [RankPrompt(tuple(head + [{"role": "user", "content": line}]), None, "file") for line in lines if line]
    if not prompts:
        raise DataError("the file has no prompts", "write one question per line", path=path)
    return prompts


def heldout_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in Path(data_dir).glob("*.jsonl") if "heldout" in p.name or "valid" in p.name)
