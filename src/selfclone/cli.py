"""The `selfclone` command: the root only. Each area adds its commands through `register_commands(app)`.

Library errors (SelfcloneError) become one clean message and an exit code here, and nowhere else.
"""
from __future__ import annotations

import importlib
import os
import sys

# OpenMP threads that spin-wait at every barrier turn a busy laptop into a crawl: with other work on the cores,
# a training step here took 11-21 s with GNU OpenMP's default spinning and 4 s with PASSIVE waiting
# (docs/BENCHMARKS.md). It must be set before torch loads; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import click
import typer

from .errors import SelfcloneError
from .terminal import err_console

app = typer.Typer(name="selfclone", help="Build a chatbot that talks like you: collect, prepare, train, evaluate, talk.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)

# The command modules of every area, in the order their commands appear in --help. Only this module knows them all.
AREAS = [
    "selfclone.workspace_commands",
    "selfclone.collect.commands",
    "selfclone.collect.interview_commands",
    "selfclone.collect.synth_commands",
    "selfclone.dataset.commands",
    "selfclone.train.commands",
    "selfclone.train.jobs_commands",
    "selfclone.refine.commands",
    "selfclone.evaluate.commands",
    "selfclone.serve.commands",
    "selfclone.demo_commands",
    "selfclone.bench.commands",
]


def _register() -> None:
    for name in AREAS:
        importlib.import_module(name).register_commands(app)


_register()


def main(argv: list[str] | None = None) -> int:
    try:
        result = app(args=argv, standalone_mode=False)
        return result if isinstance(result, int) else 0
    except SelfcloneError as exc:
        err_console.print(f"[bold red]error:[/] {exc.message}")
        if exc.hint:
            err_console.print(f"[yellow]hint:[/] {exc.hint}")
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        err_console.print("[yellow]interrupted[/]")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
