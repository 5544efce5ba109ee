"""The causal-LM loss computed only where it is needed, and batched evaluation.

The 49k-entry vocabulary makes the output projection the biggest cost in a small model's step: computing
logits for every position (as `model(..., labels=...)` does) wastes most of it on prompt and padding tokens.
Here the final hidden states are gathered at the trained positions first, and only those are projected, a
chunk of positions at a time: the projection, the cross-entropy and its gradient are computed together
(`linear_cross_entropy`), so no [tokens, vocabulary] logits tensor is kept for the backward pass.

    out = forward_selected(model, ids, mask, labels)      # out.loss (differentiable), out.tokens, out.correct
    loss_sum, predictions = linear_cross_entropy(hidden, head.weight, gold, chunk=512)
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from .batching import IGNORE, Encoded, collate
from .metrics import accuracy_counts

CHUNK = 512          # positions per chunk: 512 x 49,152 fp32 logits is 100 MB, the largest tensor of a step


def _core_and_head(model):
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    core = base.model if hasattr(base, "model") else base.base_model
    return core, base.get_output_embeddings()


@functools.cache
def _fused_function():
    import torch

    class LinearCrossEntropy(torch.autograd.Function):
        """sum_i CE(hidden_i @ weight.T, gold_i), with the gradients for hidden (and weight, when it trains)
        computed chunk by chunk in the forward pass: the logits of a chunk live only while it is processed."""

        @staticmethod
        def forward(ctx, hidden, weight, gold, chunk, dtype, grad_hidden_wanted, grad_weight_wanted):
            w = weight.to(dtype)
            exact = torch.promote_types(dtype, torch.float32)          # softmax and sums: fp32 at least
            loss = torch.zeros((), dtype=exact)
            predictions = torch.empty_like(gold)
            grad_hidden = torch.empty_like(hidden) if grad_hidden_wanted else None
            grad_weight = torch.zeros_like(weight, dtype=exact) if grad_weight_wanted else None
            for start in range(0, hidden.shape[0], chunk):
                h = hidden[start:start + chunk].to(dtype)
                g = gold[start:start + chunk]
                logits = (h @ w.T).to(exact)
                predictions[start:start + chunk] = logits.argmax(-1)
                logsumexp = torch.logsumexp(logits, -1)
                loss += (logsumexp - logits.gather(1, g[:, None])[:, 0]).sum()
                if grad_hidden is None and grad_weight is None:
                    continue
                # d loss / d logits = softmax - one_hot(gold), computed in place over the chunk's logits
                grad_logits = logits.sub_(logsumexp[:, None]).exp_()
                grad_logits[torch.arange(len(g)), g] -= 1
                grad_logits = grad_logits.to(dtype)
                if grad_hidden is not None:
                    grad_hidden[start:start + chunk] = grad_logits @ w
                if grad_weight is not None:
                    grad_weight += (grad_logits.T @ h).to(exact)
            ctx.save_for_backward(*(t for t in (grad_hidden, grad_weight) if t is not None))
            ctx.has = (grad_hidden is not None, grad_weight is not None)
            ctx.weight_dtype = weight.dtype
            ctx.mark_non_differentiable(predictions)
            return loss, predictions

        @staticmethod
        def backward(ctx, grad_loss, _grad_predictions):
            saved = iter(ctx.saved_tensors)
            grad_hidden = next(saved) * grad_loss if ctx.has[0] else None
            grad_weight = (next(saved) * grad_loss).to(ctx.weight_dtype) if ctx.has[1] else None
            return grad_hidden, grad_weight, None, None, None, None, None

    return LinearCrossEntropy



def linear_cross_entropy(hidden, weight, gold, chunk: int = CHUNK):
    """(summed cross-entropy of hidden @ weight.T against gold, the argmax predictions), chunk by chunk.

    Same value and gradients as `F.cross_entropy(F.linear(hidden, weight).float(), gold, reduction="sum")`.
    Under CPU bf16 autocast the matmuls run in bf16 and the softmax in fp32, as autocast would do them.
    """
    import torch

    dtype = torch.bfloat16 if torch.is_autocast_enabled("cpu") else hidden.dtype
    grads = torch.is_grad_enabled()
    with torch.autocast("cpu", enabled=False):
        return _fused_function().apply(hidden, weight, gold, chunk, dtype, grads and hidden.requires_grad,
                               grads and weight.requires_grad)


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
    gold = targets[keep]
    selected = hidden[:, :-1][keep]
    if type(head) is torch.nn.Linear and head.bias is None:
        loss_sum, predictions = linear_cross_entropy(selected, head.weight, gold)
    else:                                   # a head with its own adapter or bias: project it the plain way
        logits = head(selected).float()
        loss_sum, predictions = F.cross_entropy(logits, gold, reduction="sum"), logits.detach().argmax(-1)
    with torch.no_grad():
        example_index = segments[:, 1:][keep] if segments is not None else keep.nonzero()[:, 0]
        correct, tokens, seq_correct, sequences = accuracy_counts(predictions, gold, example_index)
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
