"""Messages as importers read them from an export, and conversations built from them.

A Message is one line of a chat, one email or one SMS, whatever the platform. Its `fingerprint` is stable:
the platform's own id when it has one, otherwise its content (chat, sender, time, text) plus how many
identical messages came before it, so importing the same export twice adds nothing to the store.

    for conversation in conversations(importer.read(path, options)):
        print(conversation.chat, len(conversation.messages))
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

KINDS = ("text", "media", "system")


@dataclass(slots=True)
class Message:
    source: str                      # importer name: whatsapp, telegram, ...
    origin: str                      # the file or thread it came from
    chat: str                        # the conversation within the origin
    sender: str                      # display name (or address) as the export shows it
    text: str
    sent_at: datetime | None = None
    is_me: bool | None = None        # None until the owner is known (see collect.owner)
    kind: str = "text"               # text, media or system
    reply_to: str | None = None      # the platform id of the message it answers
    uid: str | None = None           # the platform's own message id, when it has one
    sender_id: str | None = None     # the platform's id for the sender (Telegram user123, a Discord id)
    line: int | None = None          # where it starts in `origin`, for error messages
    dup: int = 0                     # identical messages (same chat, sender, time, text) before this one

    @property
    def fingerprint(self) -> str:
        return self.fingerprint_at(self.sent_at.isoformat() if self.sent_at else None)

    def fingerprint_at(self, when: str | None) -> str:
        """The fingerprint, given `sent_at` already in ISO form (a big import formats each time once)."""
        if self.uid is not None:
            key = f"{self.source}\x1f{self.chat}\x1fid\x1f{self.uid}"
        else:
            key = f"{self.source}\x1f{self.chat}\x1f{self.sender}\x1f{when or ''}\x1f{self.text}\x1f{self.dup}"
        return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass
class Conversation:
    """The messages of one chat, in the order they were sent.

    `messages` may be a list or a lazy iterable (read once); give `group` explicitly when it is lazy.
    """

    source: str
    chat: str
    messages: Iterable[Message] = field(default_factory=list)
    group: bool | None = None       # more than one other person; computed from a list when None

    @property
    def is_group(self) -> bool:
        if self.group is None:
            self.group = len({m.sender for m in self.messages if not m.is_me and m.kind != "system"}) > 1
        return self.group


def number_duplicates(messages: Iterable[Message]) -> Iterator[Message]:
    """Set `dup` on messages identical to an earlier one in the same chat at the same time.

    Only the current timestamp of each chat is remembered, so memory stays flat on any size of export.
    """
    buckets: dict[tuple[str, str], tuple[datetime | None, dict]] = {}
    for m in messages:
        if m.uid is None:
            key = (m.source, m.chat)
            when, seen = buckets.get(key, (None, None))
            if seen is None or when != m.sent_at:
                seen = {}
                buckets[key] = (m.sent_at, seen)
            ident = (m.sender, m.text)
            m.dup = seen.get(ident, 0)
            seen[ident] = m.dup + 1
        yield m


def conversations(messages: Iterable[Message]) -> Iterator[Conversation]:
    """Group consecutive messages of one chat; the caller gives them chat by chat in time order."""
    current: Conversation | None = None
    for m in messages:
        if current is None or (m.source, m.chat) != (current.source, current.chat):
            if current is not None:
                yield current
            current = Conversation(m.source, m.chat, [])
        current.messages.append(m)
    if current is not None:
        yield current
