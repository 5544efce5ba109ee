"""The notes index: passages of the person's notes and own messages, their MiniLM vectors and their words (FTS5,
BM25), in the workspace's `notes.db`.

Each passage's vector is kept twice: as float32 (exact cosine through sqlite-vec's `vec_distance_cosine`) and as a
48-byte binary code (one sign bit per dimension). A search scans the codes by Hamming distance in memory (numpy,
cached and reloaded when the index changes) and rescores the best `RESCORE` candidates exactly: at 100,000 passages
that is 4.8 MB scanned instead of 154 MB (figures: docs/BENCHMARKS.md, `selfclone bench recall`). An index up to
`RESCORE` passages is therefore searched exactly.

Python's own sqlite3 module here is built without extension loading, so the index opens through apsw (SQLite 3.54
with `load_extension`) and keeps to its own file. Each document is added in one transaction: an interrupted
`notes add` leaves the documents it finished and nothing of the one it was in; running it again skips the finished
ones (same path, same content digest). Removing a document removes its passages, vectors and words.

    index = NotesIndex(ws.root / "notes.db")
    index.add("notes/bees.md", "markdown", digest, size, passages(path), embed)
    index.search("when did you start beekeeping?", k=3)     # -> [Hit(text, origin, score), ...]
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..embedding import DIMENSIONS
from ..errors import SelfcloneError

INDEX_NAME = "notes.db"
BATCH = 1024                    # passages embedded at once: the embedder sorts them by length, so bigger is faster
RESCORE = 1024                  # binary-code candidates rescored exactly (measured: recall@10 vs exact, bench recall)
RRF_K = 60                      # reciprocal rank fusion constant (Cormack et al. 2009)
COMMON_SHARE = 0.05             # a query word in more passages than this share ranks nothing (BM25 idf ~ 0): dropped
_WORDS = re.compile(r"\w{2,}")
MAX_QUERY_WORDS = 6
_COMMON = frozenset("the and you your yours are was were what which who whom how why when where did does have has had "
                    "for with from this that these those into about there their them they then than its not but "
                    "can could would should will shall our ours his her him she he me my mine".split())

SCHEMA = """
    create table if not exists documents (
        id integer primary key,
        origin text not null unique,      -- the file's path, or messages/SOURCE/CHAT
        kind text not null,               -- markdown, text, html, messages
        digest text not null,             -- content digest: the same file added again adds nothing
        bytes integer not null,
        passages integer not null,
        added_at text not null default (datetime('now'))
    );
    create table if not exists passages (
        id integer primary key,
        document_id integer not null references documents(id) on delete cascade,
        position integer not null,
        text text not null
    );
    create index if not exists passages_document on passages(document_id);
    create table if not exists passage_vectors (
        id integer primary key,           -- the passage's id
        code blob not null,               -- sign bits, DIMENSIONS / 8 bytes: the coarse search
        vector blob not null              -- float32 unit vector: the exact rescoring
    );
    create virtual table if not exists passage_words using fts5(text, tokenize='porter unicode61');
    create table if not exists generation (n integer not null);   -- bumped by every change: cached codes reload
"""


@dataclass(frozen=True)
class Hit:
    text: str
    origin: str
    score: float


@dataclass(frozen=True)
class Document:
    origin: str
    kind: str
    passages: int
    bytes: int
    added_at: str


def _connect(path: Path):
    try:
        import apsw
        import sqlite_vec
    except ImportError as exc:
        raise SelfcloneError("the notes index needs apsw and sqlite-vec",
                             "pip install 'apsw==3.54.1.0' 'sqlite-vec==0.1.9' (or `make setup`)") from exc
    db = apsw.Connection(str(path))
    db.enable_load_extension(True)
    db.load_extension(sqlite_vec.loadable_path())
    db.enable_load_extension(False)
    db.execute("pragma journal_mode=wal; pragma foreign_keys=on")
    return db


def binary_codes(vectors):
    """One sign bit per dimension, packed: rows of DIMENSIONS / 8 bytes (numpy uint8)."""
    import numpy as np

    return np.packbits(np.asarray(vectors) > 0, axis=1)


class NotesIndex:
    def __init__(self, path: Path | str, rescore: int = RESCORE):
        self.path, self.rescore = Path(path), rescore
        self.db = _connect(self.path)
        self._codes = None                # (generation, ids, codes as uint64 words), loaded by the first search
        with self.db:
            _upgrade_vec0(self.db)
            self.db.execute(SCHEMA)
            if not self.db.execute("select 1 from generation").fetchone():
                self.db.execute("insert into generation values (0)")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "NotesIndex":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def has(self, origin: str, digest: str) -> bool:
        return self.db.execute("select 1 from documents where origin = ? and digest = ?",
                               (origin, digest)).fetchone() is not None

    def add(self, origin: str, kind: str, digest: str, size: int, texts: Iterable[str],
            embed: Callable, batch: int = BATCH) -> int:
        """Index one document's passages in one transaction (replacing an older version of it); returns the count."""
        count = 0
        with self.db:
            self._remove(origin)
            doc = self.db.execute("insert into documents(origin, kind, digest, bytes, passages) values (?, ?, ?, ?, 0)"
                                  " returning id", (origin, kind, digest, size)).fetchone()[0]
            first = self.db.execute("select coalesce(max(id), 0) + 1 from passages").fetchone()[0]
            pending: list[str] = []

            def flush():
                nonlocal count
                vectors = embed(pending).astype("float32")
                ids = range(first + count, first + count + len(pending))
                self.db.executemany("insert into passages(id, document_id, position, text) values (?, ?, ?, ?)",
                                    ((pid, doc, count + i, text) for i, (pid, text) in enumerate(zip(ids, pending))))
                self.db.executemany("insert into passage_vectors(id, code, vector) values (?, ?, ?)",
                                    zip(ids, map(bytes, binary_codes(vectors)), map(bytes, vectors)))
                self.db.executemany("insert into passage_words(rowid, text) values (?, ?)", zip(ids, pending))
                count += len(pending)
                pending.clear()

            for text in texts:
                pending.append(text)
                if len(pending) >= batch:
                    flush()
            if pending:
                flush()
            self.db.execute("update documents set passages = ? where id = ?", (count, doc))
            self.db.execute("update generation set n = n + 1")
        return count

    def _remove(self, origin: str) -> int:
        row = self.db.execute("select id, passages from documents where origin = ?", (origin,)).fetchone()
        if row is None:
            return 0
        ids = [(r[0],) for r in self.db.execute("select id from passages where document_id = ?", (row[0],))]
        self.db.executemany("delete from passage_vectors where id = ?", ids)
        self.db.executemany("delete from passage_words where rowid = ?", ids)
        self.db.execute("delete from passages where document_id = ?", (row[0],))
        self.db.execute("delete from documents where id = ?", (row[0],))
        self.db.execute("update generation set n = n + 1")
        return len(ids)

    def remove(self, origins: Iterable[str]) -> int:
        """Remove documents (and their passages) by origin; returns the passages removed."""
        with self.db:
            return sum(self._remove(origin) for origin in origins)

    def documents(self, prefix: str = "") -> list[Document]:
        rows = self.db.execute("select origin, kind, passages, bytes, added_at from documents where origin like ? "
                               "escape '\\' order by origin", (_like_prefix(prefix),))
        return [Document(*row) for row in rows]

    def passage_texts(self) -> list[str]:
        return [r[0] for r in self.db.execute("select text from passages order by id")]

    def passage_count(self) -> int:
        return self.db.execute("select count(*) from passages").fetchone()[0]

    def _candidates(self, vector) -> list[int]:
        """The passage ids whose binary codes are nearest the vector's (Hamming), at most `rescore` of them."""
        import numpy as np

        generation = self.db.execute("select n from generation").fetchone()[0]
        if self._codes is None or self._codes[0] != generation:
            rows = self.db.execute("select id, code from passage_vectors order by id").fetchall()
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            codes = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.uint64).reshape(len(rows), DIMENSIONS // 64)
            self._codes = (generation, ids, codes)
        _, ids, codes = self._codes
        if len(ids) <= self.rescore:
            return ids.tolist()
        query = np.frombuffer(bytes(binary_codes(vector[None, :])[0]), dtype=np.uint64)
        distance = np.bitwise_count(codes ^ query).sum(axis=1, dtype=np.uint16)
        return ids[np.argpartition(distance, self.rescore)[:self.rescore]].tolist()

    def nearest(self, vector, k: int) -> list[int]:
        """Passage ids by cosine distance, nearest first (exact over the binary search's candidates)."""
        candidates = self._candidates(vector)
        rows = self.db.execute("select id from passage_vectors where id in (select value from json_each(?)) "
                               "order by vec_distance_cosine(vector, ?), id limit ?",
                               (json.dumps(candidates), vector.astype("float32").tobytes(), k))
        return [r[0] for r in rows]

    def _common(self, word: str, total: int) -> bool:
        """Whether `word` is in more than COMMON_SHARE of the passages (counting stops at that many)."""
        cap = max(int(total * COMMON_SHARE), 50)
        return self.db.execute("select count(*) from (select 1 from passage_words where passage_words match ? "
                               "limit ?)", (f'"{word}"', cap + 1)).fetchone()[0] > cap

    def matching(self, text: str, k: int) -> list[int]:
        """Passage ids by BM25 over the query's words, best first."""
        words = {w.lower() for w in _WORDS.findall(text)} - _COMMON
        # the longest words carry the most (names, places); a cap keeps a long message from OR-ing the corpus
        words = sorted(sorted(words, key=lambda w: (-len(w), w))[:MAX_QUERY_WORDS])
        total = self.db.execute("select max(id) from passages").fetchone()[0] or 0
        words = [w for w in words if not self._common(w, total)]
        if not words:
            return []
        query = " OR ".join(f'"{w}"' for w in words)
        rows = self.db.execute("select rowid from passage_words where passage_words match ? order by rank limit ?",
                               (query, k))
        return [r[0] for r in rows]

    def search(self, text: str, k: int, embed: Callable, hybrid: bool = True) -> list[Hit]:
        """The k passages most relevant to `text`: vector neighbours, fused with BM25 by reciprocal rank if hybrid."""
        if k <= 0 or not self.db.execute("select 1 from passages limit 1").fetchone():
            return []
        pool = max(4 * k, 20)
        ranked = [self.nearest(embed([text])[0], pool)]
        if hybrid:
            ranked.append(self.matching(text, pool))
        scores: dict[int, float] = {}
        for ids in ranked:
            for rank, pid in enumerate(ids):
                scores[pid] = scores.get(pid, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(scores, key=lambda pid: -scores[pid])[:k]
        return [self._hit(pid, scores[pid]) for pid in best]

    def _hit(self, pid: int, score: float) -> Hit:
        text, origin = self.db.execute("select p.text, d.origin from passages p join documents d on d.id = "
                                       "p.document_id where p.id = ?", (pid,)).fetchone()
        return Hit(text, origin, score)


def _upgrade_vec0(db) -> None:
    """An index written before binary codes kept its vectors in a sqlite-vec vec0 table: move them over."""
    import numpy as np

    row = db.execute("select sql from sqlite_master where name = 'passage_vectors'").fetchone()
    if not row or "vec0" not in row[0]:
        return
    rows = db.execute("select rowid, embedding from passage_vectors").fetchall()
    db.execute("drop table passage_vectors")
    db.execute(SCHEMA)
    vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), DIMENSIONS)
    db.executemany("insert into passage_vectors(id, code, vector) values (?, ?, ?)",
                   zip((r[0] for r in rows), map(bytes, binary_codes(vectors)), (r[1] for r in rows)))


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
