"""Conversations -> training examples: every reply of mine, with what was said before it as context.

    settings = CollectSettings(merge_window_s=120, session_gap_s=3600, context_turns=6)
    for example in conversation_examples(conversation, settings):
        ...

Steps, for one conversation whose messages know who sent them (`is_me`):
1. media, system and empty messages are dropped;
2. consecutive messages of one side within `merge_window_s` of each other become one turn (lines joined);
   in a group chat the other side's lines carry their sender's name ("Ana: ...");
3. a gap longer than `session_gap_s` starts a new session: context never reaches across it;
4. each turn of mine that follows one of theirs becomes an example: up to `context_turns` earlier turns of
   the session as context (my earlier turns there get weight 0, so only the reply itself is learned), and
   my turn as the reply. Replies shorter than `min_reply_chars` are dropped (they still serve as context).
   With `include_openers`, a session I start gives an example with no user turn. With `context_turns` 0
   the example still keeps the one turn it answers.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from ..config import CollectSettings
from .chat import Example, Turn
from .messages import Conversation


@dataclass
class Side:
    """Consecutive messages of one side, merged."""

    mine: bool
    lines: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _gap(earlier: datetime | None, later: datetime | None) -> float:
    """Seconds between two times; 0 when either is unknown (unknown times never split anything)."""
    if earlier is None or later is None:
        return 0.0
    try:
        return (later - earlier).total_seconds()
    except TypeError:      # one aware, one naive: compare wall clocks
        return (later.replace(tzinfo=None) - earlier.replace(tzinfo=None)).total_seconds()


def turns(conversation: Conversation, settings: CollectSettings) -> Iterator[tuple[Side, bool]]:
    """Merged turns (steps 1 to 3), each with True when it starts a new session. Streams: memory holds one turn."""
    group = conversation.is_group
    turn: Side | None = None
    new_session = True
    last_sender: str | None = None
    for m in conversation.messages:
        text = m.text.strip()
        if m.kind != "text" or not text:
            continue
        mine = bool(m.is_me)
        gap = _gap(turn.end, m.sent_at) if turn is not None else 0.0
        if turn is None or turn.mine != mine or gap > settings.merge_window_s:
            if turn is not None:
                yield turn, new_session
                new_session = gap > settings.session_gap_s
            turn = Side(mine, start=m.sent_at)
            last_sender = None
        if group and not mine and m.sender != last_sender:
            text = f"{m.sender}: {text}"
        turn.lines.append(text)
        turn.end = m.sent_at or turn.end
        last_sender = m.sender
    if turn is not None:
        yield turn, new_session


def conversation_examples(conversation: Conversation, settings: CollectSettings) -> Iterator[Example]:
    """Every reply of mine in `conversation` as an Example (step 4)."""
    keep = max(settings.context_turns, 1)
    history: deque[Side] = deque(maxlen=keep)
    for turn, new_session in turns(conversation, settings):
        if new_session:
            history.clear()
        example = _example(turn, list(history), settings)
        if example is not None:
            when = turn.start.isoformat() if turn.start else None
            yield Example(example, {"source": conversation.source, "chat": conversation.chat, "sent_at": when})
        history.append(turn)


def _example(turn: Side, history: list[Side], settings: CollectSettings) -> tuple[Turn, ...] | None:
    if not turn.mine or len(turn.text) < settings.min_reply_chars:
        return None
    if not history:
        if not settings.include_openers:
            return None
        context: list[Side] = []
    elif history[-1].mine:
        return None               # a follow-up to myself, not a reply to anyone
    else:
        context = history[-settings.context_turns:] if settings.context_turns else history[-1:]
        while context and context[0].mine:
            context = context[1:]
    messages = [Turn("assistant", t.text, 0) if t.mine else Turn("user", t.text) for t in context]
    return (*messages, Turn("assistant", turn.text))


def examples(conversations: Iterable[Conversation], settings: CollectSettings) -> Iterator[Example]:
    for conversation in conversations:
        yield from conversation_examples(conversation, settings)
