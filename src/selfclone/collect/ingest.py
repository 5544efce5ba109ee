"""Importing into a store: messages deduplicated by fingerprint, then training examples built from every chat
the import touched, with personal data replaced, all in one transaction: a failed import (a bad line, a
--me that matches nobody, Ctrl-C) leaves the store as it was.

    with ws.store() as store:
        report = ingest(store, [ImportJob(WhatsAppImporter(), path, options)], ws.config.collect, Owner(["Maggie"]))

Messages are stored as they were written (the store is the person's own, local); examples, the only
thing training reads, are scrubbed. Examples are built from the store in time order, so exports whose
messages come interleaved (SMS, mail) pair correctly and memory holds one turn of context at a time. The contact
of every chat (its most frequent other sender, as the same pseudonym its examples carry) is stored with it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..config import CollectSettings
from ..dataset.chat import Example
from ..dataset.messages import Conversation, Message, number_duplicates
from ..dataset.pairs import conversation_examples
from ..dataset.pii import Scrubber
from ..fileio import atomic_open
from ..store import Store
from .owner import Owner

BATCH = 5000
IMPORT_CACHE_KIB = 64 * 1024
_INSERT_MESSAGE = ("insert or ignore into messages(source, origin, chat, sender, is_me, sent_at, text, kind, reply_to, "
                   "fingerprint) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_EXAMPLE = "insert or ignore into examples(source, origin, messages_json, fingerprint) values (?, ?, ?, ?)"


@dataclass
class ImportJob:
    importer: Any          # an importer instance (see collect.importers)
    path: Path
    options: Any


@dataclass
class ImportReport:
    messages: int = 0
    messages_added: int = 0
    examples: int = 0
    examples_added: int = 0
    kinds: Counter = field(default_factory=Counter)
    chats: int = 0
    mine: int = 0


def ingest(store: Store, jobs: Iterable[ImportJob], settings: CollectSettings, owner: Owner, *,
           pii_off: Iterable[str] = (), progress: Callable[[int], None] | None = None) -> ImportReport:
    """Run every job into `store` in one transaction; returns what was read and what was new.

    Examples of the sources in `pii_off` keep personal data as it is (the person's choice per source).
    """
    pii_off = frozenset(pii_off)
    report = ImportReport()
    jobs = list(jobs)
    db = store.db
    cache = db.execute("pragma cache_size").fetchone()[0]
    db.execute(f"pragma cache_size = {-IMPORT_CACHE_KIB}")     # the fingerprint index is written at random
    try:
        _ingest(db, jobs, settings, owner, pii_off, progress, report)
    finally:
        db.execute(f"pragma cache_size = {cache}")
    return report


def _ingest(db, jobs, settings, owner, pii_off, progress, report) -> None:
    with db:                                     # commits on success, rolls everything back on any error
        touched: dict[tuple[str, str], int | None] = {}
        for job in jobs:
            if job.importer.produces == "messages":
                gap = getattr(job.importer, "session_gap_s", None)
                stream = owner.apply(job.importer.read(job.path, job.options))
                for key in _insert_messages(db, number_duplicates(stream), report, progress):
                    touched.setdefault(key, gap)
        message_jobs = [job for job in jobs if job.importer.produces == "messages"]
        if message_jobs:                         # inside the transaction: a failed check undoes the inserts
            owner.check(str(message_jobs[0].path) if len(message_jobs) == 1 else None)
        report.chats = len(touched)
        scrubber = _scrubber(db, touched, owner, settings)
        store_contacts(db, touched, scrubber)
        for (source, chat), gap in touched.items():
            local = dataclasses.replace(settings, session_gap_s=gap) if gap else settings
            scrub = None if source in pii_off else scrubber
            examples = conversation_examples(stored_conversation(db, source, chat, scrub), local)
            _insert_examples(db, ((source, chat, e) for e in examples), report)
        for job in jobs:
            if job.importer.produces == "examples":
                scrub = None if job.importer.name in pii_off else scrubber
                examples = job.importer.read(job.path, job.options)
                rows = ((job.importer.name, e.meta.get("chat") or str(job.path), scrub.scrub_example(e) if scrub else e)
                        for e in examples)
                _insert_examples(db, rows, report)


def _insert_messages(db, messages: Iterator[Message], report: ImportReport, progress) -> Iterator[tuple[str, str]]:
    """Insert in batches; yield each (source, chat) the first time it is seen."""
    seen: set[tuple[str, str]] = set()
    batch: list[tuple] = []

    def flush():
        before = db.total_changes
        db.executemany(_INSERT_MESSAGE, batch)
        report.messages_added += db.total_changes - before
        if progress:
            progress(len(batch))
        batch.clear()

    kinds, last, mine = report.kinds, None, 0
    for m in messages:
        key = (m.source, m.chat)
        if key != last:
            last = key
            if key not in seen:
                seen.add(key)
                yield key
        kinds[m.kind] += 1
        if m.is_me:
            mine += 1
        when = m.sent_at.isoformat() if m.sent_at else None
        batch.append((m.source, m.origin, m.chat, m.sender, 1 if m.is_me else 0, when, m.text, m.kind, m.reply_to,
                      m.fingerprint_at(when)))
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    report.messages = sum(kinds.values())
    report.mine += mine


def stored_conversation(db, source: str, chat: str, scrubber: Scrubber | None = None) -> Conversation:
    """One chat from the store, in time order, read lazily; with a scrubber, texts and others' names scrubbed
    (once per message, not once per example that repeats it as context)."""
    group = db.execute("select count(distinct sender) from messages where source = ? and chat = ? and is_me = 0 "
                       "and kind = 'text'", (source, chat)).fetchone()[0] > 1
    cursor = db.execute("select sender, is_me, sent_at, text, kind, origin from messages where source = ? and chat = ? "
                        "order by sent_at, id", (source, chat))
    names: dict[str, str] = {}

    def messages():
        for sender, is_me, sent, text, kind, origin in cursor:
            if scrubber is not None and kind == "text":
                text = scrubber.scrub(text)
                if not is_me:
                    sender = names.get(sender) or names.setdefault(sender, scrubber.pseudonym(sender))
            yield Message(source, origin, chat, sender, text, datetime.fromisoformat(sent) if sent else None,
                          bool(is_me), kind)

    return Conversation(source, chat, messages(), group)


def _scrubber(db, touched, owner: Owner, settings: CollectSettings) -> Scrubber:
    """Names of everyone else in the touched chats become pseudonyms; mine stay."""
    others: set[str] = set()
    mine: set[str] = set(owner.me) | set(settings.me)
    for source, chat in touched:
        for sender, is_me in db.execute("select distinct sender, is_me from messages where source = ? and chat = ? "
                                        "and kind != 'system'", (source, chat)):
            (mine if is_me else others).add(sender)
    return Scrubber(others - mine, mine, region=settings.pii_region)


def store_contacts(db, chats: Iterable[tuple[str, str]], scrubber: Scrubber) -> int:
    """The contact of each chat, by pseudonym (never the real name): its most frequent other sender. A chat's
    contact keeps its pseudonym and relationship once stored; its message count follows the imports."""
    stored = 0
    for source, chat in chats:
        row = db.execute("select sender, count(*) n from messages where source = ? and chat = ? and is_me = 0 and "
                         "kind != 'system' group by sender order by n desc, sender limit 1", (source, chat)).fetchone()
        if row is None:                  # only the person's own messages: nobody to talk to
            continue
        db.execute("insert into contacts(source, chat, pseudonym, messages) values (?, ?, ?, ?) on conflict(source, "
                   "chat) do update set messages = excluded.messages", (source, chat, scrubber.pseudonym(row[0]), row[1]))
        stored += 1
    return stored


def _insert_examples(db, rows: Iterable[tuple[str, str, Example]], report: ImportReport) -> None:
    """Insert (source, chat, example) rows; an example already in the store (same fingerprint) is skipped."""
    batch: list[tuple] = []

    def flush():
        before = db.total_changes
        db.executemany(_INSERT_EXAMPLE, batch)
        report.examples_added += db.total_changes - before
        batch.clear()

    for row_source, chat, example in rows:
        text = json.dumps(example.to_dict()["messages"], ensure_ascii=False)
        key = f"{row_source}\x1f{chat}\x1f{text}"
        batch.append((row_source, chat, text, hashlib.blake2b(key.encode("utf-8", "surrogatepass"),
                                                              digest_size=16).hexdigest()))
        report.examples += 1
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()


def export_examples(store: Store, path: Path, sources: Iterable[str] = ()) -> int:
    """Write the store's examples as chat JSONL (what `selfclone train` reads), atomically."""
    sources = list(sources)
    where = f" where source in ({', '.join('?' * len(sources))})" if sources else ""
    count = 0
    with atomic_open(path) as fh:
        for (text,) in store.db.execute(f"select messages_json from examples{where} order by id", sources):
            fh.write('{"messages": ' + text + "}\n")
            count += 1
    return count
