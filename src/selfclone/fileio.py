"""Atomic file writes: a reader never sees a half-written file, even after Ctrl-C or a crash.
And `input_file`, the one check of a path the user gave to read: missing, a folder, or a file."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from .errors import DataError


def input_file(path: str | Path, hint: str = "check the path", what: str = "file") -> Path:
    """`path` if it is a readable file; else a DataError that says whether it is missing or a folder."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"this is a folder, expected a {what}", f"pass one file inside it; {hint}", path=path)
    if not path.exists():
        raise DataError(f"{what} not found", hint, path=path)
    return path


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside `path`, then rename it over `path` only on success."""
    path = Path(path)
    if path.is_dir():
        raise DataError("this is a folder, expected a file to write", "name a file, e.g. FOLDER/out.jsonl", path=path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:                     # name the user's path, not the temporary file beside it
        raise DataError(f"cannot write here ({exc.strerror or exc})", "choose a folder you can write to",
                        path=path) from None
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path) as fh:
        fh.write(text)


def write_json(path: str | Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    count = 0
    with atomic_open(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl_prefix(path: str | Path) -> list[dict]:
    """The rows of a JSONL log up to its first broken line (a line cut by a crash: everything after is untrusted)."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Fill a temporary folder beside `path`, then swap it in: a reader sees the old folder or the new one."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
