"""Opening the text files people export: the BOMs and UTF-16 that WhatsApp writes, and a clear error
for a file in another encoding.

    with open_text(path, options.encoding) as fh:
        for lineno, line in enumerate(fh, 1): ...
"""
from __future__ import annotations

import codecs
from pathlib import Path
from typing import TextIO

from ...errors import DataError


def sniff_encoding(head: bytes) -> str:
    """The encoding a file's first bytes show: a BOM, or UTF-16 without one (NULs between ASCII letters)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 4 and head[1:4:2] == b"\x00\x00" and head[0:4:2] != b"\x00\x00":
        return "utf-16-le"
    if len(head) >= 4 and head[0:4:2] == b"\x00\x00" and head[1:4:2] != b"\x00\x00":
        return "utf-16-be"
    return "utf-8"


def open_text(path: Path, encoding: str | None = None) -> TextIO:
    """Open `path` for reading text in `encoding`, or the one its first bytes show."""
    if encoding is None:
        with open(path, "rb") as fh:
            encoding = sniff_encoding(fh.read(4096))
    try:
        return open(path, encoding=encoding, errors="strict", newline=None)
    except LookupError as exc:
        raise DataError(f"unknown encoding {encoding!r}", "use a Python codec name such as utf-8, cp1252, latin-1",
                        path=path, field="encoding") from exc


def head_text(path: Path, size: int = 65536) -> str:
    """The first `size` bytes of a file as text (for detecting formats); '' for binary or unreadable files."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(size)
    except OSError:
        return ""
    encoding = sniff_encoding(head)
    if encoding == "utf-8" and b"\x00" in head:
        return ""
    return head.decode(encoding, errors="ignore")


def decode_error(path: Path, exc: UnicodeDecodeError) -> DataError:
    """A DataError naming the first line that is not valid in the file's encoding."""
    return DataError(f"not {exc.encoding} text ({exc.reason})",
                     "export the file again, or pass its encoding, e.g. -o encoding=cp1252 (or latin-1, utf-16)",
                     path=path, line=first_bad_line(path, exc.encoding))


def first_bad_line(path: Path, encoding: str) -> int | None:
    """Text files are decoded in blocks, so the error's own position does not tell the line: find it."""
    if "16" in encoding or "32" in encoding:
        return None                       # line breaks are not single bytes there
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                return lineno
    return None
