"""Token counts with the chosen model's real tokenizer, their percentiles, and a training-time estimate.

Counting renders no template per example (too slow for 100,000 examples): the message contents are
tokenized in batches and the chat template's own tokens are added, measured once from the template
itself (per message, and per example with and without a system message, since a template such as
SmolLM2's adds a default system prompt when an example has none).

    counter = TokenCounter.for_model("smollm2-135m")
    totals, trained = counter.count(examples)
    percentiles(totals)              # {"p5": ..., "p50": ..., "p95": ...}
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .chat import Example

ROUGH_TOKENS_PER_S = 100.0      # a 2-core CPU training SmolLM2-135M with LoRA (shared/FACTS.md): a rough default
BATCH = 8192


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p5, p50 and p95 with linear interpolation (numpy's default), plus min, mean and max."""
    if len(values) == 0:
        return {}
    arr = np.asarray(values, dtype=float)
    p5, p50, p95 = np.percentile(arr, [5, 50, 95])
    return {"min": float(arr.min()), "p5": float(p5), "p50": float(p50), "mean": float(arr.mean()),
            "p95": float(p95), "max": float(arr.max())}


@dataclass
class TokenCounter:
    tokenizer: object
    per_role: dict[str, int]   # template tokens around one message of each role ('assistant' may be 2 tokens)
    base: int                  # template tokens of an example without a system message (a default one, maybe)
    base_system: int           # ... and of one with a system message

    @classmethod
    def for_model(cls, name: str, workspace_runs: Path | None = None) -> "TokenCounter":
        from .. import models

        return cls.from_tokenizer(models.load_tokenizer(models.resolve(name, workspace_runs)))

    @classmethod
    def from_tokenizer(cls, tokenizer) -> "TokenCounter":
        counter = cls(tokenizer, {"system": 0, "user": 0, "assistant": 0}, 0, 0)
        if not getattr(tokenizer, "chat_template", None):
            return counter          # no template: content tokens only
        s, u, a = ({"role": "system", "content": "You are Sam."}, {"role": "user", "content": "Hello there"},
                   {"role": "assistant", "content": "Hi, how are you?"})

        def overhead(*messages):
            text = tokenizer.apply_chat_template(list(messages), tokenize=False)
            return counter._len([text])[0] - sum(counter._len([m["content"] for m in messages]))

        pair = overhead(u, a)
        counter.per_role = {"user": overhead(u, u, a) - pair, "assistant": overhead(u, a, a) - pair,
                            "system": overhead(s, s, u, a) - overhead(s, u, a)}
        counter.base = pair - counter.per_role["user"] - counter.per_role["assistant"]
        counter.base_system = overhead(s, u, a) - sum(counter.per_role.values())
        return counter

    def _len(self, texts: list[str]) -> list[int]:
        """Token counts of `texts`, each distinct text tokenized once (system prompts repeat a lot)."""
        unique = list(dict.fromkeys(texts))
        fast = getattr(getattr(self.tokenizer, "backend_tokenizer", None), "encode_batch_fast", None)
        if fast is not None:        # the Rust tokenizer without offsets: about 2x the speed of __call__
            lengths = [len(e.ids) for e in fast(unique, add_special_tokens=False)]
        else:
            lengths = [len(x) for x in self.tokenizer(unique, add_special_tokens=False)["input_ids"]]
        known = dict(zip(unique, lengths))
        return [known[t] for t in texts]

    def count(self, examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray]:
        """Per example: all tokens as trained (template included), and the trained assistant tokens."""
        totals = np.zeros(len(examples), dtype=np.int64)
        trained = np.zeros(len(examples), dtype=np.int64)
        for start in range(0, len(examples), BATCH):
            chunk = examples[start:start + BATCH]
            lengths = iter(self._len([t.content for e in chunk for t in e.messages]))
            for k, ex in enumerate(chunk):
                total = self.base_system if ex.system is not None else self.base
                for turn in ex.messages:
                    n = next(lengths)
                    total += n + self.per_role[turn.role]
                    if turn.trained:
                        trained[start + k] += n
                totals[start + k] = total
        return totals, trained


def model_context(name: str, workspace_runs: Path | None = None) -> int:
    """The model's context length (max_position_embeddings), the base model's for a clone."""
    from transformers import AutoConfig

    from .. import models

    ref = models.resolve(name, workspace_runs)
    if ref.kind == "clone":
        ref = models.resolve(ref.base)
    config = AutoConfig.from_pretrained(models.local_dir(ref))
    return int(getattr(config, "max_position_embeddings", 0) or 2048)


# `selfclone train`'s epochs (train/settings.py takes its default from here), so prepare estimates the run that
# train will do, not a heuristic's
TRAIN_EPOCHS = 3


@dataclass(frozen=True)
class Throughput:
    tokens_per_s: float
    machine: str
    measured_at: str
    measured: bool          # False: the rough default, no `selfclone bench train` figure found


def read_throughput(path: Path) -> Throughput:
    """The figure `selfclone bench train` wrote; the rough default when it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text())
        rate = float(data["tokens_per_s"])
        if rate > 0:
            return Throughput(rate, str(data.get("machine", "this machine")), str(data.get("measured_at", "")), True)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return Throughput(ROUGH_TOKENS_PER_S, "a rough default for a 2-core CPU", "", False)


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
