"""Email: mbox files (Gmail Takeout, Thunderbird, Apple Mail) and folders of .eml files.

    selfclone import email "All mail Including Spam and Trash.mbox"            # Gmail: Sent marks mine
    selfclone import email ~/mail/exported/ --me maggie@example.com

Mine: Gmail Takeout's `X-Gmail-Labels` header has "Sent" on what the person sent; without that header,
--me takes the address or the display name. Threads come from Gmail's thread id (X-GM-THRID), else the
first of `References`, else `In-Reply-To`. The body is the text/plain part, or the text/html part turned
into text (inscriptis) when there is no plain one; quoted replies ("On ... wrote:", "> " lines, Outlook's
"-----Original Message-----" and "From: ... Sent:" blocks, Gmail's quote blocks in HTML) and signatures
("-- " and what follows, "Sent from my iPhone") are cut. Attachments are not read. Drafts, spam and trash
(Gmail labels) are skipped. A bad Date header leaves the time unknown rather than failing the import.
"""
from __future__ import annotations

import email.policy
import email.utils
import mailbox
import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pydantic

from ...dataset.messages import Message
from ...errors import DataError
from .textfile import head_text

_QUOTE_HEADER = re.compile(r"^\s*(?:On|Am|Le|El|Em|Il|Op|Den|W dniu)\b.{0,300}?(?:wrote|schrieb|a écrit|escribió|"
                           r"escreveu|ha scritto|schreef|skrev|napisał)\b.{0,200}?:\s*$", re.IGNORECASE | re.DOTALL)
_CUT_LINE = re.compile(r"^(?:-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original)"
                       r"\s*-{2,}|_{20,}|-- ?|Sent from my \w+.*|Get Outlook for .*|Von meinem .* gesendet|"
                       r"Envoyé de mon .*|Enviado desde mi .*)\s*$", re.IGNORECASE)
_OUTLOOK_FROM = re.compile(r"^\*?(?:From|Von|De):\*?\s.+", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\*?(?:Sent|Date|Gesendet|Envoyé|Enviado|To|An|À|Para):\*?\s", re.IGNORECASE)
_HEADER_LINE = re.compile(r"^(?:From|Date|Subject|Message-ID|Received|Return-Path|MIME-Version|To|Delivered-To):",
                          re.IGNORECASE | re.MULTILINE)
_REPLY_PREFIX = re.compile(r"^(?:(?:re|fwd?|aw|wg|sv|tr)\s*:\s*)+", re.IGNORECASE)
_SKIP_LABELS = {"draft", "drafts", "spam", "trash"}
_PARSER = BytesParser(policy=email.policy.default)


class EmailImporter:
    name = "email"
    title = "Email: mbox (Gmail Takeout, Thunderbird) or a folder of .eml files"
    produces = "messages"
    marks_owner = False
    session_gap_s = 30 * 86400       # replies by mail come days later; a thread is one conversation

    class Options(pydantic.BaseModel):
        pass

    def detect(self, path: Path) -> bool:
        path = Path(path)
        if path.is_dir():        # a folder of mails, not a folder of mixed exports
            files = [f for f in path.rglob("*") if f.is_file() and not f.name.startswith(".")]
            return bool(files) and all(f.suffix.lower() == ".eml" for f in files)
        head = head_text(path, 8192)
        if head.startswith("From ") and _HEADER_LINE.search(head):
            return True
        return len(set(m.lower() for m in _HEADER_LINE.findall(head[:4096]))) >= 3 and "\n\n" in head.replace("\r", "")

    def read(self, path: Path, options: Options) -> Iterator[Message]:
        path = Path(path)
        count = 0
        for origin, raw in _raw_messages(path):
            message = _message(raw, origin)
            if message is not None:
                count += 1
                yield message
        if count == 0:
            raise DataError("no email messages found", "pass an .mbox file (Gmail Takeout: Mail) or a folder of "
                            ".eml files", path=path)


def _raw_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        for file in sorted(path.rglob("*.eml")):
            yield str(file), file.read_bytes()
    elif head_text(path, 5).startswith("From "):
        box = mailbox.mbox(path, create=False)
        try:
            for key in box.iterkeys():
                yield f"{path}#{key}", box.get_bytes(key)
        finally:
            box.close()
    else:
        yield str(path), path.read_bytes()


def _message(raw: bytes, origin: str) -> Message | None:
    msg = _PARSER.parsebytes(raw)
    labels = {label.strip().lower() for label in str(msg.get("X-Gmail-Labels", "")).split(",") if label.strip()}
    if labels & _SKIP_LABELS:
        return None
    name, address = email.utils.parseaddr(str(msg.get("From", "")))
    is_me = ("sent" in labels) if labels else None
    message_id = _ids(msg.get("Message-ID"))
    references = _ids(msg.get("References"))
    in_reply_to = _ids(msg.get("In-Reply-To"))
    thread = msg.get("X-GM-THRID") or (references or in_reply_to or message_id or [None])[0]
    subject = str(msg.get("Subject", "") or "")
    chat = f"thread {thread}" if thread else "subject " + _REPLY_PREFIX.sub("", subject)
    try:
        when = email.utils.parsedate_to_datetime(str(msg["Date"])) if msg.get("Date") else None
    except (TypeError, ValueError, IndexError):
        when = None
    body = body_text(msg)
    kind = "text" if body.strip() else "media"
    return Message("email", origin, chat, name or address, body, when, is_me, kind,
                   in_reply_to[0] if in_reply_to else None, message_id[0] if message_id else None,
                   address.lower() or None)


def _ids(value) -> list[str]:
    return re.findall(r"<[^<>\s]+>", str(value or ""))


def body_text(msg: EmailMessage) -> str:
    """The new text of a mail: plain part (or HTML made text), without quoted replies and signature."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError):
        content = part.get_payload(decode=True).decode("utf-8", errors="replace")
    if part.get_content_subtype() == "html":
        content = html_text(content)
    return strip_quotes(content)


def html_text(html: str) -> str:
    from inscriptis import Inscriptis
    from lxml import html as lxml_html

    if not html.strip():
        return ""
    tree = lxml_html.fromstring(html)
    quoted = ('//blockquote | //*[contains(@class, "gmail_quote")] | //*[contains(@class, "gmail_signature")]'
              ' | //*[@id="appendonsend"] | //*[@id="divRplyFwdMsg"] | //style | //script')
    for element in tree.xpath(quoted):
        element.drop_tree()
    return "\n".join(line.strip() for line in Inscriptis(tree).get_text().splitlines())


def strip_quotes(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        two = line + " " + lines[i + 1] if i + 1 < len(lines) else line
        if _CUT_LINE.match(line) or _QUOTE_HEADER.match(line) or (
                line.lstrip().startswith(("On ", "Am ", "Le ", "El ")) and _QUOTE_HEADER.match(two)):
            break
        if _OUTLOOK_FROM.match(line) and i + 1 < len(lines) and _OUTLOOK_NEXT.match(lines[i + 1]):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()
