"""Commands: `selfclone import FORMAT PATH...`, `selfclone data stats|pii|export`, `selfclone bench import`.

    selfclone import whatsapp "WhatsApp Chat with Ana.txt" --me Maggie
    selfclone import auto ~/exports/* --me Maggie --me maggie@example.com
    selfclone import tabular qa.csv --columns prompt=question,completion=answer --out qa.jsonl
    selfclone data stats
    selfclone data pii --preview
    selfclone data export --out data/chats.jsonl
"""
from __future__ import annotations

import json
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.table import Table

from .. import plugins
from ..config import CollectSettings
from ..errors import DataError, SelfcloneError
from ..terminal import console, err_console, workspace


def _importer_class(fmt: str) -> type:
    importers = plugins.importers()
    if fmt not in importers:
        raise SelfcloneError(f"unknown import format {fmt!r}",
                             f"formats: auto, {', '.join(sorted(importers))} (see `selfclone help importing`)")
    return importers[fmt]


def _detected(paths: list[Path], importers: dict[str, type]) -> Iterator[tuple[Path, type | None]]:
    """(path, importer) for `import auto`: a folder no importer takes as a whole is looked into, entry by entry."""
    from .importers import detect

    for path in paths:
        cls = detect(path, importers)
        if cls is not None or not path.is_dir():
            yield path, cls
            continue
        found = list(_detected(sorted(p for p in path.iterdir() if not p.name.startswith(".")), importers))
        if not any(cls for _, cls in found):
            yield path, None
            continue
        for entry, cls in found:
            if cls is None:
                err_console.print(f"[yellow]skipped[/] {entry}: not an export selfclone knows")
            else:
                yield entry, cls


def _unzipped(path: Path) -> Path:
    """A .zip export becomes the folder of its text files (removed when the command ends); other paths stay."""
    import atexit
    import shutil
    import tempfile

    from .archives import is_zip, unpack

    if path.suffix.lower() != ".zip" or not is_zip(path):
        return path
    scratch = Path(tempfile.mkdtemp(prefix="selfclone-zip-"))
    atexit.register(shutil.rmtree, scratch, True)
    return unpack(path, scratch)


def _in_folders(paths: list[Path], cls: type) -> Iterator[tuple[Path, type]]:
    """`import FORMAT FOLDER`: the folder itself when the importer reads folders, else the files in it it knows."""
    from .archives import inside
    from .importers.textfile import head_text

    for path in paths:
        if path.is_file() and not cls().detect(path) and not head_text(path, 4096).strip():
            raise DataError(f"this is a binary or empty file, not {cls.title}", "pass the export "
                            f"itself, or `selfclone import auto {path}` to find what it is", path=path)
        if not path.is_dir() or cls().detect(path):
            yield path, cls
            continue
        found = inside(path, cls())
        if not found:
            raise DataError(f"no {cls.name} export in this folder", f"pass the export file itself, or `selfclone "
                            f"import auto {path}` to find what it holds", path=path)
        yield from ((entry, cls) for entry in found)


def _jobs(fmt: str, paths: list[Path], pairs: list[str]) -> list:
    from .ingest import ImportJob

    importers = plugins.importers()
    for path in paths:
        if not path.exists():
            raise DataError("no such file or folder", "check the path", path=path)
    paths = [_unzipped(p) for p in paths]
    chosen = _detected(paths, importers) if fmt == "auto" else _in_folders(paths, _importer_class(fmt))
    jobs = []
    for path, cls in chosen:
        if cls is None:
            raise DataError("could not tell which export this is", "name the format: selfclone import FORMAT PATH "
                            f"(formats: {', '.join(sorted(importers))})", path=path)
        keys = {pair.partition("=")[0].strip() for pair in pairs}
        unknown = keys - set(cls.Options.model_fields)
        if unknown and fmt != "auto":
            raise SelfcloneError(f"unknown option(s) {', '.join(sorted(unknown))} for {cls.name}",
                                 f"options of {cls.name}: {', '.join(cls.Options.model_fields) or 'none'}")
        mine = [p for p in pairs if p.partition("=")[0].strip() in cls.Options.model_fields]
        jobs.append(ImportJob(cls(), path, plugins.parse_options(cls.Options, mine, f"importer {cls.name}")))
    if fmt == "auto":
        for job in jobs:
            err_console.print(f"[dim]{job.path}: {job.importer.name}[/]")
    return jobs


def _ask_me(jobs: list) -> tuple[str, ...]:
    """Count senders, then ask who is me (only at a terminal) or fail with the list."""
    from .owner import sender_counts, sender_list

    counts: Counter[str] = Counter()
    for job in jobs:
        if job.importer.produces == "messages" and not job.importer.marks_owner:
            counts.update(sender_counts(job.importer.read(job.path, job.options)))
    if not counts:
        return ()
    if not sys.stdin.isatty():
        raise DataError("which of the senders is you? This export does not say",
                        f"pass --me NAME (several allowed): {sender_list(counts)}")
    ranked = counts.most_common(30)
    table = Table(title="Senders in this export")
    table.add_column("#"), table.add_column("sender"), table.add_column("messages", justify="right")
    for i, (name, n) in enumerate(ranked, 1):
        table.add_row(str(i), name, str(n))
    console.print(table)
    answer = typer.prompt("Which of these are you? Numbers or names, separated by commas")
    chosen = []
    for item in filter(None, (a.strip() for a in answer.split(","))):
        if item.isdigit() and 1 <= int(item) <= len(ranked):
            chosen.append(ranked[int(item) - 1][0])
        else:
            chosen.append(item)
    return tuple(chosen)


def import_cmd(
        fmt: str = typer.Argument(..., metavar="FORMAT", help="auto, whatsapp, telegram, discord, messenger, email, "
                                  "sms, imessage, markdown, tabular (or a plugin's)"),
        paths: list[Path] = typer.Argument(..., metavar="PATH...", help="export files or folders"),
        me: list[str] = typer.Option([], "--me", help="your name or id in the export (repeat for several)"),
        out: Path = typer.Option(None, "--out", help="write the training examples to this chat JSONL, not the store"),
        option: list[str] = typer.Option([], "-o", "--option", help="importer option key=value (repeatable)"),
        columns: str = typer.Option(None, "--columns", help="tabular: prompt=COL,completion=COL[,system=COL]"),
        pii: bool = typer.Option(True, "--pii/--no-pii", help="replace other people's names and personal data in "
                                 "the examples (default on)")):
    """Import chats, mail, notes or tables; build training examples from every reply of yours."""
    from ..store import Store
    from .ingest import export_examples, ingest
    from .owner import Owner

    ws = workspace(required=out is None)
    settings = ws.config.collect if ws else CollectSettings()
    pairs = list(option) + ([f"columns={columns}"] if columns else [])
    jobs = _jobs(fmt, paths, pairs)
    names = tuple(me) or settings.me
    if not names:
        names = _ask_me(jobs)
    pii_off = set(settings.pii_off)
    if not pii or not settings.pii:
        pii_off |= {job.importer.name for job in jobs}
    seen = 0
    with warnings.catch_warnings(record=True) as notes, console.status("importing...") as status:
        warnings.simplefilter("always", UserWarning)
        def progress(n: int):
            nonlocal seen
            seen += n
            status.update(f"importing... {seen:,} messages")

        if out is not None:
            with tempfile.TemporaryDirectory(prefix="selfclone-import-") as tmp:
                with Store(Path(tmp) / "import.db") as store:
                    report = ingest(store, jobs, settings, Owner(names), pii_off=pii_off, progress=progress)
                    written = export_examples(store, out)
        else:
            with ws.store() as store:
                report = ingest(store, jobs, settings, Owner(names), pii_off=pii_off, progress=progress)
    for text in dict.fromkeys(str(n.message) for n in notes if issubclass(n.category, UserWarning)):
        err_console.print(f"[dim]note:[/] {text}", markup=True, highlight=False)
    kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(report.kinds.items()))
    if report.messages:
        console.print(f"read {report.messages:,} messages ({kinds}) in {report.chats:,} conversation(s), "
                      f"{report.mine:,} yours; {report.messages_added:,} new")
    if out is not None:
        console.print(f"[green]wrote[/] {written:,} examples to {out}")
    else:
        console.print(f"[green]examples:[/] {report.examples:,} built, {report.examples_added:,} new in the store")
        if report.messages and not report.mine:
            err_console.print("[yellow]none of the messages is marked as yours: no examples from them[/]")
    if pii_off & {job.importer.name for job in jobs}:
        err_console.print(f"[yellow]personal data kept as written for: {', '.join(sorted(pii_off))}[/]")


def stats_cmd(as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """Counts per source and contact, your share of messages, and the length of your messages."""
    from .review import store_stats

    ws = workspace()
    with ws.store() as store:
        stats = store_stats(store)
    if as_json:
        console.print_json(json.dumps(stats.to_dict()))
        return
    if not stats.messages and not stats.examples:
        console.print("[dim]the store is empty: `selfclone import FORMAT PATH`[/]")
        return
    table = Table(title=f"{stats.messages:,} messages, {stats.mine:,} yours ({stats.my_share:.0%}), "
                        f"{stats.examples:,} examples")
    for col in ("source", "messages", "yours", "conversations", "examples"):
        table.add_column(col, justify="left" if col == "source" else "right")
    for s in stats.sources:
        table.add_row(s["source"], f"{s['messages']:,}", f"{s['mine']:,}", f"{s['chats']:,}", f"{s['examples']:,}")
    console.print(table)
    if stats.contacts:
        table = Table(title="Busiest conversations (text messages)")
        for col in ("source", "conversation", "messages", "yours"):
            table.add_column(col, justify="right" if col in ("messages", "yours") else "left")
        for c in stats.contacts:
            table.add_row(c["source"], c["chat"], f"{c['messages']:,}", f"{c['mine'] / c['messages']:.0%}")
        console.print(table)
    if stats.lengths:
        lengths = stats.lengths
        console.print(f"your text messages, in characters: 10th percentile {lengths['p10']}, median "
                      f"{lengths['p50']}, 90th percentile {lengths['p90']}, longest {lengths['max']}")
        console.print("  " + "  ".join(f"{k}: {v:,}" for k, v in lengths["buckets"].items()))


def pii_cmd(preview: bool = typer.Option(False, "--preview", help="show each message that would change"),
            source: str = typer.Option(None, "--source", help="only this source (importer name)"),
            limit: int = typer.Option(20, "--limit", help="messages to show with --preview")):
    """What privacy replaces before training: pseudonyms for names, placeholders for personal data."""
    from .review import pii_preview

    ws = workspace()
    settings = ws.config.collect
    totals: Counter = Counter()
    shown = changed = 0
    with ws.store() as store:
        for finding in pii_preview(store, settings, source=source, totals=totals):
            changed += 1
            if preview and shown < limit:
                shown += 1
                console.print(f"[dim]{finding.source} / {finding.chat}[/]")
                console.print(f"  [red]- {finding.before}[/]", markup=True, highlight=False)
                console.print(f"  [green]+ {finding.after}[/]", markup=True, highlight=False)
    if not changed:
        console.print("nothing to replace in the stored messages")
        return
    console.print(f"{changed:,} messages would change: " + ", ".join(f"{n:,} {k}" for k, n in totals.most_common()))
    off = sorted(settings.pii_off) if settings.pii else ["all sources (collect.pii = false)"]
    if off:
        console.print(f"[yellow]turned off for: {', '.join(off)}[/]")
    if not preview:
        console.print("[dim]--preview shows the messages[/]")


def export_cmd(out: Path = typer.Option(..., "--out", help="chat JSONL to write"),
               source: list[str] = typer.Option([], "--source", help="only these sources (repeatable)")):
    """Write the store's training examples as chat JSONL, ready for `selfclone train`."""
    from .ingest import export_examples

    ws = workspace()
    with ws.store() as store:
        count = export_examples(store, out, source)
    if not count:
        raise SelfcloneError("the store has no examples to export",
                             "import something first: selfclone import FORMAT PATH")
    console.print(f"[green]wrote[/] {count:,} examples to {out}")


def data_group(app: typer.Typer) -> typer.Typer:
    """The `selfclone data` group, shared by the areas that add `data` commands: found, or made once."""
    for info in app.registered_groups:
        if info.name == "data":
            return info.typer_instance
    group = typer.Typer(help="The workspace's data: stats, privacy, export.", no_args_is_help=True)
    app.add_typer(group, name="data")
    return group


def register_commands(app):
    app.command("import", no_args_is_help=True)(import_cmd)
    data = data_group(app)
    data.command("stats")(stats_cmd)
    data.command("pii")(pii_cmd)
    data.command("export")(export_cmd)
