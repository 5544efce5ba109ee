"""Terminal glue shared by the command modules: the Rich console, workspace lookup, progress bars.

Only command modules (the `commands.py` of each area, cli.py) import this; library code reports progress
through callbacks and never prints.
"""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from .workspace import Workspace

console = Console(highlight=False)
# soft_wrap: errors name files; a path broken across lines cannot be copied back into a command
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def workspace(path: Path | None = None, *, required: bool = True) -> Workspace | None:
    """The workspace at `path`, or found upward from the current folder."""
    if path is not None:
        return Workspace.open(path)
    return Workspace.find(Path.cwd()) if required else Workspace.find_optional(Path.cwd())


def progress_bar(transient: bool = False) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("eta"),
                    TimeRemainingColumn(), console=console, transient=transient)
