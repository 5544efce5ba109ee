"""iMessage chat.db: text or attributedBody, is_from_me, Apple-epoch nanoseconds, tapbacks, attachments.

The database is built here with the columns macOS Messages has (a subset of its schema), not shipped.
"""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from selfclone.collect.importers.imessage import IMessageImporter, attributed_text
from selfclone.errors import DataError

SCHEMA = """
create table handle (ROWID integer primary key, id text, service text);
create table chat (ROWID integer primary key, guid text, chat_identifier text, display_name text);
create table message (ROWID integer primary key, guid text, text text, attributedBody blob, handle_id integer,
                      is_from_me integer, date integer, item_type integer default 0,
                      associated_message_type integer default 0, cache_has_attachments integer default 0,
                      thread_originator_guid text, service text);
create table chat_message_join (chat_id integer, message_id integer);
create table chat_handle_join (chat_id integer, handle_id integer);
"""


def typedstream(text: str) -> bytes:
    """An NSAttributedString archived the way Messages stores attributedBody."""
    data = text.encode("utf-8")
    length = bytes([len(data)]) if len(data) < 0x80 else b"\x81" + len(data).to_bytes(2, "little")
    return (b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00\x84\x84\x08NSObject"
            b"\x00\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+" + length + data +
            b"\x86\x84\x02iI\x01\x05\x92\x84\x84\x84\x0cNSDictionary\x00\x94\x84\x01i\x01")


def apple_ns(iso: str) -> int:
    moment = datetime.fromisoformat(iso).replace(tzinfo=timezone.utc)
    return int((moment - datetime(2001, 1, 1, tzinfo=timezone.utc)).total_seconds() * 1e9)


@pytest.fixture
def chat_db(tmp_path):
    path = tmp_path / "chat.db"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    db.execute("insert into handle values (1, '+14155550132', 'iMessage')")
    db.execute("insert into chat values (1, 'iMessage;-;+14155550132', '+14155550132', '')")
    long_text = "so " + "very " * 40 + "long"
    rows = [
        (1, "G1", "are we still on for dinner?", None, 1, 0, apple_ns("2023-12-03T21:41:00"), 0, 0, 0),
        (2, "G2", None, typedstream("yes! 8pm at Lupa"), 1, 1, apple_ns("2023-12-03T21:42:00"), 0, 0, 0),
        (3, "G3", "Loved “yes! 8pm at Lupa”", None, 1, 0, apple_ns("2023-12-03T21:42:30"), 0, 2000, 0),
        (4, "G4", "\ufffc", None, 1, 0, apple_ns("2023-12-03T21:43:00"), 0, 0, 1),
        (5, "G5", None, typedstream(long_text), 1, 0, apple_ns("2023-12-03T21:44:00"), 0, 0, 0),
        (6, "G6", "haha ok", None, 1, 1, apple_ns("2023-12-03T21:45:00"), 0, 0, 0),
    ]
    for row in rows:
        db.execute("insert into message (ROWID, guid, text, attributedBody, handle_id, is_from_me, date, item_type, "
                   "associated_message_type, cache_has_attachments) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        db.execute("insert into chat_message_join values (1, ?)", (row[0],))
    db.commit()
    db.close()
    return path, long_text


def test_messages(chat_db):
    path, long_text = chat_db
    messages = list(IMessageImporter().read(path, IMessageImporter.Options()))
    assert [(m.sender, m.sent_at.isoformat(), m.is_me, m.kind, m.text) for m in messages] == [
        ("+14155550132", "2023-12-03T21:41:00+00:00", False, "text", "are we still on for dinner?"),
        ("me", "2023-12-03T21:42:00+00:00", True, "text", "yes! 8pm at Lupa"),
        ("+14155550132", "2023-12-03T21:42:30+00:00", False, "system", "Loved “yes! 8pm at Lupa”"),
        ("+14155550132", "2023-12-03T21:43:00+00:00", False, "media", "\ufffc"),
        ("+14155550132", "2023-12-03T21:44:00+00:00", False, "text", long_text),
        ("me", "2023-12-03T21:45:00+00:00", True, "text", "haha ok"),
    ]
    assert {m.chat for m in messages} == {"+14155550132"} and messages[1].uid == "G2"


def test_examples_need_no_me(chat_db, imported):
    path, long_text = chat_db
    _, examples, _ = imported("imessage", path)
    assert examples == [
        {"messages": [{"role": "user", "content": "are we still on for dinner?"},
                      {"role": "assistant", "content": "yes! 8pm at Lupa"}]},
        {"messages": [{"role": "user", "content": "are we still on for dinner?"},
                      {"role": "assistant", "content": "yes! 8pm at Lupa", "weight": 0},
                      {"role": "user", "content": long_text},
                      {"role": "assistant", "content": "haha ok"}]},
    ]


def test_attributed_body_lengths():
    assert attributed_text(typedstream("hi")) == "hi"
    assert attributed_text(typedstream("x" * 300)) == "x" * 300          # 0x81: two-byte length
    assert attributed_text(b"no string here") == "" and attributed_text(None) == ""


def test_detect_and_not_a_messages_db(chat_db, tmp_path):
    path, _ = chat_db
    assert IMessageImporter().detect(path)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table notes (x)").connection.commit()
    assert not IMessageImporter().detect(other)
    with pytest.raises(DataError) as err:
        list(IMessageImporter().read(other, IMessageImporter.Options()))
    assert "not a Messages chat.db" in str(err.value)
