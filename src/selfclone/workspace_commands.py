"""`selfclone init` and `selfclone models`: create a workspace; list base models and trained clones."""
from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from . import models
from .terminal import console, workspace


def init(path: Path = typer.Argument(..., help="folder for the new workspace"),
         name: str = typer.Option(None, help="the clone's name (default: the folder's name)"),
         person: str = typer.Option("me", help="the person's display name"),
         model: str = typer.Option(None, help="default base model"),
         description: str = typer.Option("", help="a few sentences about the person (used as a persona prompt)")):
    """Create a clone workspace: selfclone.toml, data/, runs/ and the SQLite store."""
    from .workspace import Workspace

    ws = Workspace.init(path, name=name, person=person, model=model, description=description)
    console.print(f"[green]created[/] workspace [bold]{ws.config.name}[/] in {ws.root}")
    import os

    here = os.path.relpath(ws.root)
    person = ws.config.person if hasattr(ws.config, "person") else person
    console.print("  next:", highlight=False)
    for step, why in ((f"cd {here}" if here != "." else "", "run commands from inside it"),
                      (f'selfclone import auto EXPORTS... --me "{person}"', "or: selfclone interview"),
                      ("selfclone data export --out data/me.jsonl", "the examples, names replaced"),
                      ("selfclone prepare data/me.jsonl", "check them"),
                      ("selfclone train data/me.jsonl", "fine-tune your clone"),
                      ("selfclone help", "the guides")):
        if step:
            console.print(f"    {step:<44} # {why}", highlight=False, markup=False)


def list_clones(runs_dir: Path | None) -> list[dict]:
    """The clones of models.list_clones, with a "running" run whose process is gone shown as interrupted."""
    from .train.rundir import RunDir

    rows = []
    for row in models.list_clones(runs_dir):
        status = RunDir(Path(row["run_dir"])).status()
        if status == "interrupted":
            status = f"interrupted (resume with `selfclone train --resume {row['run_dir']}`)"
        rows.append(row | {"status": status})
    return rows


def models_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """List base models and trained clones with their data, date and metrics; `models delete NAME` deletes a clone."""
    if ctx.invoked_subcommand is not None:
        return
    ws = workspace(required=False)
    bases = []
    for name, spec in models.EMBEDDED.items():
        try:
            path = str(models.embedded_path(name))
        except models.ModelNotFound:
            path = f"not installed ({spec['install']})"
        bases.append({"name": name, "title": spec["title"], "path": path})
    clones = list_clones(ws.runs_dir if ws else None)
    if as_json:
        console.print_json(json.dumps({"base_models": bases, "clones": clones}))
        return
    table = Table(title="Base models")
    table.add_column("name"), table.add_column("what"), table.add_column("file")
    for b in bases:
        table.add_row(b["name"], b["title"], b["path"])
    console.print(table)
    table = Table(title="Clones")
    for col in ("name", "method", "created", "data", "best valid loss", "status"):
        table.add_column(col)
    for c in clones:
        summary = c.get("summary") or {}
        best = summary.get("best_valid_loss")
        table.add_row(c.get("name", "?"), c.get("method", "?"), c.get("created", "")[:16],
                      Path(c.get("train_file", "")).name, f"{best:.3f}" if best is not None else "-",
                      c.get("status", "?"))
    console.print(table if clones else "[dim]no clones yet: `selfclone train DATA.jsonl`[/]")


def delete(name: str = typer.Argument(..., help="the clone's name (ft:BASE:SUFFIX:RUNID)"),
           yes: bool = typer.Option(False, "--yes", "-y", help="delete without asking")):
    """Delete a clone: its run directory and its entry in the clone index."""
    ws = workspace(required=False)
    runs = ws.runs_dir if ws else None
    ref = models.resolve(name, runs)
    if not yes and not typer.confirm(f"delete {name} and its run directory {ref.run_dir or ref.path}?"):
        console.print("[dim]nothing deleted[/]")
        return
    deleted = models.delete_clone(name, runs)
    console.print(f"[green]deleted[/] {name} ({deleted})")


def register_commands(app):
    app.command()(init)
    group = typer.Typer(invoke_without_command=True, help="List base models and clones; delete a clone.")
    group.callback()(models_cmd)
    group.command("delete")(delete)
    app.add_typer(group, name="models")
