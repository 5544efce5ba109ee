"""`selfclone help [TOPIC]`: the guides of docs/ (data format, importing, prepare, evaluate...), in the terminal.

    selfclone help            # the topics
    selfclone help data       # docs/DATA.md

Hints point here rather than to docs/*.md, which a user who installed the package does not have: the guides ship
inside the package (resources/docs, a link to docs/ in the source tree that the wheel build copies) and are read
from the source tree when running from a checkout.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer

from .errors import SelfcloneError
from .terminal import console


def docs_dir() -> Path:
    shipped = Path(str(resources.files("selfclone").joinpath("resources/docs")))
    return shipped if shipped.is_dir() else Path(__file__).resolve().parents[2] / "docs"


def topics() -> dict[str, Path]:
    """topic name -> its guide: 'data' -> DATA.md."""
    folder = docs_dir()
    return {p.stem.lower(): p for p in sorted(folder.glob("*.md"))} if folder.is_dir() else {}


def guide(topic: str) -> str:
    known = topics()
    path = known.get(topic.lower().removesuffix(".md"))
    if path is None:
        raise SelfcloneError(f"no help topic {topic!r}", f"topics: {', '.join(known) or 'none installed'}")
    return path.read_text(encoding="utf-8")


def help_cmd(topic: str = typer.Argument(None, help="data, importing, prepare, evaluate, preferences, interview...")):
    """Show a guide: the data format, importing, prepare, evaluate, preferences, interview, benchmarks."""
    if topic is None:
        for name, path in topics().items():
            first = next((line.lstrip("# ").strip() for line in path.read_text(encoding="utf-8").splitlines()
                          if line.strip()), "")
            console.print(f"  [bold]{name:<13}[/] {first}", highlight=False)
        console.print("\n`selfclone help TOPIC` shows one; `selfclone COMMAND --help` a command's options.")
        return
    from rich.markdown import Markdown

    console.print(Markdown(guide(topic)))


def register_commands(app):
    app.command("help")(help_cmd)
