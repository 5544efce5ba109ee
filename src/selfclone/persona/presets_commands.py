"""`selfclone persona add|list|show|remove|export`: persona presets (character cards V2/V3) for `--persona NAME`.

    selfclone persona add captain --text "A gruff sea captain who answers in few words."
    selfclone persona add seraphina --from seraphina.png        # a V2/V3 card, JSON or PNG
    selfclone persona export -o me.png                          # the clone's own persona as a card
"""
from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import DataError
from ..terminal import console, workspace
from .cards import new_card, read_card, write_card
from .presets import add_preset, get_preset, list_presets, preset_context, remove_preset

persona = typer.Typer(help="Persona presets the clone can speak as (--persona NAME on chat and ask).",
                      no_args_is_help=True)


@persona.command("add")
def add(name: str = typer.Argument(..., help="the preset's name"),
        text: str = typer.Option(None, "--text", help="describe the persona in a sentence or two"),
        card: Path = typer.Option(None, "--from", help="a character card: V2/V3 JSON, or PNG with its chunk"),
        replace: bool = typer.Option(False, "--replace", help="overwrite a preset of the same name")):
    """Add a preset from a text or a character card."""
    if (text is None) == (card is None):
        raise DataError("give exactly one of --text or --from", "e.g. --text 'A gruff sea captain.'")
    found = read_card(card) if card else new_card(name, description=text)
    ws = workspace()
    with ws.store() as store:
        add_preset(store, found, name=name, replace=replace)
    console.print(f"persona '{name}' ({found.spec}): {preset_context(found)}")


@persona.command("list")
def list_():
    ws = workspace()
    with ws.store() as store:
        rows = list_presets(store)
    for name, created in rows:
        console.print(f"{created}  {name}")
    console.print(f"{len(rows)} personas")


@persona.command("show")
def show(name: str):
    """The card and the system prompt it gives."""
    ws = workspace()
    with ws.store() as store:
        card = get_preset(store, name)
    console.print(f"[bold]{name}[/] ({card.spec})\nsystem prompt: {preset_context(card)}")
    print(json.dumps(card.to_json(), ensure_ascii=False, indent=2))


@persona.command("remove")
def remove(name: str):
    ws = workspace()
    with ws.store() as store:
        remove_preset(store, name)
    console.print(f"removed persona '{name}'")


@persona.command("export")
def export(name: str = typer.Argument(None, help="a preset; default: the clone's own persona"),
           out: Path = typer.Option(..., "-o", "--out", help="FILE.png or FILE.json")):
    """Write a preset, or the clone's own persona (person, description, system prompt), as a card."""
    ws = workspace()
    if name:
        with ws.store() as store:
            card = get_preset(store, name)
    else:
        cfg = ws.config
        card = new_card(cfg.person, description=cfg.description, system_prompt=cfg.system)
    write_card(out, card)
    console.print(f"wrote {card.name} to {out}")


def register_commands(app):
    app.add_typer(persona, name="persona")
