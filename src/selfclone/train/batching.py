"""Chat examples -> token ids with labels on trained assistant turns only, and length-grouped batches.

Each assistant turn's tokens (its text and the end-of-turn token, so the clone learns when to stop) are
labelled; everything else is -100. Turns are rendered with the model's own chat template, the same one
chat uses, so training and talking frame text identically.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from ..dataset.chat import Example
from ..errors import DataError

IGNORE = -100


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)

    def __len__(self) -> int:
        return len(self.input_ids)


def _render(tokenizer, messages: list[dict], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def encode_example(tokenizer, example: Example) -> Encoded:
    """Render with the chat template turn by turn, labelling only the trained assistant spans."""
    msgs = [{"role": t.role, "content": t.content} for t in example.messages]
    ids: list[int] = []
    labels: list[int] = []
    done = ""

    def add(text: str, trained: bool) -> None:
        toks = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids.extend(toks)
        labels.extend(toks if trained else [IGNORE] * len(toks))

    for i, turn in enumerate(example.messages):
        if turn.role != "assistant":
            continue
        prompt = _render(tokenizer, msgs[:i], True)
        full = _render(tokenizer, msgs[: i + 1], False)
        if not prompt.startswith(done) or not full.startswith(prompt):
            raise DataError("the model's chat template does not render turns as prefixes of each other",
                            "use a model with a ChatML-like template, or one assistant turn per example")
        add(prompt[len(done):], False)
        add(full[len(prompt):], turn.trained)
        done = full
    return Encoded(ids, labels)


def encode_all(tokenizer, examples: Sequence[Example], max_length: int) -> list[Encoded]:
    out = []
    for ex in examples:
        enc = encode_example(tokenizer, ex)
        if len(enc) > max_length:
            where = ex.meta.get("path"), ex.meta.get("line")
            raise DataError(f"the example is {len(enc)} tokens, longer than the limit of {max_length}",
                            "shorten it or drop earlier turns (selfclone prepare finds all of them), "
                            "or raise --max-length up to the model's context", path=where[0], line=where[1])
        out.append(enc)
    return out


def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Shuffle, sort within mega-batches of 32 batches by length, split, shuffle the batches.

    Batches hold similar lengths (little padding) while the order stays random; the same seed and epoch give
    the same batches, which is what makes resuming exact.
    """
    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = batch_size * 32
    batches = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start:start + mega], key=lambda i: lengths[i], reverse=True)
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(items: Sequence[Encoded], pad_id: int, multiple: int = 8):
    """Right-pad to the longest item, rounded up to `multiple`: input_ids, attention_mask and labels tensors.

    Rounding keeps the number of distinct shapes small, so the CPU kernels built for a shape get reused.
    """
    import torch

    width = -(-max(len(x) for x in items) // multiple) * multiple
    input_ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, item in enumerate(items):
        n = len(item)
        input_ids[row, :n] = torch.tensor(item.input_ids)
        labels[row, :n] = torch.tensor(item.labels)
        mask[row, :n] = 1
    return input_ids, mask, labels
