"""Legacy prompt/completion rows (OpenAI's older fine-tuning format and the tools built on it) -> chat.

Three shapes are recognised, and their separators and end markers stripped because the chat template
frames turns now:
  plain pairs              {"prompt": "What's up?", "completion": "not much"}
  Q/A with markers         {"prompt": "Q: What's up? ->", "completion": " not much###"}
  context + dialogue       {"prompt": "Context: at work\n\n###\n\nHuman: hi\nAI:", "completion": " hey\n"}
The context becomes the system message; earlier Human/AI lines become earlier turns.
"""
from __future__ import annotations

import re

from ..errors import DataError
from .chat import Example, Turn, json_type

PROMPT_SEPARATORS = ("\n\n###\n\n", "###", "->", "\n\n", "\n")
END_MARKERS = ("<|endoftext|>", "###", " END", "\nEND", "END")
_SPEAKER = re.compile(r"^(Human|User|Q|AI|Assistant|Bot|A|Me):[ \t]?", re.MULTILINE)
_USER_SPEAKERS = {"Human", "User", "Q"}


def strip_end(completion: str) -> str:
    text = completion
    for marker in END_MARKERS:
        if text.rstrip("\n").endswith(marker):
            text = text.rstrip("\n")[: -len(marker)]
            break
    return text.strip()


def _dialogue(prompt: str) -> list[Turn]:
    """Split 'Human: ..\nAI: ..\nHuman: ..\nAI:' into turns; the trailing speaker tag is dropped."""
    parts = _SPEAKER.split(prompt)
    turns: list[Turn] = []
    lead = parts[0].strip()
    if lead:
        turns.append(Turn("user", lead))
    for speaker, text in zip(parts[1::2], parts[2::2]):
        text = text.strip()
        if not text:
            continue
        turns.append(Turn("user" if speaker in _USER_SPEAKERS else "assistant", text))
    return turns


def from_prompt_completion(record: dict, *, path=None, line=None) -> Example:
    prompt, completion = record.get("prompt", ""), record.get("completion")
    for name, value in (("prompt", prompt), ("completion", completion)):
        if not isinstance(value, str):
            raise DataError(f"'{name}' is {json_type(value)}, expected text", path=path, line=line, field=name)
    reply = strip_end(completion)
    if not reply:
        raise DataError("empty completion: nothing to learn", "write the reply or drop the line",
                        path=path, line=line, field="completion")
    system = None
    body = prompt
    if body.startswith("Context:"):
        head, sep, rest = body.partition("###")
        if not sep:
            head, _, rest = body.partition("\n\n")
        system = head[len("Context:"):].strip() or None
        body = rest
    body = body.strip()
    for sep in PROMPT_SEPARATORS:
        if body.endswith(sep.strip()) and sep.strip():
            body = body[: -len(sep.strip())].rstrip()
            break
    turns = _dialogue(body) if _SPEAKER.search(body) else ([Turn("user", body)] if body else [])
    if turns and turns[-1].role == "assistant" and not turns[-1].content:
        turns.pop()
    out = ([Turn("system", system)] if system else []) + turns + [Turn("assistant", reply)]
    if not any(t.role == "user" for t in out):
        raise DataError("empty prompt: nothing to reply to", "write the prompt or drop the line",
                        path=path, line=line, field="prompt")
    return Example(tuple(out))
