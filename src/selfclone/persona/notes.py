"""The person's notes as passages: Markdown, plain text and HTML files (folders recursively) read as UTF-8 and
split into passages with semantic-text-splitter (Unicode sentence and paragraph boundaries; Markdown headings).

Large files are streamed in blocks, so a 100 MB notes file never sits in memory whole; `progress(bytes)` is called
as blocks are read. A binary or non-UTF-8 file raises DataError naming it.

    for passage in passages(Path("notes/bees.md")):
        ...
"""
from __future__ import annotations

import codecs
import html.parser
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path

from ..errors import DataError

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text", ".html": "html",
            ".htm": "html"}
BLOCK = 1 << 20                  # bytes read at a time
LARGE = 10 * (1 << 20)           # files above this get a progress bar in `notes add`
CAPACITY = (60, 200)             # characters per passage: about one fact (precise passages help a small model most)


def note_files(paths: Iterable[Path]) -> list[Path]:
    """The notes files named: files as given, folders searched recursively for known suffixes."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            found.append(path)
        else:
            raise DataError("no such file or folder", "check the path", path=path)
    return found


def kind_of(path: Path) -> str:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"unknown notes format '{path.suffix}'",
                        f"notes are {', '.join(sorted(SUFFIXES))} files; rename it if it is plain text", path=path)
    return kind


class _HtmlText(html.parser.HTMLParser):
    """Visible text of HTML, paragraphs and headings as blank-line separated blocks (scripts and styles dropped)."""

    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "pre"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BLOCKS:
            self.out.append("\n\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self.BLOCKS:
            self.out.append("\n\n")

    def handle_data(self, data):
        if not self._skip:
            self.out.append(data)

    def take(self) -> str:
        text, self.out = "".join(self.out), []
        return text


def _blocks(path: Path, progress: Callable[[int], None] | None) -> Iterator[str]:
    """Decoded text blocks of a file; binary or non-UTF-8 content raises DataError naming the file."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    offset = 0
    with path.open("rb") as fh:
        while block := fh.read(BLOCK):
            if b"\x00" in block:
                raise DataError("is a binary file, not text", "notes are UTF-8 Markdown, text or HTML files",
                                path=path)
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError as exc:
                raise DataError(f"is not UTF-8 text (byte {offset + exc.start} cannot be decoded)",
                                "convert it to UTF-8 first, e.g. `iconv -f latin1 -t utf-8 FILE > FILE.utf8.md`",
                                path=path) from exc
            offset += len(block)
            if progress:
                progress(len(block))
            yield text
        try:
            yield decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise DataError("is not UTF-8 text (it ends inside a character)", "convert it to UTF-8 first",
                            path=path) from exc


@cache
def _splitter(kind: str):
    from semantic_text_splitter import MarkdownSplitter, TextSplitter

    return MarkdownSplitter(CAPACITY, trim=True) if kind == "markdown" else TextSplitter(CAPACITY, trim=True)


def split(text: str, kind: str = "text") -> list[str]:
    """Passages of one text (the same splitter `notes add` uses)."""
    return [chunk for chunk in _splitter(kind).chunks(text) if chunk.strip()]


def passages(path: Path, progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """The passages of one notes file, streamed: each block is cut at its last paragraph break and the rest
    carried into the next, so no passage straddles a block boundary it did not have in the file."""
    kind = kind_of(path)
    parser = _HtmlText() if kind == "html" else None
    carry = ""
    for block in _blocks(path, progress):
        if parser is not None:
            parser.feed(block)
            block = parser.take()
        text = carry + block
        cut = text.rfind("\n\n")
        if cut < 0 and len(text) < 4 * BLOCK:
            carry = text
            continue
        cut = len(text) if cut < 0 else cut
        carry = text[cut:]
        yield from split(text[:cut], "text" if kind == "html" else kind)
    if parser is not None:
        parser.close()
        carry += parser.take()
    yield from split(carry, "text" if kind == "html" else kind)
