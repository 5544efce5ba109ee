"""The demo persona, Maggie (a fictional retired lighthouse keeper turned beekeeper, written for this project): her
files, her card, and the base-vs-clone comparison that `selfclone demo` (demo_commands.py) shows.

    train = read_examples(demo_files() / "train.jsonl")
    result = compare("ft:smollm2-135m:maggie:RUN", runs_dir, heldout)   # losses and side-by-side answers
"""
from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from . import models
from .config import GenerationOptions
from .dataset.chat import Example
from .train.batching import encode_all
from .train.loss import evaluate


def demo_files() -> Path:
    return Path(str(resources.files("selfclone") / "resources" / "demo"))


def persona() -> dict:
    return tomllib.loads((demo_files() / "persona.toml").read_text(encoding="utf-8"))


def heldout_loss(model, tokenizer, examples: list[Example], max_length: int | None = None) -> float:
    encoded = encode_all(tokenizer, examples, max_length or models.context_length(model))
    return evaluate(model, encoded, tokenizer.pad_token_id, batch_size=16)["loss"]


def compare(clone_name: str, runs_dir: Path, heldout: list[Example], questions: int = 5) -> dict:
    """Held-out loss of base vs clone, and a few held-out questions answered by both (greedy)."""
    from .backends.transformers_backend import TransformersBackend

    base = TransformersBackend("smollm2-135m")
    clone = TransformersBackend(clone_name, workspace_runs=runs_dir)
    base_loss = heldout_loss(base.model, base.tokenizer, heldout)
    clone_loss = heldout_loss(clone.model, clone.tokenizer, heldout)
    options = GenerationOptions(max_tokens=60, temperature=0.0, frequency_penalty=0.0, no_repeat_ngram_size=4)
    rows = []
    for example in heldout[:questions]:
        prompt = example.prompt()
        rows.append({"question": prompt[-1]["content"], "real": example.reply(),
                     "base": "".join(base.chat(prompt, options)).strip(),
                     "clone": "".join(clone.chat(prompt, options)).strip()})
    return {"base_heldout_loss": base_loss, "clone_heldout_loss": clone_loss,
            "relative_drop": 1 - clone_loss / base_loss, "questions": rows}
