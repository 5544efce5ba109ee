"""The one frame of the system prompt: who the clone is, who it talks to, what it remembers, and what its notes
say. Talk time (ChatSession) and training data (persona/augment.py) both build it here, so a clone trained on
framed examples sees the same words when it talks.

    system_frame("You are Maggie.", passages=["Maggie's first hive came from her uncle in 1994."])
    # -> "You are Maggie.\\n\\nFacts about you (answer from these):\\n- Maggie's first hive came from her uncle in 1994."
"""
from __future__ import annotations

from collections.abc import Sequence

NOTES_HEADER = "Facts about you (answer from these):"
TALKING_TO = "You are talking to: {who}."
SUMMARY_HEADER = "Earlier in this conversation:"
REMEMBERED_HEADER = "What you remember about them:"


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
