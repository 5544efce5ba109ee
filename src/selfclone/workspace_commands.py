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


def recommend(batch_size: int = typer.Option(4, help="examples per step to estimate for"),
              seq_length: int = typer.Option(1024, help="tokens per example to estimate for"),
              lora_rank: int = typer.Option(16, help="LoRA rank"),
              as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """Which well-known bases fit this machine's GPU memory (or RAM) for LoRA, QLoRA and full fine-tuning."""
    from .train import devices, memory

    device = devices.pick("auto")
    available, there = memory.available_bytes(device.type, device.index)
    rows = memory.recommend(available, device.type, batch_size=batch_size, seq_length=seq_length, lora_rank=lora_rank)
    if as_json:
        console.print_json(json.dumps({"device": device.name, "available_gib": round(available / memory.GiB, 1),
                                       "batch_size": batch_size, "seq_length": seq_length, "models": rows}))
        return
    table = Table(title=f"Estimated memory to train (GiB) at batch {batch_size} x {seq_length} tokens: {there}",
                  caption="estimates from each model's config (train/memory.py), not measurements; "
                          "download a base that fits, then `selfclone train DATA --model FOLDER`")
    for col in ("model", "parameters", "LoRA", "QLoRA (--load-4bit)", "full (--full)"):
        table.add_column(col, justify="left" if col == "model" else "right")

    def cell(entry: dict) -> str:
        if entry["gib"] is None:
            return f"[dim]{entry['why']}[/]"
        return f"[green]{entry['gib']:.1f} fits[/]" if entry["fits"] else f"[red]{entry['gib']:.1f}[/]"

    for row in rows:
        table.add_row(row["model"], f"{row['parameters_b']:.2f}B", cell(row["lora"]), cell(row["qlora"]),
                      cell(row["full"]))
    console.print(table)


def register_commands(app):
    app.command()(init)
    group = typer.Typer(invoke_without_command=True, help="List base models and clones; delete a clone.")
    group.callback()(models_cmd)
    group.command("delete")(delete)
    group.command("recommend")(recommend)
    app.add_typer(group, name="models")
