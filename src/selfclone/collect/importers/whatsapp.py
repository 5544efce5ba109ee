"""WhatsApp chat exports (.txt, "Export chat" on Android and iOS), read line by line.

    selfclone import whatsapp "WhatsApp Chat with Ana.txt" --me "Maggie"

Android lines look like `12/3/23, 9:41 PM - Ana: text`, iOS lines like `[03.12.23, 21:41:07] Ana: text`.
Both clocks (12 and 24 hours, with "PM", "p. m.", narrow spaces), the date orders of common locales (day
first, month first, year first; decided from the dates themselves, or `-o date_order=dmy`), UTF-8 with or
without BOM and UTF-16, and the invisible left-to-right marks iOS puts before media and system lines are
understood. A line that does not start with a date continues the message above it.
Kept: text messages (an "edited" marker removed). Marked media: "<Media omitted>", "image omitted",
"<attached: ...>", "(file attached)". Marked system: the encryption notice, joins, leaves, changes, deleted
messages (on iOS they look like a message from a participant, behind a U+200E mark).
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

import pydantic

from ...dataset.messages import Message
from ...errors import DataError
from .textfile import decode_error, head_text, open_text

_HEADER = re.compile(
    r"\[?(\d{1,4}[./-]\d{1,2}[./-]\d{1,4})\.?,? "                          # date: 12/3/23, 03.12.23, 2023-12-03
    r"(\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?: ?[AaPp]\.? ?[Mm]\.?)?)"              # time: 9:41 PM, 21:41:07, 9:41 p. m.
    r"(\])?(?: [-–])? ")                                                    # "] " on iOS, " - " on Android
_DATE = re.compile(r"(\d+)([./-])(\d+)[./-](\d+)")
_TIME = re.compile(r"(\d+)[:.](\d+)(?:[:.](\d+))?(?: ?([AaPp]))?")
_MARKS = "\ufeff\u200e\u200f\u202a\u202b\u202c\u2066\u2067\u2068\u2069"
_MEDIA = re.compile(
    r"^(?:<Media omitted>|<Medien ausgeschlossen>|<Multimedia omitido>|<Médias omis>|<Media weggelaten>|"
    r"<Mídia oculta>|<Arquivo de mídia oculto>|<Media omessi>|<Медиа отсутствует>|<Без медиафайлов>|"
    r"null|"
    r"(?:image|video|audio|sticker|GIF|document|Contact card|photo) omitted|"
    r"(?:imagen|video|audio|sticker|documento) omitido|(?:Bild|Video|Audio|Sticker|GIF|Dokument) weggelassen|"
    r"<attached: [^>]*>|.*\(file attached\)|.*\.(?:vcf|opus|jpg|jpeg|png|webp|mp4|pdf) \(.*\)|"
    r"Location: https://maps\.google\.com/.*|live location shared|POLL:.*)$", re.IGNORECASE | re.DOTALL)
_DELETED = re.compile(r"^(?:This message was deleted\.?|You deleted this message\.?|Diese Nachricht wurde gelöscht\.?|"
                      r"Se eliminó este mensaje\.?|Eliminaste este mensaje\.?|Ce message a été supprimé\.?|"
                      r"Essa mensagem foi apagada\.?|Mensagem apagada)$", re.IGNORECASE)
_EDITED = re.compile(r"[\s\u200e]*<(?:This message was edited|Diese Nachricht wurde bearbeitet|Se editó este mensaje|"
                     r"Ce message a été modifié|Mensagem editada)>$")
# cheap tests first: most messages are plain text and need none of the patterns above
_HINT_START = ("<", "null", "Location: ", "POLL:", "live location", "This message", "You deleted", "Diese Nachricht",
               "Se eliminó", "Eliminaste", "Ce message", "Essa mensagem", "Mensagem")
_HINT_END = ("omitted", "omitido", "weggelassen", ")", ">")


class ImportNotice(UserWarning):
    """Something an importer decided that the user should know; `selfclone import` prints it as a note."""


class WhatsAppImporter:
    name = "whatsapp"
    title = "WhatsApp chat export (.txt, Android or iOS)"
    produces = "messages"
    marks_owner = False

    class Options(pydantic.BaseModel):
        date_order: Literal["auto", "dmy", "mdy", "ymd"] = "auto"
        encoding: str | None = None
        chat: str | None = pydantic.Field(None, description="conversation name (default: the file's name)")

    def detect(self, path: Path) -> bool:
        if not path.is_file():
            return False
        for line in head_text(path, 4096).splitlines()[:5]:
            line = line.strip(_MARKS + " ")
            if line:
                return _HEADER.match(_spaces(line)) is not None
        return False

    def read(self, path: Path, options: Options) -> Iterator[Message]:
        path = Path(path)
        order = options.date_order if options.date_order != "auto" else date_order(path, options.encoding)
        chat = options.chat or (path.parent.name if path.stem == "_chat" else path.stem)
        origin = str(path)
        dates: dict[str, tuple[int, int, int]] = {}
        times: dict[str, tuple[int, int, int]] = {}
        current: Message | None = None
        auto, mixed = options.date_order == "auto", {"other": [], "ambiguous": []}
        seen = ios = False
        last_stamp, when = "", None
        with open_text(path, options.encoding) as fh:
            try:
                for lineno, raw in enumerate(fh, 1):
                    line = raw.rstrip("\n")
                    if line[:1] in _MARKS:
                        line = line.lstrip(_MARKS)
                    if "\u202f" in line or "\u00a0" in line:
                        line = _spaces(line)
                    m = _HEADER.match(line)
                    if m is None:
                        if current is not None:
                            current.text += "\n" + line
                        elif line.strip():
                            raise DataError(f"this line does not start like a WhatsApp message: {line[:60]!r}",
                                            "export the chat again from WhatsApp (Export chat > Without media); "
                                            "lines look like '12/3/23, 9:41 PM - Ana: hi' or "
                                            "'[03.12.23, 21:41:07] Ana: hi'", path=path, line=lineno)
                        continue
                    if current is not None:
                        yield _finish(current)
                    stamp = m.group(0)
                    if stamp != last_stamp:           # messages in one minute share the parsing
                        day, clock, _ = m.groups()
                        ymd = dates.get(day)
                        if ymd is None:
                            ymd = dates[day] = _date(day, order, path, lineno, mixed if auto else None)
                        hms = times.get(clock)
                        if hms is None:
                            hms = times[clock] = _time(clock)
                        try:
                            when = datetime(*ymd, *hms)
                        except ValueError as exc:
                            raise DataError(f"unknown date or time {day} {clock} ({exc})",
                                            "pass -o date_order=dmy, mdy or ymd", path=path, line=lineno) from exc
                        last_stamp, ios = stamp, stamp[0] == "["
                    rest = line[m.end():]
                    colon = rest.find(": ")
                    sender = rest[:colon]
                    if colon > 0 and rest[colon + 2:colon + 3] not in _MARKS and (
                            ios or ('"' not in sender and "“" not in sender)):
                        current = Message("whatsapp", origin, chat, sender, rest[colon + 2:], when, None,
                                          "text", None, None, None, lineno)
                    else:                             # system lines, iOS marks: the careful path
                        current = _message(rest, ios, when, chat, origin, lineno)
                    seen = True
            except UnicodeDecodeError as exc:
                raise decode_error(path, exc) from exc
        if current is not None:
            yield _finish(current)
        if mixed["other"]:
            other = "month" if order == "dmy" else "day"
            ambiguous = mixed["ambiguous"]
            warnings.warn(ImportNotice(
                f"{path.name} mixes date orders: {len(mixed['other'])} date(s) can only be {other}-first "
                f"(from line {mixed['other'][0]}) and were read so; " + (
                    f"{len(ambiguous)} date(s) fit both and were read as {order} (lines "
                    f"{', '.join(map(str, ambiguous[:8]))}{'...' if len(ambiguous) > 8 else ''})" if ambiguous
                    else "no date is ambiguous")), stacklevel=2)
        if not seen:
            raise DataError("the export has no messages", "export the chat again from WhatsApp", path=path)


def _spaces(line: str) -> str:
    return line.replace("\u202f", " ").replace("\u00a0", " ")


def _message(rest: str, ios: bool, when: datetime, chat: str, origin: str, lineno: int) -> Message:
    colon = rest.find(": ")
    if colon < 0 and rest.endswith(":"):
        colon = len(rest) - 1
    # an Android system line has no "Name: "; one that quotes a group subject may contain a colon
    if colon < 0 or (not ios and ('"' in rest[:colon] or "“" in rest[:colon])):
        return Message("whatsapp", origin, chat, "", rest.lstrip(_MARKS), when, kind="system", line=lineno)
    sender = rest[:colon].strip(_MARKS)
    text = rest[colon + 2:]
    kind = "text"
    if text[:1] in _MARKS:
        text = text.lstrip(_MARKS)
        if ios:
            kind = "media" if _MEDIA.match(text) else "system"
    return Message("whatsapp", origin, chat, sender, text, when, kind=kind, line=lineno)


def _finish(m: Message) -> Message:
    """Classify a complete (possibly multi-line) message."""
    if m.kind == "text":
        text = m.text
        if "<" in text and _EDITED.search(text):
            text = _EDITED.sub("", text)
        if len(text) > 200 or not (text.startswith(_HINT_START) or text.endswith(_HINT_END)):
            pass
        elif _MEDIA.match(text):
            m.kind = "media"
        elif _DELETED.match(text):
            m.kind = "system"
        m.text = text
    return m


def _date(text: str, order: str, path: Path, lineno: int, mixed: dict | None = None) -> tuple[int, int, int]:
    """The date `text` in `order`; with `mixed` (date_order auto), a date that only fits the other of day-first and
    month-first is read that way and its line noted there, as are the dates that fit both."""
    a, _, b, c = _DATE.match(text).groups()
    x, y, z = int(a), int(b), int(c)
    if mixed is not None and len(a) != 4 and order in ("dmy", "mdy"):
        only = "dmy" if x > 12 >= y else "mdy" if y > 12 >= x else None
        if only is not None and only != order:
            mixed["other"].append(lineno)
            order = only
        elif only is None and x <= 12 and y <= 12 and x != y:
            mixed["ambiguous"].append(lineno)
    if len(a) == 4 or order == "ymd":
        year, month, day = x, y, z
    elif order == "mdy":
        month, day, year = x, y, z
    else:
        day, month, year = x, y, z
    if year < 100:
        year += 2000
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise DataError(f"unknown date {text!r} (read as {order})",
                        "pass the date order of your phone's locale: -o date_order=dmy, mdy or ymd; leave the "
                        "option out to read a file that mixes them date by date", path=path, line=lineno)
    return year, month, day


def _time(text: str) -> tuple[int, int, int]:
    hh, mm, ss, ampm = _TIME.match(text).groups()
    hour = int(hh)
    if ampm is not None:
        hour = hour % 12 + (12 if ampm in "Pp" else 0)
    return hour, int(mm), int(ss or 0)


def date_order(path: Path, encoding: str | None = None) -> str:
    """Day or month first? The first date with a part above 12 tells; without one, guess from the locale's look."""
    dotted = twelve_hour = False
    with open_text(path, encoding) as fh:
        try:
            for line in fh:
                m = _HEADER.match(_spaces(line.lstrip(_MARKS)))
                if m is None:
                    continue
                a, sep, b, _ = _DATE.match(m.group(1)).groups()
                if len(a) == 4:
                    return "ymd"
                if int(a) > 12:
                    return "dmy"
                if int(b) > 12:
                    return "mdy"
                dotted = dotted or sep == "."
                twelve_hour = twelve_hour or _TIME.match(m.group(2)).group(4) is not None
        except UnicodeDecodeError as exc:
            raise decode_error(path, exc) from exc
    return "mdy" if twelve_hour and not dotted else "dmy"
