"""Facebook Messenger and Instagram direct messages (`message_1.json`, `message_2.json`, ... per thread).

    selfclone import messenger ~/facebook-export/messages/inbox/anasouza_10158 --me "Maggie Lee"

A thread's messages are spread over several files, newest first (message_1.json holds the newest), and
each file lists its messages newest first: they are read oldest first. The files store UTF-8 bytes as
`\\u00xx` escapes ("cafÃ©" for "café"); this mojibake is repaired. PATH may be one file, a thread folder,
or an `inbox` folder of threads. The 2024+ end-to-end-encrypted export (`senderName`, `text`) is read too.
Each file is read whole (Facebook splits threads into files of a few thousand messages), one at a time.
Kept: text messages. Photos, videos, audio, GIFs, stickers and shares without text: media. Calls, joins,
unsent messages, reactions ("Liked a message", "Reacted ❤ to your message"): system.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pydantic

from ...dataset.messages import Message
from ...errors import DataError
from .jsonstream import json_keys

_FILE = re.compile(r"^message_(\d+)\.json$")
_MEDIA_KEYS = ("photos", "videos", "audio_files", "gifs", "sticker", "files", "share", "media")
_MEDIA_TEXT = re.compile(r"^.{1,80} sent (?:an attachment|a photo|a video|a voice message|a GIF|a link|a sticker)\.$")
_SYSTEM_TEXT = re.compile(r"^(?:Liked a message|Reacted .{1,8} to your message|.{1,80} (?:unsent a message|"
                          r"joined the (?:video )?call|started a (?:video )?call|missed (?:your|a) (?:video )?call|"
                          r"named the group .*|set the nickname .*|changed the group photo)\.?)$", re.DOTALL)


def repair(text: str) -> str:
    """Undo Facebook's mojibake: the text's characters are really the bytes of UTF-8."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text            # already proper text (characters beyond latin-1, or not UTF-8 bytes)


class MessengerImporter:
    name = "messenger"
    title = "Facebook Messenger / Instagram (message_N.json, per thread)"
    produces = "messages"
    marks_owner = False

    class Options(pydantic.BaseModel):
        fix_mojibake: bool = True

    def detect(self, path: Path) -> bool:
        files = thread_files(Path(path))
        if not files:
            return False
        keys = json_keys(files[0])
        return "participants" in keys and "messages" in keys and bool(
            keys & {"sender_name", "senderName", "timestamp_ms"})

    def read(self, path: Path, options: Options) -> Iterator[Message]:
        path = Path(path)
        threads: dict[Path, list[Path]] = {}
        for file in thread_files(path):
            threads.setdefault(file.parent, []).append(file)
        if not threads:
            raise DataError("no message_N.json files here", "pass a thread folder (messages/inbox/NAME_ID) or one "
                            "of its message_1.json files", path=path)
        count = 0
        for folder, files in sorted(threads.items()):
            # oldest file first: message_3.json, message_2.json, message_1.json
            for file in sorted(files, key=lambda f: -int(_FILE.match(f.name).group(1))):
                for message in _read_file(file, folder.name, options):
                    count += 1
                    yield message
        if count == 0:
            raise DataError("the export has no messages", "request the download again (format: JSON)", path=path)


def thread_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if _FILE.match(path.name) else []
    if not path.is_dir():
        return []
    return sorted(f for f in path.rglob("message_*.json") if _FILE.match(f.name))


def _read_file(file: Path, thread: str, options) -> Iterator[Message]:
    try:
        data = json.loads(file.read_bytes().decode("utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON ({exc.msg}, column {exc.colno})",
                        "the file is cut short or damaged: download the export again", path=file,
                        line=exc.lineno) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 JSON ({exc.reason})", "download the export again", path=file) from exc
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise DataError("no 'messages' list in this file", "pass a Messenger or Instagram message_N.json",
                        path=file, field="messages")
    fix = repair if options.fix_mojibake else (lambda s: s)
    chat = fix(str(data.get("title") or data.get("threadName") or thread))
    chat = f"{chat} ({data.get('thread_path') or thread})"
    for index, raw in enumerate(reversed(data["messages"])):
        if not isinstance(raw, dict):
            raise DataError(f"message {len(data['messages']) - index} is not an object", path=file, field="messages")
        yield _message(raw, chat, str(file), fix)


def _message(raw: dict, chat: str, origin: str, fix) -> Message:
    sender = fix(str(raw.get("sender_name") or raw.get("senderName") or ""))
    text = fix(str(raw.get("content") if raw.get("content") is not None else raw.get("text") or ""))
    stamp = raw.get("timestamp_ms", raw.get("timestamp"))
    try:
        when = datetime.fromtimestamp(int(stamp) / 1000, timezone.utc) if stamp is not None else None
    except (TypeError, ValueError, OverflowError) as exc:
        raise DataError(f"unknown timestamp {stamp!r}", "download the export again (format: JSON)",
                        path=origin, field="timestamp_ms") from exc
    kind = "text"
    if raw.get("type") in ("Call", "Subscribe", "Unsubscribe") or raw.get("is_unsent") or raw.get("isUnsent"):
        kind = "system"
    elif _SYSTEM_TEXT.match(text):
        kind = "system"
    elif _MEDIA_TEXT.match(text):
        kind = "media"
    elif not text.strip() and any(raw.get(k) for k in _MEDIA_KEYS):
        kind = "media"
    elif raw.get("share") and text.strip() == str((raw.get("share") or {}).get("link", "")).strip():
        kind = "media"
    return Message("messenger", origin, chat, sender, text, when, kind=kind)
