"""Does an exported GGUF still talk like the clone? Held-out loss with llama.cpp's logits against the merged model.

Both score the same tokens with the same assistant-only labels (train/batching.py): the merged transformers model
through train/loss.py's `evaluate`, the GGUF through `Llama(..., logits_all=True)`. A clone's export is refused when
it loses more than 2% of the loss the clone gained over its base; a base model's when it is more than 1% worse.

    report = check(gguf_path, merged_model, tokenizer, examples, base_loss=2.41)
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..dataset.chat import Example
from ..train.batching import IGNORE, Encoded, encode_all
from ..train.loss import evaluate

CLONE_LOSS_SHARE = 0.02   # of the gain over the base
BASE_RELATIVE = 0.01      # above the merged model's loss


@dataclass(frozen=True)
class Fidelity:
    gguf_loss: float
    merged_loss: float
    base_loss: float | None
    tokens: int
    limit: float          # the highest GGUF loss accepted

    @property
    def passed(self) -> bool:
        return bool(self.gguf_loss <= self.limit)

    def describe(self) -> str:
        base = f", base {self.base_loss:.4f}" if self.base_loss is not None else ""
        return (f"held-out loss over {self.tokens} tokens: GGUF {self.gguf_loss:.4f}, merged model "
                f"{self.merged_loss:.4f}{base}; limit {self.limit:.4f}")

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def limit_for(merged_loss: float, base_loss: float | None) -> float:
    gain = (base_loss - merged_loss) if base_loss is not None else 0.0
    if gain > 0:
        return merged_loss + CLONE_LOSS_SHARE * gain
    return merged_loss * (1 + BASE_RELATIVE)


def gguf_loss(gguf: Path, encoded: Sequence[Encoded], threads: int | None = None) -> tuple[float, int]:
    """Mean cross-entropy of the labelled tokens under the GGUF, from llama.cpp's logits."""
    import numpy as np
    from llama_cpp import Llama

    n_ctx = max(len(e) for e in encoded) + 8
    llm = Llama(model_path=str(gguf), n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, logits_all=True,
                n_threads=threads, verbose=False)
    total, tokens = 0.0, 0
    try:
        for enc in encoded:
            llm.reset()
            llm.eval(enc.input_ids)
            logits = np.asarray(llm.scores[:len(enc.input_ids)], dtype=np.float64)
            for pos in range(1, len(enc.input_ids)):
                gold = enc.labels[pos]
                if gold == IGNORE:
                    continue
                row = logits[pos - 1]
                top = row.max()
                total += top + math.log(np.exp(row - top).sum()) - row[gold]
                tokens += 1
    finally:
        llm.close()
    return float(total) / max(tokens, 1), tokens


def check(gguf: Path, model, tokenizer, examples: Sequence[Example], *, base_loss: float | None = None,
          max_length: int = 2048) -> Fidelity:
    encoded = encode_all(tokenizer, examples, max_length)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    merged_loss = evaluate(model, encoded, pad)["loss"]
    loss, tokens = gguf_loss(gguf, encoded)
    return Fidelity(loss, merged_loss, base_loss, tokens, limit_for(merged_loss, base_loss))


def base_model_loss(base_model, tokenizer, examples: Sequence[Example], max_length: int = 2048) -> float:
    encoded = encode_all(tokenizer, examples, max_length)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return evaluate(base_model, encoded, pad)["loss"]
