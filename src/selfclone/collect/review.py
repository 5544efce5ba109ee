"""What the store holds, and what privacy would change: behind `selfclone data stats` and `selfclone data pii`.

    stats = store_stats(store)               # counts per source and contact, my share, reply lengths
    for item in pii_preview(store, settings, limit=20): print(item.before, "->", item.after)
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..config import CollectSettings
from ..dataset.pii import Change, Scrubber
from ..store import Store

LENGTH_BUCKETS = ((1, 10), (11, 30), (31, 100), (101, 300), (301, None))


@dataclass
class StoreStats:
    sources: list[dict] = field(default_factory=list)      # source, messages, mine, chats, examples
    contacts: list[dict] = field(default_factory=list)     # source, chat, messages, mine
    messages: int = 0
    mine: int = 0
    examples: int = 0
    kinds: dict = field(default_factory=dict)
    lengths: dict = field(default_factory=dict)            # of my text messages: p10, p50, p90, max, buckets

    @property
    def my_share(self) -> float:
        return self.mine / self.messages if self.messages else 0.0

    def to_dict(self) -> dict:
        return {"messages": self.messages, "mine": self.mine, "my_share": round(self.my_share, 4),
                "examples": self.examples, "kinds": self.kinds, "sources": self.sources,
                "contacts": self.contacts, "my_lengths": self.lengths}


def store_stats(store: Store, top_contacts: int = 15) -> StoreStats:
    db = store.db
    stats = StoreStats()
    examples = dict(db.execute("select source, count(*) from examples group by source").fetchall())
    for source, n, mine, chats in db.execute(
            "select source, count(*), sum(is_me), count(distinct chat) from messages group by source order by 2 desc"):
        stats.sources.append({"source": source, "messages": n, "mine": mine or 0, "chats": chats,
                              "examples": examples.pop(source, 0)})
    for source, n in examples.items():          # sources with examples only (markdown, tabular, interview)
        stats.sources.append({"source": source, "messages": 0, "mine": 0, "chats": 0, "examples": n})
    for source, chat, n, mine in db.execute(
            "select source, chat, count(*), sum(is_me) from messages where kind = 'text' group by source, chat "
            "order by 3 desc limit ?", (top_contacts,)):
        stats.contacts.append({"source": source, "chat": chat, "messages": n, "mine": mine or 0})
    stats.messages = sum(s["messages"] for s in stats.sources)
    stats.mine = sum(s["mine"] for s in stats.sources)
    stats.examples = sum(s["examples"] for s in stats.sources)
    stats.kinds = dict(db.execute("select kind, count(*) from messages group by kind").fetchall())
    stats.lengths = _lengths(db)
    return stats


def _lengths(db) -> dict:
    total = db.execute("select count(*) from messages where is_me = 1 and kind = 'text'").fetchone()[0]
    if not total:
        return {}
    marks = {"p10": int(total * 0.1), "p50": int(total * 0.5), "p90": min(total - 1, int(total * 0.9))}
    wanted = {index: name for name, index in marks.items()}
    out: dict = {}
    buckets: Counter = Counter()
    length = 0
    cursor = db.execute("select length(text) from messages where is_me = 1 and kind = 'text' order by 1")
    for index, (length,) in enumerate(cursor):
        if index in wanted:
            out[wanted[index]] = length
        for low, high in LENGTH_BUCKETS:
            if length >= low and (high is None or length <= high):
                buckets[f"{low}-{high}" if high else f"{low}+"] += 1
                break
    out["max"] = length
    out["buckets"] = {f"{lo}-{hi}" if hi else f"{lo}+": buckets.get(f"{lo}-{hi}" if hi else f"{lo}+", 0)
                      for lo, hi in LENGTH_BUCKETS}
    return out


@dataclass
class PiiFinding:
    source: str
    chat: str
    before: str
    after: str
    changes: list[Change]


def source_scrubber(store: Store, source: str, settings: CollectSettings) -> Scrubber:
    """The scrubber an import of `source` would use: everyone else's names, mine kept."""
    others, mine = set(), set(settings.me)
    for sender, is_me in store.db.execute("select distinct sender, is_me from messages where source = ? "
                                          "and kind != 'system'", (source,)):
        (mine if is_me else others).add(sender)
    return Scrubber(others - mine, mine, region=settings.pii_region)


def pii_preview(store: Store, settings: CollectSettings, *, source: str | None = None,
                totals: Counter | None = None) -> Iterator[PiiFinding]:
    """Every stored text message that privacy would change, with the changes (counted into `totals`)."""
    sources = [source] if source else [row[0] for row in store.db.execute("select distinct source from messages")]
    for name in sources:
        scrubber = source_scrubber(store, name, settings)
        for chat, text in store.db.execute("select chat, text from messages where source = ? and kind = 'text' "
                                           "order by id", (name,)):
            changes = scrubber.find(text)
            if changes:
                if totals is not None:
                    totals.update(c.kind for c in changes)
                yield PiiFinding(name, chat, text, scrubber.scrub(text), changes)
