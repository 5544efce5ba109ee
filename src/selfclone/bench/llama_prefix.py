"""A clone's system prompt, prefilled once, on llama-cpp-python's own `Llama` API: what `selfclone bench llama`
measures against a cold prompt. (The backend itself gets the same effect from its batching engine, which keeps the
prompt prefix decoded at load in a slot: backends/llamacpp_backend.py.)

A clone talks with the same system prompt in every conversation, so its tokens need evaluating once per loaded
model, not once per conversation. `prefill(llm, system)` evaluates the prefix at load and keeps a snapshot of its KV
cache (sequence 0, a few MB); `restore(llm, prefix, tokens)`, called before a generation whose prompt is `tokens`,
puts the snapshot back when the cache holds something else (another conversation's frame, a summariser prompt), so
llama-cpp-python's own longest-common-prefix check then evaluates only what follows the system prompt.

    prefix = prefill(llm, "You are Maggie, a lighthouse keeper.")
    restore(llm, prefix, prompt_tokens(llm, messages))       # then llm.create_chat_completion(messages, ...)

It works on a `llama_cpp.Llama` and touches only its public token bookkeeping (`input_ids`, `n_tokens`) plus the
flag that makes its next generate decode again (`_requires_eval`), as `Llama.load_state` does itself. The snapshot is
of sequence 0; a batching engine (backends/llamacpp_batch.py) can call `restore` before each generation the same way.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass

SENTINEL = "\u2063selfclone-prefix\u2063"     # a user message no template rewrites: where the prefix ends


@dataclass(frozen=True)
class Prefix:
    tokens: tuple[int, ...]          # the prompt tokens the snapshot holds (system prompt and what precedes the user)
    state: bytes                     # llama_state_seq_get_data of sequence 0 right after evaluating them

    def __len__(self) -> int:
        return len(self.tokens)


def _formatter(llm):
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def text(token: int) -> str:
        return llm.detokenize([token], special=True).decode("utf-8", "ignore") if token != -1 else ""

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    return Jinja2ChatFormatter(template=template, eos_token=text(llm.token_eos()), bos_token=text(llm.token_bos()))


def prompt_tokens(llm, messages) -> list[int]:
    """The tokens `create_chat_completion(messages)` evaluates, rendered with the GGUF's own chat template."""
    formatter = _formatter(llm)
    if formatter is None:
        return []
    prompt = formatter(messages=list(messages)).prompt
    return llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)


def _common(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def prefix_tokens(llm, system: str | None) -> list[int]:
    """The tokens every conversation with this system prompt starts with (the template's default one when None)."""
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": SENTINEL}]
    formatter = _formatter(llm)
    if formatter is None:
        return []
    text = formatter(messages=messages).prompt
    head = text[:text.index(SENTINEL)]
    full = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
    cut = llm.tokenize(head.encode("utf-8"), add_bos=False, special=True)
    return full[:_common(full, cut)]       # a token that merges across the cut is left to the conversation


def prefill(llm, system: str | None) -> Prefix | None:
    """Evaluate the system prefix now (at load) and keep its KV snapshot; None when the model has no template."""
    import llama_cpp

    tokens = prefix_tokens(llm, system)
    if len(tokens) < 2:
        return None
    llm.reset()
    llm.eval(tokens)
    ctx = llm._ctx.ctx
    size = llama_cpp.llama_state_seq_get_size(ctx, 0)
    buffer = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
    return Prefix(tuple(tokens), bytes(buffer[:written]))


def cached(llm, tokens) -> int:
    """How many leading tokens of `tokens` the model's KV cache already holds."""
    return _common(llm.input_ids[:llm.n_tokens].tolist(), tokens)


def restore(llm, prefix: Prefix | None, tokens) -> int:
    """Before generating from `tokens`: put the prefix's KV back if it covers more than the cache now holds.
    Returns the leading tokens that will not be evaluated again."""
    import llama_cpp

    have = cached(llm, tokens)
    if prefix is None or have >= len(prefix) or tuple(tokens[:len(prefix)]) != prefix.tokens:
        return have
    llm._ctx.kv_cache_clear()
    data = (ctypes.c_uint8 * len(prefix.state)).from_buffer_copy(prefix.state)
    if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, data, len(prefix.state), 0) != len(prefix.state):
        llm.reset()                # the cache is empty again: the prompt is evaluated in full, as without a prefix
        return 0
    llm.input_ids[:len(prefix)] = prefix.tokens
    llm.n_tokens = len(prefix)
    llm._requires_eval = True      # the logits are not the prefix's: generate decodes at least one token first
    return len(prefix)
