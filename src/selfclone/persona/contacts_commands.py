"""`selfclone contacts list|label|examples`: who the person talks to, by pseudonym and relationship.

    selfclone contacts list
    selfclone contacts label Lowen "close friend"
    selfclone contacts examples data/framed.jsonl     # training examples with who each was said to
    selfclone chat CLONE --with "close friend"        # the same frame at talk time
    selfclone contacts link telegram:123456789 Lowen  # the bots talk to that user as to Lowen
"""
from __future__ import annotations

from pathlib import Path

import typer

from ..dataset.chat import write_examples
from ..terminal import console, workspace
from .contacts import contacts as contact_rows
from .contacts import framed_examples, label as label_contact, link as link_user, links as link_rows
from .contacts import refresh_contacts, unlink as unlink_user

contacts = typer.Typer(help="Who the person talks to (pseudonyms, relationships) for --with.", no_args_is_help=True)


@contacts.command("list")
def list_():
    """Every contact of the imported conversations, by pseudonym."""
    ws = workspace()
    with ws.store() as store:
        refresh_contacts(store, ws.config.collect)
        rows = contact_rows(store)
    for pseudonym, relationship, chats in rows:
        console.print(f"{pseudonym:20s}  {relationship or '-':16s}  {chats} conversations", markup=False)
    console.print(f"{len(rows)} contacts")


@contacts.command("label")
def label(name: str = typer.Argument(..., help="a contact's pseudonym"),
          relationship: str = typer.Argument(..., help="family, close friend, colleague, ...")):
    ws = workspace()
    with ws.store() as store:
        refresh_contacts(store, ws.config.collect)
        count = label_contact(store, name, relationship)
    console.print(f"{name}: {relationship} ({count} conversations)")


@contacts.command("examples")
def examples(out: Path = typer.Argument(..., help="the chat JSONL to write")):
    """Write the store's examples with who each was said to in the system frame (for `selfclone train`)."""
    ws = workspace()
    with ws.store() as store:
        count = write_examples(out, framed_examples(store, ws.config.collect))
    console.print(f"wrote {count} examples to {out}")


@contacts.command("link")
def link(user: str = typer.Argument(..., help="a bot's user: telegram:ID or discord:ID"),
         name: str = typer.Argument(..., help="a contact's pseudonym or a relationship")):
    """Talk to a bot's user as to a contact: the bots apply --with NAME to them."""
    ws = workspace()
    with ws.store() as store:
        refresh_contacts(store, ws.config.collect)
        words = link_user(store, user, name)
    console.print(f"{user}: talked to as {words}", markup=False)


@contacts.command("unlink")
def unlink(user: str = typer.Argument(..., help="a bot's user: telegram:ID or discord:ID")):
    ws = workspace()
    with ws.store() as store:
        unlink_user(store, user)
    console.print(f"{user}: no longer linked", markup=False)


@contacts.command("links")
def links():
    """The bot users linked to contacts."""
    ws = workspace()
    with ws.store() as store:
        rows = link_rows(store)
    for user, name in rows:
        console.print(f"{user:30s}  {name}", markup=False)
    console.print(f"{len(rows)} linked")


def register_commands(app):
    app.add_typer(contacts, name="contacts")
