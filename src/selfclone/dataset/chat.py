"""The canonical dataset format: OpenAI's chat JSONL, one training example per line.

    {"messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."},
                  {"role": "assistant", "content": "...", "weight": 1}]}

Loss is taken only on assistant turns whose weight is not 0. Legacy prompt/completion lines are converted
on load (see legacy.py). `read_examples` names the file and line of anything it cannot use.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from ..fileio import input_file, write_jsonl
from .tables import iter_jsonl

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Turn:
    role: str
    content: str
    weight: int | None = None

    @property
    def trained(self) -> bool:
        return self.role == "assistant" and self.weight != 0

    def to_dict(self) -> dict:
        out = {"role": self.role, "content": self.content}
        if self.weight is not None:
            out["weight"] = self.weight
        return out


@dataclass(frozen=True)
class Example:
    messages: tuple[Turn, ...]
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def system(self) -> str | None:
        return self.messages[0].content if self.messages and self.messages[0].role == "system" else None

    def prompt(self) -> list[dict]:
        """Everything before the last assistant turn, as chat messages: what a model is asked."""
        last = max(i for i, t in enumerate(self.messages) if t.role == "assistant")
        return [t.to_dict() for t in self.messages[:last]]

    def reply(self) -> str:
        """The last assistant turn: the person's real reply."""
        return [t for t in self.messages if t.role == "assistant"][-1].content

    def to_dict(self) -> dict:
        return {"messages": [t.to_dict() for t in self.messages]}

    @classmethod
    def chat(cls, *pairs: tuple[str, str], system: str | None = None) -> "Example":
        turns = [Turn("system", system)] if system else []
        turns += [Turn(role, content) for role, content in pairs]
        return cls(tuple(turns))


def json_type(value) -> str:
    """The JSON name of a parsed value's type, as the user wrote it: null, true/false, a number, text, a list."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}.get(type(value),
                                                                                                  type(value).__name__)


def parse_turns(raw, *, path=None, line=None) -> tuple[Turn, ...]:
    """Validate one `messages` list; raise DataError naming the turn that is wrong."""
    if not isinstance(raw, list) or not raw:
        raise DataError("'messages' must be a non-empty list of {role, content} objects",
                        "see `selfclone help data` for the chat format", path=path, line=line, field="messages")
    turns = []
    for i, msg in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise DataError(f"{where} is {json_type(msg)}, expected an object", path=path, line=line, field=where)
        role, content = msg.get("role"), msg.get("content")
        if role not in ROLES:
            raise DataError(f"{where}.role is {role!r}; expected one of {', '.join(ROLES)}",
                            "rename the role (e.g. 'human' -> 'user', 'bot' -> 'assistant')",
                            path=path, line=line, field=f"{where}.role")
        if not isinstance(content, str):
            raise DataError(f"{where}.content is {json_type(content)}, expected text",
                            "give every message a 'content' string", path=path, line=line, field=f"{where}.content")
        weight = msg.get("weight")
        if weight not in (None, 0, 1):
            raise DataError(f"{where}.weight is {weight!r}; it must be 0 or 1", path=path, line=line, field=f"{where}.weight")
        if weight is not None and role != "assistant":
            raise DataError(f"{where}.weight is set on a {role} turn; only assistant turns take a weight",
                            path=path, line=line, field=f"{where}.weight")
        turns.append(Turn(role, content, weight))
    if not any(t.trained for t in turns):
        raise DataError("the example has no assistant turn to learn from",
                        "add the reply as {\"role\": \"assistant\", \"content\": ...} or drop the line",
                        path=path, line=line, field="messages")
    return tuple(turns)


def parse_record(record, *, path=None, line=None) -> Example:
    """One JSON object in chat or any legacy prompt/completion form -> Example."""
    from .legacy import from_prompt_completion

    if not isinstance(record, dict):
        raise DataError(f"expected a JSON object per line, got {json_type(record)}", path=path, line=line)
    if "messages" in record:
        return Example(parse_turns(record["messages"], path=path, line=line))
    if "prompt" in record or "completion" in record:
        return from_prompt_completion(record, path=path, line=line)
    raise DataError(f"unknown row shape with keys {sorted(record)}",
                    "each line needs 'messages' (chat format) or 'prompt' and 'completion' (legacy format)",
                    path=path, line=line)


def iter_examples(path: Path | str) -> Iterator[Example]:
    path = Path(path)
    input_file(path)
    seen_any = False
    for lineno, record in iter_jsonl(path):
        seen_any = True
        example = parse_record(record, path=path, line=lineno)
        yield Example(example.messages, {"path": str(path), "line": lineno})
    if not seen_any:
        raise DataError("the file has no examples", "add one JSON object per line (see `selfclone help data`)", path=path)


def read_examples(path: Path | str) -> list[Example]:
    return list(iter_examples(path))


def write_examples(path: Path | str, examples: Iterable[Example]) -> int:
    """Write chat JSONL atomically; returns the number of lines written."""
    return write_jsonl(path, (e.to_dict() for e in examples))


def assistant_texts(examples: Sequence[Example]) -> list[str]:
    return [t.content for e in examples for t in e.messages if t.trained]
