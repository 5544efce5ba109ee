"""The Backend protocol and the generation options every backend understands.

A Backend turns chat messages into text. `chat` streams one reply as text pieces; `candidates` returns
`options.n` complete replies. Servers, bots, evaluation and preference ranking use only this interface.

    backend = open_backend("smollm2-135m")
    for piece in backend.chat([{"role": "user", "content": "hi"}], GenerationOptions(max_tokens=20)):
        print(piece, end="")
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from ..errors import BackendError


@dataclass(frozen=True)
class GenerationOptions:
    max_tokens: int = 96
    temperature: float = 0.7
    top_p: float = 0.9
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    n: int = 1
    no_repeat_ngram_size: int = 0
    seed: int | None = None

    def __post_init__(self):
        if self.max_tokens < 1:
            raise BackendError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise BackendError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise BackendError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.n < 1:
            raise BackendError(f"n must be >= 1, got {self.n}")
        for name in ("presence_penalty", "frequency_penalty"):
            if not -2 <= getattr(self, name) <= 2:
                raise BackendError(f"{name} must be in [-2, 2] (OpenAI's range), got {getattr(self, name)}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def with_(self, **changes) -> "GenerationOptions":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_defaults(cls, defaults, **overrides) -> "GenerationOptions":
        """Build from a config.GenerationDefaults plus explicit overrides (None means: keep the default)."""
        base = {f: getattr(defaults, f) for f in ("max_tokens", "temperature", "top_p", "presence_penalty",
                                                   "frequency_penalty", "no_repeat_ngram_size")}
        base.update({k: v for k, v in overrides.items() if v is not None})
        if "stop" in base:
            base["stop"] = tuple(base["stop"])
        return cls(**base)


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


@dataclass
class ChatSession:
    """A conversation with memory of the last `memory` exchanges and a context (system/persona) prompt."""

    backend: Backend
    options: GenerationOptions
    context: str | None = None
    memory: int = 4
    history: list[dict] = field(default_factory=list)

    def messages_for(self, user_text: str) -> list[dict]:
        window = self.history[-2 * self.memory:] if self.memory > 0 else []
        system = [{"role": "system", "content": self.context}] if self.context else []
        return system + window + [{"role": "user", "content": user_text}]

    def send(self, user_text: str) -> Iterator[str]:
        """Stream the reply to `user_text`, then remember both turns."""
        pieces = []
        for piece in self.backend.chat(self.messages_for(user_text), self.options):
            pieces.append(piece)
            yield piece
        self.history += [{"role": "user", "content": user_text}, {"role": "assistant", "content": "".join(pieces)}]

    def reset(self) -> None:
        self.history.clear()

    def transcript(self) -> list[dict]:
        system = [{"role": "system", "content": self.context}] if self.context else []
        return system + list(self.history)
