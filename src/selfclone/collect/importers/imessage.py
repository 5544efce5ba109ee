"""iMessage / SMS on a Mac: `~/Library/Messages/chat.db` (copy it first: Messages keeps it open).

    cp ~/Library/Messages/chat.db ~/Desktop/ && selfclone import imessage ~/Desktop/chat.db

Read-only, in SQL order (chat, then time), so any size streams. Mine: `is_from_me`. The text is the
`text` column, or, where macOS Ventura and later leave it empty, the string inside the `attributedBody`
blob (an NSAttributedString in Apple's typedstream format). Dates count from 2001-01-01 (Apple's epoch)
in nanoseconds (seconds on old macOS). Others are named by their handle (phone number or email: the
names live in the Contacts app, not here). Tapbacks and group events: system. Attachments alone (the
U+FFFC object mark): media.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pydantic

from ...dataset.messages import Message
from ...errors import DataError

APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=timezone.utc)
_QUERY = """
    select m.ROWID as rowid, m.guid, m.text, m.attributedBody as body, m.is_from_me, m.date,
           coalesce(m.item_type, 0) as item_type, coalesce(m.associated_message_type, 0) as tapback,
           m.cache_has_attachments as attachments, h.id as handle,
           coalesce(c.chat_identifier, h.id, 'unknown') as chat_id, c.display_name,
           m.{reply_column} as reply_to
    from message m
    left join handle h on h.ROWID = m.handle_id
    left join chat_message_join j on j.message_id = m.ROWID
    left join chat c on c.ROWID = j.chat_id
    order by c.ROWID, m.date, m.ROWID
"""


def attributed_text(blob: bytes | None) -> str:
    """The plain string of a typedstream NSAttributedString (the attributedBody column)."""
    if not blob:
        return ""
    start = blob.find(b"NSString")
    if start < 0:
        return ""
    plus = blob.find(b"+", start + len(b"NSString"))
    if plus < 0 or plus + 2 > len(blob):
        return ""
    length, at = blob[plus + 1], plus + 2
    if length == 0x81:            # typedstream: 0x81 then a 2-byte little-endian length
        length, at = int.from_bytes(blob[at:at + 2], "little"), at + 2
    elif length == 0x82:          # 0x82 then a 4-byte length
        length, at = int.from_bytes(blob[at:at + 4], "little"), at + 4
    return blob[at:at + length].decode("utf-8", errors="replace")


def apple_time(value) -> datetime | None:
    if not value:
        return None
    value = int(value)
    seconds = value / 1e9 if abs(value) > 1e11 else value
    return APPLE_EPOCH + timedelta(seconds=seconds)


class IMessageImporter:
    name = "imessage"
    title = "iMessage chat.db (macOS Messages)"
    produces = "messages"
    marks_owner = True

    class Options(pydantic.BaseModel):
        pass

    def detect(self, path: Path) -> bool:
        path = Path(path)
        if not path.is_file():
            return False
        with open(path, "rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                return False
        try:
            tables = _tables(path)
        except sqlite3.Error:
            return False
        return {"message", "handle", "chat_message_join"} <= tables

    def read(self, path: Path, options: Options) -> Iterator[Message]:
        path = Path(path)
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise DataError(f"cannot open the database ({exc})", "copy chat.db somewhere readable first",
                            path=path) from exc
        db.row_factory = sqlite3.Row
        count = 0
        try:
            columns = {row[1] for row in db.execute("pragma table_info(message)")}
            if not columns:
                raise DataError("no 'message' table: this is not a Messages chat.db",
                                "copy ~/Library/Messages/chat.db from the Mac", path=path)
            reply_column = "thread_originator_guid" if "thread_originator_guid" in columns else "NULL"
            for row in db.execute(_QUERY.format(reply_column=reply_column)):
                count += 1
                yield _message(row, str(path))
        except sqlite3.DatabaseError as exc:
            raise DataError(f"the database cannot be read ({exc})", "copy chat.db again while Messages is closed",
                            path=path) from exc
        finally:
            db.close()
        if count == 0:
            raise DataError("the database has no messages", "copy ~/Library/Messages/chat.db from the Mac", path=path)


def _tables(path: Path) -> set[str]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
    finally:
        db.close()


def _message(row: sqlite3.Row, origin: str) -> Message:
    text = row["text"] if row["text"] else attributed_text(row["body"])
    mine = bool(row["is_from_me"])
    if row["item_type"] or (row["tapback"] and 2000 <= row["tapback"] < 4000):
        kind = "system"
    elif not text.replace("\ufffc", "").strip():
        kind = "media" if (row["attachments"] or "\ufffc" in text) else "system"
    else:
        kind = "text"
        text = text.replace("\ufffc", "").strip()
    chat = row["display_name"] or row["chat_id"]
    sender = "me" if mine else (row["handle"] or "unknown")
    return Message("imessage", origin, str(chat), sender, text or "", apple_time(row["date"]), mine, kind,
                   row["reply_to"], row["guid"], None if mine else row["handle"])
