"""Who the person talks to: the contact of every imported conversation, kept as the pseudonym the privacy scrubber
gives them (never the real name), with an optional relationship label. Training examples and talk time put the
same words in the system frame (persona/frame.py): the relationship when labelled, else the pseudonym.

    refresh_contacts(store, settings)             # one row per imported chat
    label(store, "Lowen", "close friend")
    talking_to(store, "Lowen")                    # -> "close friend"
    framed_examples(store, settings)              # the store's examples with who they were said to
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

from ..collect.review import source_scrubber
from ..config import CollectSettings
from ..dataset.chat import Example, parse_record
from ..errors import DataError
from .frame import system_frame


def refresh_contacts(store, settings: CollectSettings) -> int:
    """Add the contact of every imported chat not yet known: its most frequent other sender, pseudonymised."""
    known = {(r[0], r[1]) for r in store.db.execute("select source, chat from contacts")}
    scrubbers: dict[str, object] = {}
    added = 0
    chats: dict[tuple[str, str], Counter] = {}
    for source, chat, sender in store.db.execute("select source, chat, sender from messages where is_me = 0 and "
                                                 "kind != 'system'"):
        chats.setdefault((source, chat), Counter())[sender] += 1
    with store.db:
        for (source, chat), senders in sorted(chats.items()):
            if (source, chat) in known:
                continue
            if source not in scrubbers:
                scrubbers[source] = source_scrubber(store, source, settings)
            pseudonym = scrubbers[source].pseudonym(senders.most_common(1)[0][0])
            store.db.execute("insert into contacts(source, chat, pseudonym) values (?, ?, ?)",
                             (source, chat, pseudonym))
            added += 1
    return added


def contacts(store) -> list[tuple[str, str | None, int]]:
    """(pseudonym, relationship, conversations) for every contact."""
    rows = store.db.execute("select pseudonym, max(relationship), count(*) from contacts group by pseudonym "
                            "order by pseudonym")
    return [tuple(r) for r in rows]


def label(store, name: str, relationship: str) -> int:
    """Label a contact (by pseudonym) with a relationship; returns the conversations labelled."""
    with store.db:
        cur = store.db.execute("update contacts set relationship = ? where pseudonym = ?",
                               (relationship.strip(), name))
    if cur.rowcount == 0:
        raise DataError(f"no contact '{name}'", "contacts are named by their pseudonym: see `selfclone contacts list`")
    return cur.rowcount


def talking_to(store, who: str) -> str:
    """The words of the frame for `who`: a labelled contact's relationship, an unlabelled one's pseudonym, or a
    relationship as given. A real name never passes: it is looked up as a sender and replaced by its contact."""
    row = store.db.execute("select relationship from contacts where pseudonym = ? and relationship is not null",
                           (who,)).fetchone()
    if row:
        return row[0]
    if store.db.execute("select 1 from contacts where pseudonym = ? or relationship = ?", (who, who)).fetchone():
        return who
    real = store.db.execute("select source, chat from messages where sender = ? and is_me = 0 limit 1",
                            (who,)).fetchone()
    if real:
        row = store.db.execute("select pseudonym, relationship from contacts where source = ? and chat = ?",
                               tuple(real)).fetchone()
        if row is None:
            raise DataError(f"'{who}' is a real name from your messages, and its contact is not known yet",
                            "run `selfclone contacts list` first, then use the pseudonym it shows")
        return row[1] or row[0]
    return who


def with_contact(example: Example, who: str | None) -> Example:
    """The example with who it was said to in its system frame (the same frame ChatSession builds)."""
    if not who:
        return example
    record = example.to_dict()
    messages = record["messages"]
    context = messages[0]["content"] if messages and messages[0]["role"] == "system" else None
    rest = messages[1:] if context is not None else messages
    record["messages"] = [{"role": "system", "content": system_frame(context, talking_to=who)}] + rest
    return parse_record(record)


def framed_examples(store, settings: CollectSettings) -> Iterator[Example]:
    """The store's examples from imported chats, each framed with who it was said to."""
    refresh_contacts(store, settings)
    who = {(r[0], r[1]): r[2] or r[3] for r in store.db.execute(
        "select source, chat, relationship, pseudonym from contacts")}
    for source, origin, text in store.db.execute("select source, origin, messages_json from examples order by id"):
        example = parse_record({"messages": json.loads(text)})
        yield with_contact(example, who.get((source, origin)))
