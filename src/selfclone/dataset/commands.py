"""Commands of the dataset area: `selfclone prepare`, `selfclone synth` and `selfclone bench prepare`.

    selfclone prepare chats.csv                 # asks before each fix (on a terminal)
    selfclone prepare chats.jsonl -q --html report.html
    selfclone synth example --out ravi.jsonl --limit 4
    selfclone bench prepare --examples 5000

Without a terminal to ask on and without -q, `prepare` applies the necessary and the lossless fixes
(those that change no word of the data) and declines the rest; an error left standing writes nothing.
"""
from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import typer
from rich.prompt import Confirm
from rich.table import Table
from rich.text import Text

from .. import config as config_mod
from ..errors import DataError
from ..terminal import console, progress_bar, workspace
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
        epochs: int = typer.Option(None, help="epochs for the training-time estimate (default: a heuristic)"),
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


def _template_path(name: str) -> Path:
    if name == "example":
        return Path(str(resources.files("selfclone") / "resources" / "synth" / "example.toml"))
    return Path(name)


def synth_cmd(
        template: str = typer.Argument(..., help="TEMPLATE.toml, or 'example' for the bundled persona template"),
        out: Path = typer.Option(None, "--out", help="output .jsonl (chat) or .csv (prompt/completion); "
                                                     "an existing one is resumed"),
        model: str = typer.Option(None, "--model", help="teacher model (default: the template's, the "
                                                        "workspace's, or smollm2-135m)"),
        backend: str = typer.Option(None, "--backend", help="teacher backend: transformers (local), openai, ..."),
        option: list[str] = typer.Option(None, "-o", "--option", help="backend option key=value"),
        max_tokens: int = typer.Option(None, help="override the template's max_tokens"),
        temperature: float = typer.Option(None, help="override the template's temperature"),
        limit: int = typer.Option(None, help="stop after this many new rows"),
):
    """Generate synthetic examples from a template grid with a teacher model; resumable."""
    from ..backends.registry import open_backend
    from ..collect import synth

    path = _template_path(template)
    tpl = synth.Template.load(path)
    ws = workspace(required=False)
    if out is None:
        out = (ws.data_dir if ws else Path.cwd()) / f"{path.stem}_synth.jsonl"
    teacher_model = model or tpl.model or (ws.config.model if ws else config_mod.DEFAULT_MODEL)
    rows = synth.RowFile(out, tpl)
    todo = tpl.size() - len(rows.keys)
    console.print(f"{tpl.size()} cells ({' x '.join(str(len(v)) for v in tpl.variables.values())} x {tpl.repeats} "
                  f"repeats), {len(rows.keys)} already in {out}; teacher: {teacher_model} "
                  f"({backend or tpl.backend or 'transformers'})")
    if todo == 0:
        console.print("[green]nothing to do[/]: every cell has its row")
        return
    teacher = open_backend(teacher_model, backend or tpl.backend or "transformers", option,
                           workspace_runs=ws.runs_dir if ws else None)
    overrides = {"max_tokens": max_tokens, "temperature": temperature}
    result = None
    with progress_bar() as bar:
        task = bar.add_task("synth", total=min(todo, limit) if limit else todo, status="")

        def on_row(cell, answer, res):
            bar.update(task, advance=1, status=answer[:40].replace("\n", " "))
        try:
            result = synth.run(tpl, teacher, out, overrides=overrides, limit=limit, on_row=on_row)
        except KeyboardInterrupt:
            done = len(synth.RowFile(out, tpl).keys)
            console.print(f"[yellow]stopped[/]: {done} of {tpl.size()} rows in {out}; "
                          "run the same command again to resume")
            raise typer.Exit(130)
    console.print(f"[green]wrote[/] {result.written} rows to {out} ({result.done_before + result.written} of "
                  f"{result.total}{f'; {result.empty} empty answers left to retry' if result.empty else ''})")
    console.print(f"  next: [bold]selfclone prepare {out}[/]")


def bench_prepare(
        examples: int = typer.Option(100_000, "--examples", help="generated chat examples to prepare"),
        sizes: str = typer.Option("1000,2000,5000", help="sample sizes for the exact pairwise baseline"),
        model: str = typer.Option(None, help="tokenizer to count with (default: smollm2-135m)"),
):
    """Time `prepare` on many chat examples, near-duplicates included, against an exact pairwise check."""
    from . import prepare_bench
    from .token_stats import format_duration

    try:
        points = tuple(int(s) for s in sizes.split(",") if s.strip())
    except ValueError as exc:
        raise DataError(f"--sizes must be numbers separated by commas, got {sizes!r}") from exc
    result = prepare_bench.run(examples, points, model, say=lambda t: console.print(f"[dim]{t}[/]"))
    console.print(f"machine: {result.machine}")
    console.print(f"prepare on {result.examples:,} chat examples: [bold]{result.prepare_s:.1f} s[/] "
                  f"(near-duplicates {result.near_dup_s:.1f} s, token counts {result.tokens_s:.1f} s); "
                  f"peak RSS {result.rss_peak_mb:.0f} MB (before prepare: {result.rss_before_mb:.0f} MB); "
                  f"{result.kept:,} examples kept, {result.groups:,} near-duplicate groups")
    table = Table(title="Exact pairwise near-duplicate check (baseline) vs MinHash LSH, same texts")
    for col in ("examples", "pairwise s", "LSH s", "pairwise / LSH", "exact pairs", "LSH recall"):
        table.add_column(col, justify="right")
    for p in result.points:
        recall = f"{p.lsh_found / p.exact_pairs:.1%}" if p.exact_pairs else "-"
        table.add_row(f"{p.n:,}", f"{p.pairwise_s:.2f}", f"{p.lsh_s:.2f}", f"{p.pairwise_s / max(p.lsh_s, 1e-9):.0f}x",
                      str(p.exact_pairs), recall)
    console.print(table)
    if result.points:
        exps = ", ".join(f"{e:.2f}" for e in result.exponents())
        extra = result.extrapolated_pairwise_s
        console.print(f"pairwise time grows as n^k with k = {exps or '-'} between samples; extrapolated (n^2) from "
                      f"{result.points[-1].n:,} to {result.examples:,} examples: {extra:,.0f} s "
                      f"({format_duration(extra)}) vs {result.near_dup_s:.1f} s measured for LSH inside prepare: "
                      f"[bold]{extra / max(result.near_dup_s, 1e-9):,.0f}x[/] faster")
    console.print(f"command: selfclone bench prepare --examples {examples} --sizes {sizes}")
    console.print(json.dumps(result.to_dict()), soft_wrap=True, markup=False, highlight=False)


def register_commands(app, bench):
    app.command("prepare")(prepare_cmd)
    app.command("synth")(synth_cmd)
    bench.command("prepare")(bench_prepare)
