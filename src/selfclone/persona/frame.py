"""The one frame of the system prompt: who the clone is, who it talks to, what it remembers, and what its notes
say. Talk time (ChatSession) and training data (persona/augment.py) both build it here, so a clone trained on
framed examples sees the same words when it talks.

    system_frame("You are Maggie.", passages=["Maggie's first hive came from her uncle in 1994."])
    # -> "You are Maggie.\\n\\nFacts about you (answer from these):\\n- Maggie's first hive came from her uncle in 1994."
"""
from __future__ import annotations

import re
from collections.abc import Sequence

NOTES_HEADER = "Facts about you (answer from these):"
TALKING_TO = "You are talking to: {who}."
SUMMARY_HEADER = "Earlier in this conversation:"
REMEMBERED_HEADER = "What you remember about them:"
_TALKING_TO = re.compile("^" + re.escape(TALKING_TO).replace(re.escape("{who}"), "(.+)") + "$")


def system_frame(context: str | None, *, passages: Sequence[str] = (), talking_to: str | None = None,
                 summary: str | None = None, remembered: Sequence[str] = ()) -> str | None:
    """The system message: the context, who the clone talks to and what it remembers of them, the summary of
    older turns, the passages."""
    parts = [context] if context and context.strip() else []
    if talking_to:
        parts.append(TALKING_TO.format(who=talking_to))
    if remembered:
        parts.append(REMEMBERED_HEADER + " " + " ".join(' '.join(r.split()) for r in remembered))
    if summary and summary.strip():
        parts.append(f"{SUMMARY_HEADER} {summary.strip()}")
    if passages:      # given best first, written best last: nearest the question (measured: bench recall)
        parts.append(NOTES_HEADER + "\n" + "\n".join(f"- {' '.join(p.split())}" for p in reversed(passages)))
    return "\n\n".join(parts) or None


def reframed(messages: Sequence[dict], **frame) -> list[dict]:
    """The messages with their system message (the context) framed with `frame` (passages, talking_to, ...)."""
    context = messages[0]["content"] if messages and messages[0]["role"] == "system" else None
    rest = list(messages[1:] if context is not None else messages)
    system = system_frame(context, **frame)
    return ([{"role": "system", "content": system}] if system else []) + rest


def split_talking_to(system: str | None) -> tuple[str | None, str | None]:
    """(who, the same system message without who): the relationship conditioning of a framed example, and the
    frame it would have without it (None when nothing is left)."""
    parts = (system or "").split("\n\n")
    for i, part in enumerate(parts):
        found = _TALKING_TO.match(part)
        if found:
            rest = parts[:i] + parts[i + 1:]
            return found[1], "\n\n".join(rest) or None
    return None, system
