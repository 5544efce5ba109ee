"""Who the person talks to: the contact of every imported conversation, kept as the pseudonym the privacy scrubber
gives them (never the real name), with an optional relationship label. Training examples and talk time put the
same words in the system frame (persona/frame.py): the relationship when labelled, else the pseudonym.

    refresh_contacts(store, settings)             # chats imported before importers stored their contact
    label(store, "Lowen", "close friend")
    talking_to(store, "Lowen")                    # -> "close friend"
    framed_examples(store, settings)              # the store's examples with who they were said to
    link(store, "telegram:42", "Lowen")           # a bot's user is that contact: --with applies to them
"""
from __future__ import annotations

import json
from collections.abc import Iterator

from ..collect.ingest import store_contacts
from ..collect.review import source_scrubber
from ..config import CollectSettings
from ..dataset.chat import Example, parse_record
from ..errors import DataError
from .frame import reframed


def refresh_contacts(store, settings: CollectSettings) -> int:
    """Store the contact of every chat imported before importers kept them (collect/ingest.py stores it now)."""
    missing: dict[str, list[tuple[str, str]]] = {}
    for source, chat in store.db.execute("select distinct m.source, m.chat from messages m left join contacts c on "
                                         "c.source = m.source and c.chat = m.chat where c.id is null and m.is_me = 0 "
                                         "and m.kind != 'system'").fetchall():
        missing.setdefault(source, []).append((source, chat))
    with store.db:
        return sum(store_contacts(store.db, sorted(chats), source_scrubber(store, source, settings))
                   for source, chats in missing.items())


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


LINKED_CHANNELS = ("telegram", "discord")


def _bot_user(user: str) -> tuple[str, str]:
    channel, _, user_id = user.partition(":")
    if channel not in LINKED_CHANNELS or not user_id.strip():
        raise DataError(f"'{user}' is not a bot user", "name one as CHANNEL:USER_ID, e.g. telegram:123456789 or "
                        "discord:80351110224678912 (the bot logs the id of everyone who writes to it)")
    return channel, user_id.strip()


def link(store, user: str, who: str) -> str:
    """Map a bot's user (`telegram:ID`, `discord:ID`) to a contact or relationship; returns the frame's words."""
    channel, user_id = _bot_user(user)
    words = talking_to(store, who)             # fails on a real name whose contact is unknown
    with store.db:
        store.db.execute("insert into contact_links(channel, user_id, contact) values (?, ?, ?) on conflict(channel, "
                         "user_id) do update set contact = excluded.contact", (channel, user_id, who))
    return words


def unlink(store, user: str) -> None:
    channel, user_id = _bot_user(user)
    with store.db:
        if store.db.execute("delete from contact_links where channel = ? and user_id = ?",
                            (channel, user_id)).rowcount == 0:
            raise DataError(f"'{user}' is not linked to a contact", "see `selfclone contacts links`")


def links(store) -> list[tuple[str, str]]:
    """(channel:user_id, contact) for every linked bot user."""
    rows = store.db.execute("select channel, user_id, contact from contact_links order by channel, user_id")
    return [(f"{r[0]}:{r[1]}", r[2]) for r in rows]


def linked_contact(store, channel: str, user_id: str) -> str | None:
    """The contact a bot's user is linked to, or None."""
    row = store.db.execute("select contact from contact_links where channel = ? and user_id = ?",
                           (channel, str(user_id))).fetchone()
    return row[0] if row else None


def with_contact(example: Example, who: str | None) -> Example:
    """The example with who it was said to in its system frame (the same frame ChatSession builds)."""
    if not who:
        return example
    record = example.to_dict()
    record["messages"] = reframed(record["messages"], talking_to=who)
    return parse_record(record)


def framed_examples(store, settings: CollectSettings) -> Iterator[Example]:
    """The store's examples from imported chats, each framed with who it was said to."""
    refresh_contacts(store, settings)
    who = {(r[0], r[1]): r[2] or r[3] for r in store.db.execute(
        "select source, chat, relationship, pseudonym from contacts")}
    for source, origin, text in store.db.execute("select source, origin, messages_json from examples order by id"):
        example = parse_record({"messages": json.loads(text)})
        yield with_contact(example, who.get((source, origin)))
