"""DiscordChatExporter JSON (DMs, group DMs and server channels), streamed with ijson.

    selfclone import discord "Direct Messages - ana [123].json" --me maggie

Each message has an `author` (`name` is the unique username, `nickname` the display name; --me takes
either), `content`, `attachments`, and for replies a `reference` to the message
answered. Kept: Default and Reply messages with content. Attachments or stickers without content: media.
Joins, pins, calls, thread creations and other types: system. Bots are kept as other people.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import ijson
import pydantic

from ...dataset.messages import Message
from ...errors import DataError
from .jsonstream import find_line, head_values, json_keys, json_source

_TEXT_TYPES = {"Default", "Reply", "0", "19"}


class DiscordImporter:
    name = "discord"
    title = "DiscordChatExporter JSON (DMs and channels)"
    produces = "messages"
    marks_owner = False

    class Options(pydantic.BaseModel):
        pass

    def detect(self, path: Path) -> bool:
        path = Path(path)
        return path.is_file() and {"guild", "channel", "messages"} <= json_keys(path)

    def read(self, path: Path, options: Options) -> Iterator[Message]:
        path = Path(path)
        meta = head_values(path, "messages", {"guild.name", "channel.name", "channel.id", "channel.category"})
        chat = " / ".join(str(meta[k]) for k in ("guild.name", "channel.category", "channel.name") if meta.get(k))
        if meta.get("channel.id"):
            chat = f"{chat or 'channel'} ({meta['channel.id']})"
        count = 0
        with json_source(path) as fh:
            for raw in ijson.items(fh, "messages.item"):
                count += 1
                yield _message(raw, chat or path.stem, str(path))
        if count == 0:
            raise DataError("the export has no messages", "export the channel again with DiscordChatExporter "
                            "(format: JSON)", path=path)


def _message(raw: dict, chat: str, origin: str) -> Message:
    author = raw.get("author") or {}
    text = raw.get("content") or ""
    if str(raw.get("type", "Default")) not in _TEXT_TYPES:
        kind = "system"
    elif not text.strip() and (raw.get("attachments") or raw.get("stickers") or raw.get("embeds")):
        kind = "media"
    else:
        kind = "text"
    stamp = raw.get("timestamp")
    try:
        when = datetime.fromisoformat(stamp) if stamp else None
    except ValueError as exc:
        raise DataError(f"message {raw.get('id')!r} has an unknown timestamp {stamp!r}",
                        "export again with DiscordChatExporter's JSON format", path=origin,
                        line=find_line(origin, stamp), field="timestamp") from exc
    reference = raw.get("reference") or {}
    sender = author.get("nickname") or author.get("name") or "unknown"
    return Message("discord", origin, chat, str(sender), text, when, None, kind,
                   str(reference["messageId"]) if reference.get("messageId") else None,
                   str(raw["id"]) if raw.get("id") is not None else None,
                   str(author.get("name") or author.get("id") or "") or None)
