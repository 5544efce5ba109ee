"""SMS Backup & Restore XML (Android): `sms` and `mms` elements, streamed element by element.

    selfclone import sms sms-20231203214107.xml

Mine: an `sms` of type 2 (sent; 4 outbox, 5 failed and 6 queued count as sent too; 3 drafts are skipped),
an `mms` with msg_box 2, or whose sender address (`addr` type 137) is "insert-address-token". Others are
named by `contact_name`, or by their number when the contact is unknown. A conversation is one number
(group MMS: the set of numbers), so a renamed contact stays the same conversation. MMS text parts
(ct="text/plain") are the text; pictures, audio, video and vCards alone are media. Emoji written as UTF-16
surrogate pairs (`&#55357;&#56832;`), which the app does and XML forbids, are repaired while reading.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pydantic

from ...dataset.messages import Message
from ...errors import DataError
from .textfile import head_text

_SURROGATES = re.compile(rb"&#(5[5-6]\d{3});&#(5[6-7]\d{3});")
_OPEN_END = re.compile(rb"(?:&#5[5-6]\d{3};)?&(?:#\d{0,5})?$|&#5[5-6]\d{3};$")
_SENT_TYPES = {"2", "4", "5", "6"}
_ME_ADDRESS = "insert-address-token"


class SurrogateFixer:
    """A binary reader that turns '&#55357;&#56832;' into '&#128512;' so the XML parser accepts it."""

    def __init__(self, fh):
        self.fh, self.tail, self.lines = fh, b"", 1

    def read(self, size: int = 65536) -> bytes:
        chunk = b""
        while not chunk:
            data = self.fh.read(size)
            chunk, self.tail = _SURROGATES.sub(_combine, self.tail + data), b""
            if not data:
                break
            end = _OPEN_END.search(chunk)
            if end is not None:          # a surrogate pair may go on in the next chunk
                chunk, self.tail = chunk[:end.start()], chunk[end.start():]
        self.lines += chunk.count(b"\n")
        return chunk


def _combine(m: re.Match) -> bytes:
    high, low = int(m.group(1)), int(m.group(2))
    if not (0xD800 <= high <= 0xDBFF and 0xDC00 <= low <= 0xDFFF):
        return m.group(0)
    return b"&#%d;" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


class SmsImporter:
    name = "sms"
    title = "SMS Backup & Restore XML (Android SMS and MMS)"
    produces = "messages"
    marks_owner = True

    class Options(pydantic.BaseModel):
        pass

    def detect(self, path: Path) -> bool:
        head = head_text(Path(path), 4096) if Path(path).is_file() else ""
        return head.lstrip().startswith("<?xml") and ("<smses" in head or "<allsms" in head) or "<smses" in head[:512]

    def read(self, path: Path, options: Options) -> Iterator[Message]:
        path = Path(path)
        count = 0
        with open(path, "rb") as raw:
            reader = SurrogateFixer(raw)
            try:
                for _, element in ET.iterparse(reader, events=("end",)):
                    if element.tag == "sms":
                        message = _sms(element, str(path))
                    elif element.tag == "mms":
                        message = _mms(element, str(path))
                    else:
                        continue
                    element.clear()
                    if message is not None:
                        count += 1
                        yield message
            except ET.ParseError as exc:
                line = exc.position[0] if exc.position else reader.lines
                raise DataError(f"not valid XML ({exc})", "the backup is cut short or damaged: make a new backup "
                                "with SMS Backup & Restore and import that", path=path, line=line) from exc
        if count == 0:
            raise DataError("the backup has no messages", "back up your messages with SMS Backup & Restore (XML)",
                            path=path)


def _when(value: str | None, origin: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise DataError(f"unknown date {value!r}", "it should be milliseconds since 1970", path=origin,
                        field="date") from exc


def _contact(name: str | None, address: str) -> str:
    return name if name and name not in ("(Unknown)", "null") else address


def _sms(e: ET.Element, origin: str) -> Message | None:
    kind_code = e.get("type", "1")
    if kind_code == "3":
        return None
    address = e.get("address", "")
    mine = kind_code in _SENT_TYPES
    sender = "me" if mine else _contact(e.get("contact_name"), address)
    body = e.get("body") or ""
    if body == "null":
        body = ""
    return Message("sms", origin, _chat(address), sender, body, _when(e.get("date"), origin),
                   mine, "text" if body.strip() else "media", sender_id=None if mine else address)


def _mms(e: ET.Element, origin: str) -> Message | None:
    if e.get("msg_box") == "3":
        return None
    texts, other_parts = [], 0
    for part in e.iter("part"):
        content_type = part.get("ct", "")
        if content_type == "text/plain":
            text = part.get("text") or ""
            if text and text != "null":
                texts.append(text)
        elif content_type != "application/smil":
            other_parts += 1
    sender_address = None
    for addr in e.iter("addr"):
        if addr.get("type") == "137":
            sender_address = addr.get("address")
    address = e.get("address", "")
    mine = e.get("msg_box") == "2" or sender_address == _ME_ADDRESS
    sender_address = sender_address or address
    names = dict(zip(address.split("~"), (e.get("contact_name") or "").split(", ")))
    sender = "me" if mine else _contact(names.get(sender_address), sender_address)
    text = "\n".join(texts)
    kind = "text" if text.strip() else ("media" if other_parts else "system")
    return Message("sms", origin, _chat(address), sender, text, _when(e.get("date"), origin),
                   mine, kind, sender_id=None if mine else sender_address)


def _chat(address: str) -> str:
    """The conversation: its numbers (last 10 digits, so +1 415... and 415... agree), not the contact's name,
    which may change between backups."""
    return ", ".join(sorted({re.sub(r"\D", "", a)[-10:] or a for a in address.split("~") if a}))
