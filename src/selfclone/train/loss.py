"""The causal-LM loss computed only where it is needed, and batched evaluation.

The 49k-entry vocabulary makes the output projection the biggest cost in a small model's step: computing
logits for every position (as `model(..., labels=...)` does) wastes most of it on prompt and padding tokens.
Here the final hidden states are gathered at the trained positions first and only those are projected.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .batching import IGNORE, Encoded, collate
from .metrics import accuracy_counts


def _core_and_head(model):
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    core = base.model if hasattr(base, "model") else base.base_model
    return core, base.get_output_embeddings()


@dataclass
class Selected:
    loss_sum: object        # tensor: summed token losses (differentiable)
    tokens: int
    correct: int
    seq_correct: int
    sequences: int

    @property
    def loss(self):
        return self.loss_sum / max(self.tokens, 1)


def forward_selected(model, input_ids, attention_mask, labels, position_ids=None, segments=None) -> Selected:
    """Loss at the trained positions only. Packed rows (train/packing.py) pass `position_ids` that restart per
    example and no attention mask, and `segments` to say which example each token belongs to."""
    import torch
    import torch.nn.functional as F

    core, head = _core_and_head(model)
    # use_cache=False: no KV cache is needed here, and with one transformers ignores packed position_ids
    hidden = core(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                  use_cache=False).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE
    logits = head(hidden[:, :-1][keep]).float()
    gold = targets[keep]
    loss_sum = F.cross_entropy(logits, gold, reduction="sum")
    with torch.no_grad():
        example_index = segments[:, 1:][keep] if segments is not None else keep.nonzero()[:, 0]
        correct, tokens, seq_correct, sequences = accuracy_counts(logits, gold, example_index)
    return Selected(loss_sum, tokens, correct, seq_correct, sequences)


def evaluate(model, encoded: Sequence[Encoded], pad_id: int, batch_size: int = 16, autocast: bool = False) -> dict:
    """Loss and accuracies over `encoded`, in length-sorted batches (little padding, no wasted logits)."""
    import torch

    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    totals = dict(loss=0.0, tokens=0, correct=0, seq_correct=0, sequences=0)
    was_training = model.training
    model.eval()
    with torch.inference_mode(), torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=autocast):
        for start in range(0, len(order), batch_size):
            batch = [encoded[i] for i in order[start:start + batch_size]]
            ids, mask, labels = collate(batch, pad_id)
            out = forward_selected(model, ids.to(model.device), mask.to(model.device), labels.to(model.device))
            totals["loss"] += float(out.loss_sum)
            for key in ("tokens", "correct", "seq_correct", "sequences"):
                totals[key] += getattr(out, key)
    if was_training:
        model.train()
    tokens = max(totals["tokens"], 1)
    return {"loss": totals["loss"] / tokens, "token_accuracy": totals["correct"] / tokens,
            "sequence_accuracy": totals["seq_correct"] / max(totals["sequences"], 1), "tokens": totals["tokens"]}
