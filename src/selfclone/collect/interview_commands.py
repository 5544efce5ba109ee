"""`selfclone interview` (answer questions in the terminal) and `selfclone interview export --out FILE.jsonl`.

    selfclone interview                          # shipped bank, target 500 answers; resumes where you stopped
    selfclone interview --bank mine.csv --target 50 --scenarios-only
    selfclone interview export --out data/interview.jsonl

Lines are read with plain input(), so it works in any terminal, over ssh and through a pty. Each answer is
saved the moment it is given; `quit`, Ctrl-C and Ctrl-D end the session safely.
"""
from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..dataset.chat import write_examples
from ..errors import ConfigError, DataError
from ..terminal import console, workspace
from .interview import (OPINION, SCENARIO, Event, Interview, InterviewLog, Prompt, load_bank, merge,
                        shipped_bank)

interview_app = typer.Typer(help="Answer questions in the terminal (an answer, or skip, back, quit); run it bare to "
                                   "start or resume. Answers become training examples with `export`.")

MESSAGES = {
    "skipped": "[dim]skipped; it comes back only when the bank runs out[/]",
    "kept": "[dim]kept your earlier answer[/]",
    "redone": "[green]answer replaced[/]",
    "no-back": "[yellow]no earlier answer to go back to[/]",
    "empty": "[yellow]type an answer, or one of: skip, back, quit[/]",
}


@interview_app.callback(invoke_without_command=True)
def interview(ctx: typer.Context,
              target: int = typer.Option(500, min=1, help="answers to aim for; the session ends there"),
              bank: list[Path] = typer.Option(None, "--bank", help="a CSV with a `question` column or "
                                              "`context,utterance` columns, merged into the bank (repeatable)"),
              scenarios_only: bool = typer.Option(False, "--scenarios-only", help="ask only scenario prompts"),
              opinions_only: bool = typer.Option(False, "--opinions-only", help="ask only opinion questions"),
              shipped: bool = typer.Option(True, "--shipped/--no-shipped", help="include the shipped questions")):
    """Answer questions in the terminal: type an answer, or skip, back (redo the last answer), quit."""
    if ctx.invoked_subcommand is not None:
        return
    if scenarios_only and opinions_only:
        raise ConfigError("--scenarios-only and --opinions-only exclude each other", "pass at most one of them")
    ws = workspace()
    kinds = (SCENARIO,) if scenarios_only else (OPINION,) if opinions_only else (OPINION, SCENARIO)
    customs = [load_bank(path) for path in bank or []]
    questions = merge(shipped_bank() if shipped else [], *customs, kinds=kinds)
    if not questions:
        raise DataError("the bank has no questions of the kind asked for",
                        "drop --no-shipped, or pass a --bank with such questions")
    if sys.stdin.isatty():
        import readline  # noqa: F401  (line editing and history for input(); not needed for pipes)
    with ws.store() as store:
        session = Interview(InterviewLog(store), questions, target)
        custom = sum(q.source != "shipped" for q in questions)
        console.print(f"[bold]Interview[/] for {ws.config.person}: {len(questions)} questions in the bank"
                      + (f" ({custom} from --bank)" if custom else "")
                      + f", {session.remaining()} not asked yet; {session.answered} answered so far.")
        console.print("[dim]Type your answer and press Enter. Commands: skip, back (redo the last answer), "
                      "quit. Every answer is saved at once.[/]")
        _ask(session)
        answered, reached = session.answered, session.reached_target
    if reached:
        console.print(f"[green]Target reached:[/] {answered} answers. "
                      "Export them with `selfclone interview export --out data/interview.jsonl`, "
                      "or go on with a higher --target.")
    else:
        console.print(f"Saved: {answered} answer{'' if answered == 1 else 's'}. "
                      "Run `selfclone interview` again to go on where you stopped.")


def _ask(session: Interview) -> None:
    """The question loop. Ends on quit, Ctrl-C, Ctrl-D, the target, or an exhausted bank."""
    while (prompt := session.current()) is not None:
        _show(prompt, session)
        try:
            event = session.respond(input("> "))
        except (EOFError, KeyboardInterrupt):
            console.print()
            event = Event("quit")
        if event.kind == "quit":
            return
        if event.kind in MESSAGES:
            console.print(MESSAGES[event.kind])
    if not session.reached_target:
        console.print("[yellow]No questions left in the bank.[/] Add your own with --bank FILE.csv.")


def _show(prompt: Prompt, session: Interview) -> None:
    done, target = session.answered, session.target
    bar = Table.grid(padding=(0, 1))
    bar.add_row(Text(f"{done}/{target} answers", style="bold"),
                ProgressBar(total=target, completed=min(done, target), width=30),
                Text(f"{100 * done // target}%"), Text("skip · back · quit", style="dim"))
    console.print()
    console.print(bar)
    q = prompt.question
    if prompt.previous is not None:
        console.print(Text("Redoing an earlier answer (skip keeps it, back goes further back):", style="yellow"))
    if q.context:
        console.print(Text.assemble(("Scene: ", "bold cyan"), q.context), soft_wrap=True)
        console.print(Text.assemble(("They say: ", "bold"), q.text), soft_wrap=True)
    else:
        console.print(Text.assemble(("Q: ", "bold"), q.text), soft_wrap=True)
    if prompt.previous is not None:
        console.print(Text.assemble(("Your answer was: ", "dim"), prompt.previous), soft_wrap=True)


@interview_app.command("export")
def export(out: Path = typer.Option(..., "--out", "-o", help="the chat JSONL file to write")):
    """Write every answer as a chat example (skips left out), framed as `selfclone chat --context` frames it."""
    ws = workspace()
    with ws.store() as store:
        examples = InterviewLog(store).examples(system=ws.config.system)
    if not examples:
        raise DataError("the interview has no answers yet", "run `selfclone interview` first")
    count = write_examples(out, examples)
    console.print(f"[green]wrote[/] {count} examples to {out}")


def register_commands(app):
    app.add_typer(interview_app, name="interview")
