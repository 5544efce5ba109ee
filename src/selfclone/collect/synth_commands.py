"""`selfclone synth TEMPLATE`: synthetic examples from a template grid with a teacher model (collect/synth.py).

    selfclone synth example --out ravi.jsonl --limit 4
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer

from .. import config as config_mod
from ..terminal import console, progress_bar, workspace


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
    from . import synth

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


def register_commands(app):
    app.command("synth")(synth_cmd)
