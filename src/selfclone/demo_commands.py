"""`selfclone demo`: the whole loop on the embedded model and the shipped demo persona, in minutes on a CPU.

init a workspace -> train a LoRA clone of Maggie -> compare the base model and the clone on Maggie's held-out
replies: held-out loss, and five questions side by side -> how to chat. Run it with `make demo`.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import typer
from rich.table import Table

from .dataset.chat import read_examples
from .demo import compare, demo_files, persona
from .terminal import console
from .train.display import print_recipe, run_prepared
from .train.methods import TrainRequest, prepare
from .workspace import CONFIG_NAME, Workspace


def demo(directory: Path = typer.Option(Path("demo-workspace"), "--dir", help="workspace folder to create or reuse"),
         epochs: int = typer.Option(None, help="training epochs (default: the recipe's choice from the data)"),
         max_steps: int = typer.Option(None, help="stop training early (quick look)"),
         questions: int = typer.Option(5, help="held-out questions to show side by side")):
    """Run the whole loop on the embedded model and the demo persona: init -> train -> compare."""
    info = persona()
    if (directory / CONFIG_NAME).exists():
        ws = Workspace.open(directory)
        console.print(f"using workspace {directory}")
    else:
        ws = Workspace.init(directory, name="maggie", person=info["name"], description=info["description"],
                            system=info["system"])
        console.print(f"[green]1/3 created workspace[/] {directory}")
    for name in ("train.jsonl", "heldout.jsonl"):
        shutil.copyfile(demo_files() / name, ws.data_dir / f"maggie-{name}")
    heldout = read_examples(ws.data_dir / "maggie-heldout.jsonl")
    request = TrainRequest(data=ws.data_dir / "maggie-train.jsonl", epochs=epochs, suffix="maggie",
                           max_steps=max_steps)
    prepared = prepare(request, ws.runs_dir)
    console.print(f"[green]2/3 training[/] a LoRA clone ({prepared.description}) -> {prepared.run.path}")
    print_recipe(prepared.run)
    run_prepared(prepared, "sft")
    name = prepared.run.info()["name"]
    console.print("[green]3/3 comparing[/] base model and clone")
    with console.status("measuring held-out loss and answering held-out questions with the base model and the clone ..."):
        result = compare(name, ws.runs_dir, heldout, questions)
    console.print(f"\n[bold]held-out loss on {len(heldout)} of Maggie's real replies[/] (lower = closer to her):")
    console.print(f"  base model  {result['base_heldout_loss']:.3f}\n  clone       {result['clone_heldout_loss']:.3f}   "
                  f"([green]{result['relative_drop']:.0%} lower[/])")
    table = Table(title="Held-out questions (greedy decoding, same system prompt for both)", show_lines=True)
    for col in ("question", "Maggie (real)", "base model", "clone"):
        table.add_column(col, ratio=1)
    for row in result["questions"]:
        table.add_row(row["question"], row["real"], row["base"], row["clone"])
    console.print(table)
    command = "selfclone" if shutil.which("selfclone") else str(Path(sys.executable).with_name("selfclone"))
    console.print(f"\n[bold]talk to the clone:[/]\n  cd {directory} && {command} chat {name}\n"
                  f"  (or `{command} ask {name} \"what do you do all day?\"`)", soft_wrap=True)
    return result


def register_commands(app):
    app.command()(demo)
