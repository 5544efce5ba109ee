"""Held-out loss and perplexity of the person's real replies, on the tokens of those replies only.

Each held-out example is scored on its last assistant turn (earlier assistant turns are context, as in a
conversation the model joins), rendered with the model's chat template. The loss comes from
`train.loss.evaluate`: length-sorted batches, logits only at the scored positions. Lower loss means the
model finds the person's real words less surprising; perplexity = exp(loss).

`relationship_losses` splits the held-out examples by who their frame says the person talks to (persona/frame.py)
and scores each group with that conditioning and without it; `notes_transform` puts the passages retrieved for each
prompt's last user message into its frame, as ChatSession does, so a model's loss with retrieval on and off compares.

`loss_one_at_a_time` is the plain loop (one example per forward pass, logits everywhere, as
`model(..., labels=...)` does); only `selfclone bench eval` uses it, as the baseline it measures against.

    result = heldout_loss(model, tokenizer, examples)      # {"loss": 2.91, "perplexity": 18.4, ...}
    relationship_losses(model, tokenizer, examples)        # [{"relationship": "family", "loss_with": ...}, ...]
    heldout_loss(model, tokenizer, examples, notes_transform(retriever))     # retrieval on
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from .. import machine, models
from ..dataset.chat import Example, Turn
from ..persona.frame import reframed, split_talking_to
from ..train.batching import IGNORE, Encoded, encode_all
from ..train.loss import evaluate

PromptTransform = Callable[[list[dict]], list[dict]]


def scored_example(example: Example, transform: PromptTransform | None = None) -> Example:
    """The example as a prompt (optionally rewritten, e.g. with a persona prompt) plus its last reply, the
    only turn scored."""
    prompt = example.prompt()
    if transform is not None:
        prompt = transform(prompt)
    turns = [Turn(m["role"], m["content"], 0 if m["role"] == "assistant" else None) for m in prompt]
    return Example(tuple(turns) + (Turn("assistant", example.reply()),), example.meta)


def heldout_loss(model, tokenizer, examples: Sequence[Example], transform: PromptTransform | None = None,
                 batch_size: int = 16, bf16: bool | None = None) -> dict:
    """Mean token loss and perplexity of the real last replies of `examples`.

    `bf16` (default: where the CPU is fast at it, as training does) runs the forward passes under bf16
    autocast; the loss moves by about 0.1%, the same for every model in a comparison.
    """
    scored = [scored_example(e, transform) for e in examples]
    encoded = encode_all(tokenizer, scored, models.context_length(model))
    if bf16 is None:
        bf16 = machine.fast_bf16() and model.device.type == "cpu"
    result = evaluate(model, encoded, tokenizer.pad_token_id, batch_size=batch_size, autocast=bf16)
    result["bf16"] = bf16
    result["perplexity"] = math.exp(min(result["loss"], 700.0))
    result["examples"] = len(encoded)
    return result


def _without_who(prompt: list[dict]) -> list[dict]:
    if not prompt or prompt[0]["role"] != "system":
        return prompt
    _, rest = split_talking_to(prompt[0]["content"])
    return ([{"role": "system", "content": rest}] if rest else []) + prompt[1:]


def relationship_losses(model, tokenizer, examples: Sequence[Example], **options) -> list[dict]:
    """Held-out loss per relationship (who the example's system frame names), with that conditioning and without
    it (the same frame minus who); examples without one are left out."""
    groups: dict[str, list[Example]] = {}
    for example in examples:
        prompt = example.prompt()
        who, _ = split_talking_to(prompt[0]["content"] if prompt and prompt[0]["role"] == "system" else None)
        if who:
            groups.setdefault(who, []).append(example)
    rows = []
    for who, group in sorted(groups.items()):
        with_who = heldout_loss(model, tokenizer, group, **options)["loss"]
        without = heldout_loss(model, tokenizer, group, _without_who, **options)["loss"]
        rows.append({"relationship": who, "examples": len(group), "loss_with": with_who, "loss_without": without})
    return rows


def notes_transform(retriever) -> PromptTransform:
    """The prompt with the passages retrieved for its last user message in its system frame (ChatSession's)."""
    def transform(prompt: list[dict]) -> list[dict]:
        users = [m["content"] for m in prompt if m["role"] == "user"]
        return reframed(prompt, passages=retriever.passages_for(users[-1]) if users else [])

    return transform


def loss_one_at_a_time(model, encoded: Sequence[Encoded]) -> dict:
    """The baseline loop: one example per forward pass with logits at every position."""
    import torch

    total, tokens = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for item in encoded:
            ids = torch.tensor([item.input_ids], device=model.device)
            labels = torch.tensor([item.labels], device=model.device)
            out = model(input_ids=ids, labels=labels)
            n = sum(1 for x in item.labels[1:] if x != IGNORE)     # the model shifts labels by one
            total += float(out.loss) * n
            tokens += n
    loss = total / max(tokens, 1)
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "tokens": tokens, "examples": len(encoded)}
