"""Deterministic train/validation splits: the same seed and data give the same split on every machine."""
from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

MIN_FOR_AUTO_VALIDATION = 50


def split(items: Sequence[T], fraction: float = 0.1, seed: int = 42) -> tuple[list[T], list[T]]:
    """Shuffle with `seed` and hold out `fraction` (at least one item when fraction > 0)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_valid = max(1, round(len(items) * fraction)) if fraction > 0 and len(items) > 1 else 0
    held = set(order[:n_valid])
    return ([x for i, x in enumerate(items) if i not in held], [x for i, x in enumerate(items) if i in held])


def auto_validation(items: Sequence[T], seed: int = 42) -> tuple[list[T], list[T]]:
    """Hold out a seeded 10% once there are at least 50 examples; below that, train on everything."""
    if len(items) < MIN_FOR_AUTO_VALIDATION:
        return list(items), []
    return split(items, 0.1, seed)
