"""Commands of the dataset area: `selfclone prepare`, the dataset doctor.

    selfclone prepare chats.csv                 # asks before each fix (on a terminal)
    selfclone prepare chats.jsonl -q --html report.html

Without a terminal to ask on and without -q, `prepare` applies the necessary and the lossless fixes
(those that change no word of the data) and declines the rest; an error left standing writes nothing.
"""
from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.prompt import Confirm
from rich.text import Text

from .. import config as config_mod
from ..errors import DataError
from ..terminal import console, workspace
from . import report
from .validate import Finding, PrepareSettings, accept_lossless, prepare, prefix_for, write_prepared


def _asker(mode: str):
    def decide(finding: Finding) -> bool:
        text = Text(f"    [Recommended] {finding.fix.description}")
        if mode == "ask":
            return Confirm.ask(text, default=True, console=console)
        accepted = mode == "all" or accept_lossless(finding)
        text.append(" applied" if accepted else " not applied (pass -q to accept)",
                    style="green" if accepted else "yellow")
        console.print(text)
        return accepted
    return decide


def _show(finding: Finding) -> None:
    console.print(report.finding_line(finding, with_fix=False))
    if finding.fix is not None and finding.fix.necessary:
        console.print(Text(f"    [Necessary] {finding.fix.description}", style="dim"))


def prepare_cmd(
        file: Path = typer.Argument(..., help="CSV, TSV, XLSX, JSON, JSONL, Parquet or TXT, chat or prompt/completion"),
        quiet: bool = typer.Option(False, "-q", "--quiet", help="accept every suggested fix without asking"),
        out: str = typer.Option(None, "--out", help="output prefix: PREFIX_prepared_train.jsonl and "
                                                    "PREFIX_prepared_valid.jsonl (default: FILE without extension)"),
        model: str = typer.Option(None, "--model", help="model whose tokenizer and context to check against "
                                                        "(default: the workspace's, or smollm2-135m)"),
        html: Path = typer.Option(None, "--html", help="also write a self-contained HTML report here"),
        sheet: str = typer.Option(None, help="XLSX: the sheet to read (default: the first)"),
        seed: int = typer.Option(42, help="seed of the train/validation split"),
        valid_fraction: float = typer.Option(0.1, help="share held out for validation (at most 1000 examples)"),
        max_length: int = typer.Option(None, help="token limit per example (default: the model's context)"),
        epochs: int = typer.Option(None, help="epochs for the training-time estimate (default: train's, 3)"),
        near_dup_threshold: float = typer.Option(0.8, help="Jaccard similarity from which examples are near-duplicates"),
):
    """Check a dataset like OpenAI's prepare_data did, and more; fix it; write chat-format train/valid files."""
    ws = workspace(required=False)
    settings = PrepareSettings(model=model or (ws.config.model if ws else config_mod.DEFAULT_MODEL),
                               max_length=max_length, seed=seed, valid_fraction=valid_fraction, epochs=epochs,
                               near_dup_threshold=near_dup_threshold, sheet=sheet,
                               workspace_runs=ws.runs_dir if ws else None)
    mode = "all" if quiet else ("ask" if sys.stdin.isatty() else "lossless")
    if mode == "lossless":
        console.print("[dim]no terminal to ask on: applying the necessary and lossless fixes only "
                      "(pass -q to accept every fix)[/]")
    console.print(f"Analyzing [bold]{file}[/] ...")
    prep = prepare(file, settings, decide=_asker(mode), on_finding=_show,
                   on_notice=lambda text: console.print(Text("note: ", style="dim") + Text(text)))
    written, error = [], None
    try:
        written = write_prepared(prep, out if out is not None else prefix_for(Path(file)))
    except DataError as exc:
        error = exc
    report.print_summary(prep, console, written)
    if html is not None:
        report.write_html(prep, html, written)
        console.print(f"[green]wrote[/] report {html}")
    if error is not None:
        raise error


def register_commands(app):
    app.command("prepare")(prepare_cmd)
