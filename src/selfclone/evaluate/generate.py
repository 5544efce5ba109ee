"""The replies each model writes to the held-out prompts: seeded, and batched where the model is local.

The transformers backend (a model in-process: `.model`, `.tokenizer`, its generation arguments) generates
length-sorted batches of prompts, left-padded, with the same sampling settings and penalties as chat
(reusing the backend's own generation arguments); any other backend (an OpenAI-compatible endpoint,
llama.cpp) is asked one prompt at a time through `candidates`. A prompting mode (baselines.ModeBackend) is
applied first. The same seed, prompts and batch size give the same replies.

    replies = generate_replies(backend, [ex.prompt() for ex in heldout], GenerationOptions(max_tokens=48, seed=0))
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from ..backends.base import cut_at_stop
from ..config import GenerationOptions
from .baselines import ModeBackend, apply_all

Progress = Callable[[int], None]


def unwrap(backend) -> tuple[object, list]:
    """(the innermost backend, the prompting modes to apply, outermost first)."""
    modes = []
    while isinstance(backend, ModeBackend):
        modes.append(backend.mode)
        backend = backend.inner
    return backend, modes


def local_model(backend):
    """(model, tokenizer) when the backend runs a transformers model in this process, else None."""
    model, tokenizer = getattr(backend, "model", None), getattr(backend, "tokenizer", None)
    return (model, tokenizer) if model is not None and tokenizer is not None and hasattr(model, "generate") else None


def generate_replies(backend, prompts: Sequence[Sequence[dict]], options: GenerationOptions, batch_size: int = 8,
                     progress: Progress | None = None) -> list[str]:
    """One reply per prompt, in order."""
    inner, modes = unwrap(backend)
    conversations = [list(p) for p in prompts]
    for mode in modes:
        conversations = apply_all(mode, conversations)
    options = options.with_(n=1)
    if local_model(inner) is None or not hasattr(inner, "_generate_kwargs"):
        replies = []
        for conversation in conversations:
            replies.append(inner.candidates(conversation, options)[0].strip())
            if progress:
                progress(1)
        return replies
    return _batched(inner, conversations, options, batch_size, progress)


def _batched(backend, conversations: list[list[dict]], options: GenerationOptions, batch_size: int,
             progress: Progress | None) -> list[str]:
    import torch

    model, tokenizer = local_model(backend)
    texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    replies: list[str] = [""] * len(texts)
    seed = options.seed if options.seed is not None else 0
    for batch_no, start in enumerate(range(0, len(order), batch_size)):
        rows = order[start:start + batch_size]
        enc = tokenizer([texts[i] for i in rows], return_tensors="pt", padding=True, add_special_tokens=False,
                        padding_side="left")
        width = enc["input_ids"].shape[1]
        kwargs = backend._generate_kwargs(width, options)       # the backend's own sampling and penalties
        torch.manual_seed(seed + batch_no)
        with torch.inference_mode():
            out = model.generate(input_ids=enc["input_ids"].to(model.device),
                                 attention_mask=enc["attention_mask"].to(model.device), **kwargs)
        decoded = tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
        for i, text in zip(rows, decoded):
            replies[i] = cut_at_stop(text, options.stop)[0].strip()
        if progress:
            progress(len(rows))
    return replies
