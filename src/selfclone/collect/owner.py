"""Who is me: mark each message as the person's own or someone else's.

People appear differently on each platform, so `--me` takes several names or ids (matched, ignoring case,
against a sender's display name or platform id). Formats that mark the owner themselves (SMS type,
iMessage is_from_me, Gmail's Sent label, Telegram's whole-account export) set `is_me` already.

    owner = Owner(["Maggie", "+14155550100"])
    messages = owner.apply(importer.read(path, options))
    ...
    owner.check(path)         # raises DataError if --me matched nobody in what needed it
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from ..dataset.messages import Message
from ..errors import DataError


class Owner:
    def __init__(self, me: Iterable[str]):
        self.me = tuple(me)
        self._keys = {name.strip().casefold() for name in self.me if name.strip()}
        self.unresolved: Counter[str] = Counter()     # senders of messages whose owner --me decided
        self.unresolved_mine = 0

    def is_me(self, message: Message) -> bool:
        return message.sender.casefold() in self._keys or (
            message.sender_id is not None and message.sender_id.casefold() in self._keys)

    def apply(self, messages: Iterable[Message]) -> Iterator[Message]:
        """Set `is_me` where the export left it unknown (call `check` once every export has been read)."""
        for m in messages:
            if m.is_me is None:
                m.is_me = bool(self._keys) and self.is_me(m)
                if m.kind != "system":
                    self.unresolved[m.sender] += 1
                    self.unresolved_mine += m.is_me
            yield m

    def check(self, where: str | None = None) -> None:
        """Fail if some messages needed --me and it matched none of their senders (or was not given)."""
        if not self.unresolved or self.unresolved_mine:
            return
        if self._keys:
            raise DataError(f"--me {', '.join(repr(n) for n in self.me)} matches nobody in this export",
                            f"pass --me with one of the senders: {sender_list(self.unresolved)}", path=where)
        raise DataError("this export does not say which messages are yours",
                        f"pass --me with your name as it appears there: {sender_list(self.unresolved)}", path=where)


def sender_counts(messages: Iterable[Message]) -> Counter[str]:
    """Messages per sender (system lines left out), for asking who is me."""
    counts: Counter[str] = Counter()
    for m in messages:
        if m.kind != "system" and m.is_me is None:
            counts[m.sender] += 1
    return counts


def sender_list(counts: Counter[str], limit: int = 12) -> str:
    """'Ana (120), Maggie (80), ...' with the most active first."""
    items = [f"{name!r} ({n})" for name, n in counts.most_common(limit)]
    more = len(counts) - limit
    return ", ".join(items) + (f" and {more} more" if more > 0 else "") if items else "(no senders found)"
