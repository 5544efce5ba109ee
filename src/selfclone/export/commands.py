"""`selfclone export MODEL --format gguf|ollama --quantize q8_0`: a GGUF or an Ollama folder that keeps the clone.

    selfclone export ft:smollm2-135m:maggie:RUN --format ollama
    selfclone export smollm2-135m --quantize q4_k_m --out base.gguf --check data/valid.jsonl
"""
from __future__ import annotations

from pathlib import Path

import typer

from .. import models
from ..config import GenerationOptions
from ..terminal import console, workspace
from .gguf import DEFAULT_QUANTIZATION, QUANTIZATIONS, ExportError
from .pipeline import export_model


def export(model: str = typer.Argument(..., help="a clone, run directory, base model or HF folder"),
           format: str = typer.Option("gguf", "--format", help="gguf or ollama"),
           quantize: str = typer.Option(DEFAULT_QUANTIZATION, "--quantize", help=" | ".join(QUANTIZATIONS)),
           out: Path = typer.Option(None, "--out", help="the .gguf file (gguf) or a folder (ollama)"),
           force: bool = typer.Option(False, "--force", help="keep an export that fails the fidelity check"),
           check: Path = typer.Option(None, "--check", help="held-out chat JSONL (default: the run's valid.jsonl)")):
    """Export to GGUF or Ollama, and check the exported file still scores like the model."""
    ws = workspace(required=False)
    ref = models.resolve(model, ws.runs_dir if ws else None)
    generation = ws.config.generation if ws else GenerationOptions()
    with console.status(f"exporting {model} to {format} ({quantize}) ..."):
        done = export_model(ref, format, quantize, out=out, force=force, check=check, generation=generation)
    console.print(done.fidelity.describe())
    if done.refused:
        raise ExportError(f"the {quantize} export of {model} does not keep it, so it was removed",
                          "try --quantize q8_0 or f16, or pass --force to keep it anyway")
    if not done.fidelity.passed:
        console.print("[yellow]kept despite failing the fidelity check (--force)[/]")
    console.print(f"wrote {done.path}")
    if done.modelfile:
        name = Path(model).name.replace(":", "-").lower()
        console.print(f"ollama create {name} -f {done.modelfile}")


def register_commands(app: typer.Typer) -> None:
    app.command("export")(export)
