"""The embedded model as llama.cpp serves it fastest: a copy of its GGUF re-typed once by llama.cpp's own quantizer,
checked against the model transformers loads, and cached (the `served_gguf` plugin hook).

The shipped file is Q4_1, for which llama.cpp's CPU matmul has no batched kernel: a 216-token prompt takes about
0.5 s and eight replies decoded together gain only 1.5x. Re-typed to BF16 (token embedding kept at Q8_0), llama.cpp
uses its AVX-512 BF16 kernels: the same prompt in about 0.16 s and 4.4x at eight replies (docs/BENCHMARKS.md). The
Q4_1 values convert to BF16 all but exactly, and the fidelity check (the base-model rule: refused when the loss is
more than 1% above the transformers model's) proves it on held-out replies before the copy is used. A refused copy
is not kept and the backend loads the shipped file.

    path, report = served_gguf(models.resolve("smollm2-135m"), "bf16")    # made once (about 20 s), then cached
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .. import config, models
from ..dataset.chat import read_examples
from ..fileio import write_json
from ..terminal import console
from . import fidelity, gguf

CHECK_EXAMPLES = 64


def served_path(ref: models.ModelRef, weights: str) -> Path:
    source = Path(ref.path)
    stat = source.stat()
    return config.cache_dir() / "served" / f"{source.stem}-{stat.st_size}-{weights}.gguf"


def check_examples():
    here = Path(__file__).resolve().parent.parent / "resources" / "demo" / "heldout.jsonl"
    return read_examples(here)[:CHECK_EXAMPLES]


def served_gguf(ref: models.ModelRef, weights: str) -> tuple[Path, dict] | None:
    """(the re-typed copy, its fidelity report), or None when the copy does not keep the model (then the caller
    loads the shipped file). Written atomically: a copy exists only once it was checked."""
    weights = gguf.check_quantization(weights)
    path = served_path(ref, weights)
    report = path.with_suffix(".json")
    if report.exists():
        info = json.loads(report.read_text())
        return (path, info) if info.get("passed") and path.exists() else None
    gguf.require_llama_cpp()
    path.parent.mkdir(parents=True, exist_ok=True)
    work = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    console.print(f"[dim]making a {weights} copy of {ref.name} for llama.cpp's fast kernels, once[/]")
    try:
        gguf.quantize_file(Path(ref.path), work, weights)
        model, tokenizer = models.load(ref)
        result = fidelity.check(work, model, tokenizer, check_examples())
        if result.passed:
            os.replace(work, path)
        write_json(report, {**result.as_dict(), "source": str(ref.path), "weights": weights})
    finally:
        work.unlink(missing_ok=True)
    if not result.passed:
        console.print(f"[yellow]the {weights} copy of {ref.name} does not keep the model ({result.describe()}); "
                      "loading the shipped file[/]")
        return None
    return path, result.as_dict()

