"""Telegram Desktop JSON exports: one chat (`result.json` of "Export chat history") or the whole account
("Export Telegram data", where `chats.list` holds every chat). Streamed with ijson.

    selfclone import telegram ~/Downloads/Telegram\\ Desktop/ChatExport_2023-12-03/result.json --me "Maggie"

`text` may be a string or a list of strings and entity objects ({"type": "link", "text": ...}); both become
plain text. Kept: messages with text (a photo's caption too). Media without text (photos, stickers, voice,
files): kind media. Service messages (joins, calls, pins): kind system. Forwarded messages are not the
sender's words: kind media. The whole-account export names its owner (`personal_information.user_id`),
so it needs no --me. A single chat streams at full speed; the whole-account export is read event by event.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import ijson
import pydantic
from ijson.common import ObjectBuilder

from ...dataset.messages import Message
from ...errors import DataError
from .jsonstream import find_line, head_values, json_keys, json_source

_MEDIA_KEYS = ("photo", "file", "media_type", "sticker_emoji", "poll", "location_information", "contact_information")
_ACCOUNT_CHATS = ("chats.list.item", "left_chats.list.item")


class TelegramImporter:
    name = "telegram"
    title = "Telegram Desktop export (result.json: one chat or the whole account)"
    produces = "messages"
    marks_owner = False

    class Options(pydantic.BaseModel):
        include_left_chats: bool = True

    def detect(self, path: Path) -> bool:
        path = _result(path)
        if path is None:
            return False
        keys = json_keys(path)
        single = {"messages", "type", "id"} <= keys and bool(keys & {"date_unixtime", "text_entities", "from_id"})
        return single or {"personal_information", "chats"} <= keys or ("chats" in keys and "list" in keys)

    def read(self, path: Path, options: Options) -> Iterator[Message]:
        path = _result(path) or Path(path)
        keys = json_keys(path)
        count = 0
        if "chats" in keys and ("personal_information" in keys or "list" in keys):
            reader = _read_account(path, options)
        else:
            reader = _read_chat(path)
        for message in reader:
            count += 1
            yield message
        if count == 0:
            raise DataError("the export has no messages", "export the chat again with 'Export chat history' "
                            "and the JSON format (not HTML)", path=path)


def _result(path: Path) -> Path | None:
    path = Path(path)
    if path.is_dir():
        path = path / "result.json"
    return path if path.is_file() else None


def _read_chat(path: Path) -> Iterator[Message]:
    meta = head_values(path, "messages", {"name", "type", "id"})
    chat = _chat_name(meta.get("name"), meta.get("id"))
    with json_source(path) as fh:
        for raw in ijson.items(fh, "messages.item"):
            yield _message(raw, chat, str(path), None)


def _read_account(path: Path, options: TelegramImporter.Options) -> Iterator[Message]:
    """Event by event: a chat's name and id come before its messages, and memory holds one message."""
    owner: str | None = None
    chat_meta: dict = {}
    builder: ObjectBuilder | None = None
    message_prefixes = {p + ".messages.item" for p in _ACCOUNT_CHATS}
    if not options.include_left_chats:
        message_prefixes.discard("left_chats.list.item.messages.item")
    with json_source(path) as fh:
        for prefix, event, value in ijson.parse(fh):
            if builder is not None:
                builder.event(event, value)
                if event == "end_map" and prefix in message_prefixes:
                    chat = _chat_name(chat_meta.get("name"), chat_meta.get("id"))
                    yield _message(builder.value, chat, str(path), owner)
                    builder = None
            elif event == "start_map" and prefix in message_prefixes:
                builder = ObjectBuilder()
                builder.event(event, value)
            elif prefix == "personal_information.user_id":
                owner = f"user{value}"
            elif event == "start_map" and prefix in _ACCOUNT_CHATS:
                chat_meta = {}
            elif prefix.endswith((".name", ".id")) and prefix.rsplit(".", 1)[0] in _ACCOUNT_CHATS:
                chat_meta[prefix.rsplit(".", 1)[1]] = value


def _chat_name(name, chat_id) -> str:
    if chat_id is not None:
        return f"{name or 'chat'} ({chat_id})"
    return name or "chat"


def plain_text(text) -> str:
    """Telegram's `text`: a string, or a list of strings and {"type", "text"} entities."""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in text)
    return ""


def _when(raw: dict, origin: str) -> datetime | None:
    stamp, date = raw.get("date_unixtime"), raw.get("date")
    try:
        if stamp is not None:
            return datetime.fromtimestamp(int(stamp), timezone.utc)
        return datetime.fromisoformat(date) if date else None
    except (ValueError, TypeError, OverflowError) as exc:
        bad = stamp if stamp is not None else date
        raise DataError(f"message {raw.get('id')!r} has an unknown date {bad!r}",
                        "export the chat again with Telegram Desktop (JSON format)", path=origin,
                        line=find_line(origin, bad), field="date_unixtime" if stamp is not None else "date") from exc


def _message(raw: dict, chat: str, origin: str, owner: str | None) -> Message:
    text = plain_text(raw.get("text"))
    service = raw.get("type") == "service"
    sender = raw.get("actor" if service else "from") or ""
    sender_id = raw.get("actor_id" if service else "from_id")
    if service:
        kind = "system"
        text = text or str(raw.get("action", ""))
    elif raw.get("forwarded_from") is not None:
        kind = "media"
    elif not text.strip() and any(k in raw for k in _MEDIA_KEYS):
        kind = "media"
    else:
        kind = "text"
    when = _when(raw, origin)
    reply = raw.get("reply_to_message_id")
    is_me = (sender_id == owner) if owner is not None and sender_id is not None else None
    return Message("telegram", origin, chat, str(sender), text, when, is_me, kind,
                   str(reply) if reply is not None else None, str(raw.get("id")) if raw.get("id") is not None else None,
                   str(sender_id) if sender_id is not None else None)
