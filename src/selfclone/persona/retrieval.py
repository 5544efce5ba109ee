"""Notes and messages into the index, and passages out of it for a conversation.

`add_notes` indexes files (resuming: finished files are skipped), `index_messages` the person's own imported
messages, scrubbed by the same privacy scrubber as their training data; `Retriever` is what a ChatSession asks for
the passages relevant to a message.

    with NotesIndex(notes_path(ws.root)) as index:
        report = add_notes(index, [Path("notes/")])
    retriever = workspace_retriever(ws.root, ws.config.notes)       # None when the workspace has no notes
    retriever.passages_for("when did you get your first hive?")
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..collect.review import source_scrubber
from ..config import CollectSettings, NotesSettings
from ..embedding import embed
from .index import INDEX_NAME, Hit, NotesIndex
from .notes import kind_of, note_files, passages

MESSAGES = "messages/"          # origin prefix of indexed messages


def notes_path(root: Path) -> Path:
    return Path(root) / INDEX_NAME


@dataclass
class AddReport:
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    passages: int = 0


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def add_notes(index: NotesIndex, paths: Iterable[Path], *, on_file: Callable[[Path, int], None] | None = None,
              progress: Callable[[int], None] | None = None) -> AddReport:
    """Index notes files and folders; a file already indexed with the same content is skipped."""
    report = AddReport()
    files = note_files(paths)
    for path in files:
        kind_of(path)                     # an unknown format fails before anything is indexed
    for path in files:
        origin, digest = str(path.resolve()), _digest(path)
        if index.has(origin, digest):
            report.skipped.append(origin)
            continue
        size = path.stat().st_size
        if on_file:
            on_file(path, size)
        report.passages += index.add(origin, kind_of(path), digest, size, passages(path, progress), embed)
        report.added.append(origin)
    return report


def index_messages(index: NotesIndex, store, settings: CollectSettings) -> AddReport:
    """Index the person's own text messages, one passage each, one document per chat, scrubbed as training data is."""
    report = AddReport()
    chats = store.db.execute("select source, chat, count(*), max(id) from messages where is_me = 1 and kind = 'text' "
                             "group by source, chat order by source, chat").fetchall()
    scrubbers: dict[str, object] = {}
    for source, chat, count, last in chats:
        origin, digest = f"{MESSAGES}{source}/{chat}", f"{count}:{last}"
        if index.has(origin, digest):
            report.skipped.append(origin)
            continue
        if source not in scrubbers:
            private = settings.pii and source not in settings.pii_off
            scrubbers[source] = source_scrubber(store, source, settings) if private else None
        scrub = scrubbers[source]
        texts = (scrub.scrub(text) if scrub else text for (text,) in store.db.execute(
            "select text from messages where source = ? and chat = ? and is_me = 1 and kind = 'text' order by id",
            (source, chat)))
        report.passages += index.add(origin, "messages", digest, 0, (t for t in texts if t.strip()), embed)
        report.added.append(origin)
    return report


@dataclass
class Retriever:
    """The k passages of the index most relevant to a message (hybrid: vectors fused with BM25)."""

    path: Path
    k: int = 3
    hybrid: bool = True
    _index: NotesIndex | None = None

    def hits_for(self, text: str) -> list[Hit]:
        if self._index is None:
            self._index = NotesIndex(self.path)
        return self._index.search(text, self.k, embed, hybrid=self.hybrid)

    def passages_for(self, text: str) -> list[str]:
        return [hit.text for hit in self.hits_for(text)]


def workspace_retriever(root: Path | None, settings: NotesSettings, k: int | None = None) -> Retriever | None:
    """The workspace's retriever: on when it has notes, unless k is 0 (`--no-retrieve`)."""
    k = settings.retrieve if k is None else k
    if root is None or k <= 0 or not notes_path(root).exists():
        return None
    with NotesIndex(notes_path(root)) as index:
        if index.passage_count() == 0:
            return None
    return Retriever(notes_path(root), k, settings.hybrid)
