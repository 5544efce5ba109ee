"""The `selfclone` command: the root only. Each area adds its commands through `register_commands(app)`.

Library errors (SelfcloneError) become one clean message and an exit code here, and nowhere else.
"""
from __future__ import annotations

import importlib
import os
import sys

# OpenMP threads that spin-wait at every barrier turn a busy laptop into a crawl: with other work on the cores,
# a training step here took 11-21 s with GNU OpenMP's default spinning (300,000 spins) and 4 s with PASSIVE
# waiting. But PASSIVE (no spin at all) makes llama.cpp, which syncs its threads after every op, 3x slower at
# decoding several replies at once. A short spin (5,000) keeps both (docs/BENCHMARKS.md). torch and llama.cpp share
# one GNU OpenMP runtime in a process, so it must be set before either loads; a user's own setting wins.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "5000"

import click
import typer
from rich.markup import escape
from typer._click import exceptions as typer_click   # typer >= 0.2x vendors its own click: its errors are these


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
    "selfclone.export.commands",
    "selfclone.serve.commands",
    "selfclone.persona.notes_commands",
    "selfclone.persona.presets_commands",
    "selfclone.persona.memory_commands",
    "selfclone.persona.contacts_commands",
    "selfclone.persona.review_commands",
    "selfclone.demo_commands",
    "selfclone.bench.commands",
    "selfclone.help_commands",
]


def _register() -> None:
    for name in AREAS:
        importlib.import_module(name).register_commands(app)


_register()


def main(argv: list[str] | None = None) -> int:
    try:
        result = app(args=argv, prog_name="selfclone", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except SelfcloneError as exc:
        return _report(exc.message, exc.hint, exc.exit_code)
    except (click.exceptions.Exit, typer.Exit) as exc:
        return exc.exit_code
    except (click.exceptions.Abort, typer.Abort, KeyboardInterrupt):
        err_console.print("[yellow]interrupted[/]")
        return 130
    except (click.ClickException, typer_click.ClickException) as exc:
        # usage errors (missing argument, unknown flag, wrong type) raised while parsing: Click's usage message
        exc.show()
        return exc.exit_code
    except OSError as exc:
        # the class of "a path that is a folder, unwritable, or on a filesystem that refuses it": never a traceback
        return _report(path_problem(exc), "check the path: a file where a file is expected, in a folder you can "
                       "write to", 2)


def path_problem(exc: OSError) -> str:
    """'cannot use /proc/x.jsonl: Permission denied (it is a folder)' from an OSError."""
    what = exc.strerror or type(exc).__name__
    where = exc.filename if exc.filename is not None else ""
    folder = " (it is a folder)" if isinstance(exc, IsADirectoryError) else ""
    return f"cannot use {where}: {what}{folder}" if where else f"{what}{folder}"


def _report(message: str, hint: str | None, code: int) -> int:
    # messages are plain text (they may quote a library's "[/...]"), never markup
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)
    if hint:
        err_console.print(f"[yellow]hint:[/] {escape(hint)}", highlight=False)
    return code

if __name__ == "__main__":
    sys.exit(main())
