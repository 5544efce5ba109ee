"""The Backend protocol and the generation options every backend understands.

A Backend turns chat messages into text. `chat` streams one reply as text pieces; `candidates` returns
`options.n` complete replies. Servers, bots, evaluation and preference ranking use only this interface.

    backend = open_backend("smollm2-135m")
    for piece in backend.chat([{"role": "user", "content": "hi"}], GenerationOptions(max_tokens=20)):
        print(piece, end="")
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from ..config import GenerationOptions  # noqa: F401  (the one options type; backends take it from here too)


@runtime_checkable
class Backend(Protocol):
    name: str

    def chat(self, messages: Sequence[dict], options: GenerationOptions) -> Iterator[str]:
        """Stream one reply to `messages` as text pieces."""

    def candidates(self, messages: Sequence[dict], options: GenerationOptions) -> list[str]:
        """Return `options.n` complete replies."""


def candidates_by_streaming(backend: Backend, messages: Sequence[dict], options: GenerationOptions) -> list[str]:
    """A `candidates` for backends that only stream: n calls, with seeds n apart when a seed is set."""
    out = []
    for i in range(options.n):
        seed = None if options.seed is None else options.seed + i
        out.append("".join(backend.chat(messages, replace(options, n=1, seed=seed))))
    return out


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut `text` at the first stop string; returns (text, stopped)."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
