"""Packing: several examples in one fixed-length row, each attending only to itself (block-diagonal attention).

Padding a batch to its longest member wastes compute on pad tokens; packing first-fit-decreasing into rows of
`row_length` tokens wastes almost none. Each example's positions restart at 0, and with no attention mask the
model's own masking (transformers' `find_packed_sequence_indices`) turns those restarts into a block-diagonal
causal mask, for SDPA and eager attention alike; flash-attention kernels read the same positions as varlen.
`segments` says which example each token belongs to, so per-sequence accuracy stays per example.

    rows = pack_rows([len(e) for e in encoded], row_length=1024)
    ids, positions, labels, segments = collate_packed([encoded[i] for i in rows[0]], pad_id, 1024)
    out = forward_selected(model, ids, None, labels, position_ids=positions, segments=segments)
"""
from __future__ import annotations

from collections.abc import Sequence

from .batching import IGNORE, Encoded


def pack_rows(lengths: Sequence[int], row_length: int) -> list[list[int]]:
    """Indices grouped first-fit decreasing into rows of at most `row_length` tokens (order: longest first)."""
    rows: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True):
        if lengths[i] > row_length:
            raise ValueError(f"example {i} has {lengths[i]} tokens, more than the row length {row_length}")
        for r, free in enumerate(room):
            if lengths[i] <= free:
                rows[r].append(i)
                room[r] -= lengths[i]
                break
        else:
            rows.append([i])
            room.append(row_length - lengths[i])
    return rows


def collate_packed(items: Sequence[Encoded], pad_id: int, row_length: int | None = None, multiple: int = 8):
    """One row: input_ids, position_ids, labels and segments tensors of shape [1, width].

    The tail after the last example is padding with its own positions (a segment of its own, never trained),
    so it cannot leak into any example's attention.
    """
    import torch

    used = sum(len(x) for x in items)
    width = row_length or -(-used // multiple) * multiple
    ids, positions, labels, segments = [], [], [], []
    for n, item in enumerate(items):
        ids += item.input_ids
        labels += item.labels
        positions += range(len(item))
        segments += [n] * len(item)
    tail = width - used
    ids += [pad_id] * tail
    labels += [IGNORE] * tail
    positions += range(tail)
    segments += [len(items)] * tail
    as_row = lambda values: torch.tensor([values], dtype=torch.long)  # noqa: E731
    return as_row(ids), as_row(positions), as_row(labels), as_row(segments)


def step_inputs(items: Sequence[Encoded], pad_id: int, packed: bool, device) -> tuple[dict, int]:
    """forward_selected's keyword arguments for one step's examples (one packed row, or a padded batch), and
    the number of real (non-padding) tokens in them."""
    from .batching import collate

    if packed:
        ids, positions, labels, segments = collate_packed(items, pad_id)
        inputs = {"input_ids": ids, "attention_mask": None, "labels": labels, "position_ids": positions,
                  "segments": segments}
    else:
        ids, mask, labels = collate(items, pad_id)
        inputs = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    moved = {k: (v.to(device) if v is not None and k != "segments" else v) for k, v in inputs.items()}
    return moved, sum(len(x) for x in items)
