"""One export, end to end: merge, convert, quantize, check fidelity, and (for Ollama) write the Modelfile.

`export_model` is what `selfclone export` runs; `cached_gguf` is the export done on a clone's first use by the
llama.cpp backend, cached beside the run as `RUN/gguf/QUANT.gguf` with its fidelity result in `QUANT.json`.

    result = export_model(models.resolve("ft:smollm2-135m:maggie:RUN"), "ollama", "q8_0")
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .. import models
from ..config import GenerationOptions
from ..dataset.chat import Example, read_examples
from ..fileio import write_json
from . import fidelity, gguf, ollama

FORMATS = ("gguf", "ollama")
CHECK_EXAMPLES = 64       # enough tokens for a stable loss, a few seconds on CPU


@dataclass(frozen=True)
class Exported:
    path: Path                      # the .gguf file
    modelfile: Path | None
    fidelity: fidelity.Fidelity | None
    refused: bool = False


def check_data(ref: models.ModelRef, check: Path | None) -> list[Example]:
    if check is None and ref.kind == "clone":
        check = Path(ref.run_dir) / "data" / "valid.jsonl"
    if check is None or not Path(check).exists():
        raise gguf.ExportError(f"no held-out data to check the export with{f' ({check})' if check else ''}",
                               "pass --check DATA.jsonl (chat examples the model did not train on)")
    return read_examples(check)[:CHECK_EXAMPLES]


def default_out(ref: models.ModelRef, fmt: str, quantize: str) -> Path:
    stem = f"{Path(ref.name).name.replace(':', '-')}-{quantize}"
    where = Path(ref.run_dir) / "export" if ref.kind == "clone" else Path.cwd()
    return where / (f"{stem}.gguf" if fmt == "gguf" else f"{stem}-ollama")


def measure(ref: models.ModelRef, path: Path, model, tokenizer, examples: list[Example]) -> fidelity.Fidelity:
    base_loss = None
    if ref.kind == "clone":
        base_ref = models.resolve(ref.base)
        base_model, _ = models.load(base_ref)
        base_loss = fidelity.base_model_loss(base_model, tokenizer, examples)
        del base_model
    return fidelity.check(path, model, tokenizer, examples, base_loss=base_loss)


def export_model(ref: models.ModelRef, fmt: str = "gguf", quantize: str = gguf.DEFAULT_QUANTIZATION, *,
                 out: Path | None = None, force: bool = False, check: Path | None = None,
                 generation: GenerationOptions | None = None) -> Exported:
    """Export and check; a refused export is removed unless `force`."""
    if fmt not in FORMATS:
        raise gguf.ExportError(f"unknown export format '{fmt}'", f"use one of: {', '.join(FORMATS)}")
    quantize = gguf.check_quantization(quantize)
    examples = check_data(ref, check)
    gguf.require_llama_cpp()      # before loading any model: a missing prerequisite fails in a second
    gguf.require_converter()
    out = Path(out) if out else default_out(ref, fmt, quantize)
    target = out if fmt == "gguf" else out / f"{out.name.removesuffix('-ollama')}.gguf"
    model, tokenizer = gguf.merged(ref)
    before = _identity(target)
    try:
        gguf.export_gguf(ref, target, quantize, loaded=(model, tokenizer))
        result = measure(ref, target, model, tokenizer, examples)
        if not result.passed and not force:
            os.remove(target)
            return Exported(target, None, result, refused=True)
        modelfile = None
        if fmt == "ollama":
            system = (ref.info or {}).get("default_context") if ref.kind == "clone" else None
            modelfile = ollama.write_ollama(target, out, tokenizer, system=system,
                                            generation=generation or GenerationOptions())
    except BaseException:    # Ctrl-C or a failure at any point: no unchecked GGUF is left behind
        if _identity(target) not in (None, before):     # ours, not a file that was there before the export
            target.unlink(missing_ok=True)
        raise
    return Exported(target, modelfile, result)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def cached_path(ref: models.ModelRef, quantize: str) -> Path:
    return Path(ref.run_dir) / "gguf" / f"{quantize}.gguf"


def cached_gguf(ref: models.ModelRef, quantize: str = gguf.DEFAULT_QUANTIZATION) -> tuple[Path, dict]:
    """A clone's GGUF for the llama.cpp backend: exported and checked once, then reused (keyed by run and quant)."""
    path = cached_path(ref, quantize)
    report = path.with_suffix(".json")
    if path.exists() and report.exists():
        return path, json.loads(report.read_text())
    done = export_model(ref, "gguf", quantize, out=path)
    if done.refused:
        raise gguf.ExportError(f"the {quantize} GGUF of {ref.name} does not keep the clone: {done.fidelity.describe()}",
                               "use --backend transformers, or try `-o quantize=f16`")
    info = done.fidelity.as_dict()
    write_json(report, info)
    return path, info
