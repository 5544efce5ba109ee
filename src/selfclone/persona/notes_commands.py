"""`selfclone notes add|list|remove|augment|drill`: the person's notes (and own imported messages) in the retrieval
index, and training examples in the notes frame.

    selfclone notes add notes/ diary.md           # folders recursively; the own messages of the store as well
    selfclone notes list
    selfclone notes remove notes/diary.md         # a file, a folder, or `messages`
    selfclone notes drill data/drill.jsonl        # invented facts to answer from (train adds them by itself)
"""
from __future__ import annotations

from pathlib import Path

import typer

from ..dataset.chat import read_examples, write_examples
from ..errors import DataError
from ..terminal import console, progress_bar, workspace
from .augment import augment
from .drill import drill
from .index import NotesIndex
from .notes import LARGE
from .retrieval import MESSAGES, add_notes, index_messages, notes_path, workspace_retriever

notes = typer.Typer(help="Notes and messages the clone retrieves from when it talks.", no_args_is_help=True)


@notes.command("add")
def add(paths: list[Path] = typer.Argument(None, help="Markdown, text or HTML files, or folders of them"),
        messages: bool = typer.Option(True, "--messages/--no-messages",
                                      help="index your own imported messages too (scrubbed as for training)")):
    """Index notes for retrieval; run it again after an interruption and it carries on where it stopped."""
    ws = workspace()
    with NotesIndex(notes_path(ws.root)) as index, progress_bar(transient=True) as bar:
        task = None

        def on_file(path: Path, size: int):
            nonlocal task
            if task is not None:
                bar.remove_task(task)
                task = None
            if size > LARGE:
                task = bar.add_task(path.name, total=size, status="bytes")

        def progress(done: int):
            if task is not None:
                bar.advance(task, done)

        report = add_notes(index, paths or [], on_file=on_file, progress=progress)
        if messages:
            with ws.store() as store:
                mine = index_messages(index, store, ws.config.collect)
            report.added += mine.added
            report.skipped += mine.skipped
            report.passages += mine.passages
    console.print(f"indexed {len(report.added)} documents ({report.passages} passages); "
                  f"{len(report.skipped)} unchanged and skipped")


@notes.command("list")
def list_():
    """The indexed documents and their passage counts."""
    ws = workspace()
    with NotesIndex(notes_path(ws.root)) as index:
        documents = index.documents()
        total = index.passage_count()
    for doc in documents:
        console.print(f"{doc.passages:6d}  {doc.kind:9s}  {doc.added_at}  {doc.origin}")
    console.print(f"{len(documents)} documents, {total} passages")


@notes.command("remove")
def remove(paths: list[str] = typer.Argument(..., help="indexed files or folders, or `messages`")):
    """Remove documents and their passages from the index."""
    ws = workspace()
    with NotesIndex(notes_path(ws.root)) as index:
        origins = []
        for name in paths:
            prefix = MESSAGES if name == "messages" else str(Path(name).resolve())
            found = [d.origin for d in index.documents(prefix)
                     if d.origin == prefix or d.origin.startswith(prefix.rstrip("/") + "/") or prefix == MESSAGES]
            if not found:
                raise DataError("is not in the notes index", "see `selfclone notes list`", path=name)
            origins += found
        removed = index.remove(origins)
    console.print(f"removed {len(origins)} documents ({removed} passages)")


@notes.command("augment")
def augment_cmd(data: Path = typer.Argument(..., help="chat JSONL training examples"),
                out: Path = typer.Argument(..., help="where to write the augmented examples"),
                k: int = typer.Option(None, "--retrieve", help="passages retrieved per example (default [notes])"),
                distractors: int = typer.Option(1, help="random other passages added to each example"),
                seed: int = typer.Option(0)):
    """Training examples with notes in the talk-time frame (retrieved passages plus distractors)."""
    ws = workspace()
    retriever = workspace_retriever(ws.root, ws.config.notes, k)
    if retriever is None:
        raise DataError("the workspace has no notes to augment with", "run `selfclone notes add PATH...` first")
    count = write_examples(out, augment(read_examples(data), retriever, distractors=distractors, seed=seed))
    console.print(f"wrote {count} examples to {out}")


@notes.command("drill")
def drill_cmd(out: Path = typer.Argument(..., help="where to write the drill examples (chat JSONL)"),
              count: int = typer.Option(200, min=1, help="examples"),
              context: str = typer.Option(None, help="the clone's system prompt (default: the workspace's)"),
              seed: int = typer.Option(0)):
    """Invented facts in the notes frame, each asked and answered: training that teaches a clone to answer from
    its notes (`selfclone train` adds them by itself when the workspace has notes)."""
    ws = workspace(required=False)
    own = context if context is not None else (ws.config.system if ws else "")
    count = write_examples(out, drill(count, context=own or "", seed=seed))
    console.print(f"wrote {count} drill examples to {out}")


def register_commands(app):
    app.add_typer(notes, name="notes")
