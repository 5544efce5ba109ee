"""`selfclone demo`: the whole loop on the embedded model and the shipped demo persona, in minutes on a CPU.

init a workspace -> train a LoRA clone of Maggie (a fictional persona written for this project) ->
compare the base model and the clone on Maggie's held-out replies: held-out loss, and five questions side
by side -> how to chat. Run it with `make demo` or `selfclone demo`.
"""
from __future__ import annotations

import shutil
import tomllib
from importlib import resources
from pathlib import Path

import typer
from rich.table import Table

from . import models
from .backends.base import GenerationOptions
from .backends.transformers_backend import TransformersBackend
from .dataset.chat import Example, read_examples
from .dataset.split import auto_validation
from .terminal import console
from .train import sft
from .train.batching import encode_all
from .train.commands import run_sft
from .train.loss import evaluate
from .train.settings import SFTSettings
from .workspace import CONFIG_NAME, Workspace


def demo_files() -> Path:
    return Path(str(resources.files("selfclone") / "resources" / "demo"))


def persona() -> dict:
    return tomllib.loads((demo_files() / "persona.toml").read_text(encoding="utf-8"))


def heldout_loss(model, tokenizer, examples: list[Example]) -> float:
    encoded = encode_all(tokenizer, examples, models.context_length(model))
    return evaluate(model, encoded, tokenizer.pad_token_id, batch_size=16)["loss"]


def compare(clone_name: str, runs_dir: Path, heldout: list[Example], questions: int = 5) -> dict:
    """Held-out loss of base vs clone, and a few held-out questions answered side by side."""
    base = TransformersBackend("smollm2-135m")
    clone = TransformersBackend(clone_name, workspace_runs=runs_dir)
    with console.status("measuring held-out loss of the base model and the clone ..."):
        base_loss = heldout_loss(base.model, base.tokenizer, heldout)
        clone_loss = heldout_loss(clone.model, clone.tokenizer, heldout)
    drop = 1 - clone_loss / base_loss
    console.print(f"\n[bold]held-out loss on {len(heldout)} of Maggie's real replies[/] (lower = closer to her):")
    console.print(f"  base model  {base_loss:.3f}\n  clone       {clone_loss:.3f}   ([green]{drop:.0%} lower[/])")
    options = GenerationOptions(max_tokens=60, temperature=0.0, no_repeat_ngram_size=4)
    table = Table(title="Held-out questions (greedy decoding, same system prompt for both)", show_lines=True)
    for col in ("question", "Maggie (real)", "base model", "clone"):
        table.add_column(col, ratio=1)
    with console.status("answering held-out questions ..."):
        for example in heldout[:questions]:
            prompt = example.prompt()
            table.add_row(prompt[-1]["content"], example.reply(), "".join(base.chat(prompt, options)).strip(),
                          "".join(clone.chat(prompt, options)).strip())
    console.print(table)
    return {"base_heldout_loss": base_loss, "clone_heldout_loss": clone_loss, "relative_drop": drop}


def demo(directory: Path = typer.Option(Path("demo-workspace"), "--dir", help="workspace folder to create or reuse"),
         epochs: int = typer.Option(3, help="training epochs"),
         learning_rate_multiplier: float = typer.Option(
             2.0, help="x 2e-4; 2 because validation loss on the demo was still falling after 3 epochs at 1"),
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
    train_all = read_examples(ws.data_dir / "maggie-train.jsonl")
    heldout = read_examples(ws.data_dir / "maggie-heldout.jsonl")
    train_examples, valid_examples = auto_validation(train_all)
    settings = SFTSettings(epochs=epochs, suffix="maggie", max_steps=max_steps,
                            learning_rate_multiplier=learning_rate_multiplier)
    run = sft.prepare_run(train_examples, valid_examples, settings, None, ws.runs_dir,
                          {"train_file": str(ws.data_dir / "maggie-train.jsonl"), "valid_file": None})
    console.print(f"[green]2/3 training[/] a LoRA clone on {len(train_examples)} examples "
                  f"({len(valid_examples)} for validation), {epochs} epochs -> {run.path}")
    run_sft(run, ws.runs_dir)
    name = run.info()["name"]
    console.print("[green]3/3 comparing[/] base model and clone")
    result = compare(name, ws.runs_dir, heldout, questions)
    console.print(f"\n[bold]talk to the clone:[/]\n  cd {directory} && {Path('.venv/bin/selfclone') if Path('.venv/bin/selfclone').exists() else 'selfclone'} "
                  f"chat {name}\n  (or `selfclone ask {name} \"what do you do all day?\"`)")
    return result


def register_commands(app, bench):
    app.command()(demo)
