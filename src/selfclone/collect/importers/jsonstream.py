"""Streaming JSON for exports of any size (ijson, its C backend when installed), with errors that name the
line where the JSON breaks.

    with json_source(path) as fh:
        for message in ijson.items(fh, "messages.item"): ...
"""
from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import ijson

from ...errors import DataError
from .textfile import head_text

JSONError = (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError)
_EXACT_UP_TO = 64 * 1024 * 1024      # re-read files this small with json to name the exact line


class CountingReader:
    """A binary file that remembers how many newlines it has handed out (a line near a parse error)."""

    def __init__(self, fh):
        self.fh, self.lines = fh, 1

    def read(self, size: int = -1) -> bytes:
        chunk = self.fh.read(size)
        self.lines += chunk.count(b"\n")
        return chunk


@contextlib.contextmanager
def json_source(path: Path) -> Iterator[CountingReader]:
    """Open `path` for ijson; turn a JSON error raised inside the block into a DataError with a line."""
    with open(path, "rb") as raw:
        reader = CountingReader(raw)
        try:
            yield reader
        except JSONError as exc:
            raise json_error(path, exc, reader.lines) from exc


def json_error(path: Path, exc: Exception, near_line: int) -> DataError:
    hint = ("the file is cut short or damaged: export it again (or unzip it again) and import the new copy")
    if path.stat().st_size <= _EXACT_UP_TO:
        try:
            json.loads(path.read_bytes().decode("utf-8-sig"))
        except json.JSONDecodeError as precise:
            return DataError(f"not valid JSON ({precise.msg}, column {precise.colno})", hint,
                             path=path, line=precise.lineno)
        except UnicodeDecodeError as bad:
            return DataError(f"not UTF-8 JSON ({bad.reason})", "export the file again as UTF-8", path=path)
    return DataError(f"not valid JSON ({exc}) near line {near_line}", hint, path=path, line=near_line)


def json_keys(path: Path, size: int = 65536) -> set[str]:
    """Object keys that appear near the start of a JSON file (for detecting formats); empty if not JSON."""
    head = head_text(path, size).lstrip()
    if not head.startswith(("{", "[")):
        return set()
    return set(re.findall(r'"([A-Za-z_][\w]*)"\s*:', head))


def head_values(path: Path, stop_prefix: str, wanted: set[str]) -> dict:
    """Scalars at the `wanted` prefixes that come before `stop_prefix` starts (e.g. a chat's name)."""
    found: dict = {}
    with json_source(path) as fh:
        for prefix, event, value in ijson.parse(fh):
            if prefix == stop_prefix:
                break
            if prefix in wanted and event in ("string", "number", "boolean"):
                found[prefix] = value
    return found


def find_line(path: Path | str, value) -> int | None:
    """The first line holding `value` as JSON writes it: ijson gives no positions, errors still name a line."""
    needle = json.dumps(value, ensure_ascii=False).encode("utf-8")
    needle_ascii = json.dumps(value).encode("ascii")
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if needle in line or needle_ascii in line:
                return lineno
    return None
