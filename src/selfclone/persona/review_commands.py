"""`selfclone review`: go through the clone's stored replies and keep, edit or reject each one.

    selfclone review          # k keep, e edit, r reject (then what you would have said, or nothing), s skip, q quit
    selfclone import ...; selfclone train --continue CLONE      # the kept and edited replies train the next round
"""
from __future__ import annotations

from ..terminal import console, workspace
from .review import pending, record

KEYS = {"k": "keep", "e": "edit", "r": "reject"}


def review():
    """Review the clone's replies from stored conversations: keep, edit or reject each."""
    ws = workspace()
    counts = {"keep": 0, "edit": 0, "reject": 0}
    with ws.store() as store:
        for item in list(pending(store)):
            console.rule(f"conversation {item.conversation_id} ({item.model})")
            for message in item.prompt[-4:]:
                console.print(f"[dim]{message['role']}:[/] {message['content']}", markup=True, highlight=False)
            console.print(f"[bold magenta]clone:[/] {item.reply}")
            while True:
                choice = console.input("[bold](k)eep (e)dit (r)eject (s)kip (q)uit>[/] ").strip().lower()[:1]
                if choice in ("k", "e", "r", "s", "q"):
                    break
            if choice == "q":
                break
            if choice == "s":
                continue
            edited = None
            if choice == "e":
                edited = console.input("what you would say> ")
            elif choice == "r":
                edited = console.input("what you would have said (empty: nothing)> ") or None
            verdict = "reject" if choice == "e" and not edited.strip() else KEYS[choice]   # an empty edit rejects
            record(store, item, verdict, edited)
            counts[verdict] += 1
    console.print(f"kept {counts['keep']}, edited {counts['edit']}, rejected {counts['reject']}; "
                  f"kept and edited replies are training examples (source 'review')")


def register_commands(app):
    app.command()(review)
