"""`selfclone memory list|show|add|forget`: what the clone remembers about each person it talks to.

    selfclone memory list
    selfclone memory show Lowen
    selfclone memory add Lowen "has a cat called Pimento"
    selfclone memory forget 12          # one memory by id; `forget Lowen` forgets everything about Lowen
"""
from __future__ import annotations

import typer

from ..terminal import console, workspace
from .memory import forget as forget_memory
from .memory import memory_rows, remember

memory = typer.Typer(help="Long-term memory per contact, kept from conversations (chat --with NAME).",
                     no_args_is_help=True)


@memory.command("list")
def list_():
    """Every contact with memories, and how many."""
    ws = workspace()
    with ws.store() as store:
        rows = memory_rows(store)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[1]] = counts.get(row[1], 0) + 1
    for contact, count in counts.items():
        console.print(f"{count:4d}  {contact}")
    console.print(f"{len(rows)} memories about {len(counts)} contacts")


@memory.command("show")
def show(contact: str):
    ws = workspace()
    with ws.store() as store:
        rows = memory_rows(store, contact)
    for mid, _, fact, source, created in rows:
        console.print(f"{mid:5d}  {created}  [{source}]  {fact}", markup=False)
    console.print(f"{len(rows)} memories about {contact}")


@memory.command("add")
def add(contact: str, fact: str):
    """Write a memory by hand."""
    ws = workspace()
    with ws.store() as store:
        mid = remember(store, contact, fact, source="manual")
    console.print(f"remembered #{mid} about {contact}")


@memory.command("forget")
def forget(what: str = typer.Argument(..., help="a memory id, or a contact to forget entirely")):
    ws = workspace()
    with ws.store() as store:
        count = forget_memory(store, what)
    console.print(f"forgot {count} memories")


def register_commands(app):
    app.add_typer(memory, name="memory")
