"""No-training baselines: the same base model, prompted instead of fine-tuned.

Each mode rewrites the chat messages before the model sees them:
  persona    the system prompt becomes the workspace's description of the person
  fewshot    k training exchanges (the same k for every prompt, chosen by seed) go before the conversation
  retrieval  the k training exchanges whose question is most similar (by embedding) to the last user
             message go before it, the most similar closest

`ModeBackend` wraps any Backend with a mode, so a baseline can be chatted with, judged or evaluated like a
clone; `held-out loss` uses the same rewrite (heldout.scored_example), so loss and replies see one prompt.

    persona = ModeBackend(open_backend("smollm2-135m"), PersonaPrompt(cfg.description))
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..backends.base import Backend
from ..config import GenerationOptions
from ..dataset.chat import Example
from ..errors import ConfigError, DataError

MODES = ("base", "persona", "fewshot", "retrieval")
DEFAULT_K = 4


def _without_system(messages: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    system = [m for m in messages[:1] if m["role"] == "system"]
    return system, list(messages[len(system):])


def exchange(example: Example) -> list[dict]:
    """The last user message and the reply to it: one shot of a few-shot prompt."""
    prompt = [m for m in example.prompt() if m["role"] != "system"]
    users = [m for m in prompt if m["role"] == "user"]
    question = [{"role": "user", "content": users[-1]["content"]}] if users else []
    return question + [{"role": "assistant", "content": example.reply()}]


@dataclass(frozen=True)
class PersonaPrompt:
    description: str
    name: str = "persona"

    def __post_init__(self):
        if not self.description.strip():
            raise ConfigError("the persona baseline needs a description of the person, and it is empty",
                              "set `description = \"...\"` in selfclone.toml (a few sentences in the second person: "
                              "\"You are ...\"), or pass --persona TEXT")

    def apply(self, messages: Sequence[dict]) -> list[dict]:
        _, rest = _without_system(messages)
        return [{"role": "system", "content": self.description}] + rest


class FewShot:
    name = "fewshot"

    def __init__(self, train: Sequence[Example], k: int = DEFAULT_K, seed: int = 0):
        if not train:
            raise DataError("the few-shot baseline needs training examples", "pass --train TRAIN.jsonl")
        picked = random.Random(seed).sample(list(train), min(k, len(train)))
        self.shots = [m for ex in picked for m in exchange(ex)]

    def apply(self, messages: Sequence[dict]) -> list[dict]:
        system, rest = _without_system(messages)
        return system + self.shots + rest


class Retrieval:
    name = "retrieval"

    def __init__(self, train: Sequence[Example], k: int = DEFAULT_K):
        from .similarity import embed

        if not train:
            raise DataError("the retrieval baseline needs training examples", "pass --train TRAIN.jsonl")
        self.k = k
        self.exchanges = [exchange(ex) for ex in train]
        self.vectors = embed([_question(x) for x in self.exchanges])

    def apply(self, messages: Sequence[dict]) -> list[dict]:
        return self.apply_all([messages])[0]

    def apply_all(self, conversations: Sequence[Sequence[dict]]) -> list[list[dict]]:
        """Rewrite many conversations with one embedding call (what batched evaluation uses)."""
        from .similarity import nearest

        queries = [_last_user(c) for c in conversations]
        rows = nearest(queries, self.vectors, self.k)
        out = []
        for conversation, row in zip(conversations, rows):
            system, rest = _without_system(conversation)
            shots = [m for i in reversed(row.tolist()) for m in self.exchanges[i]]     # most similar last
            out.append(system + shots + rest)
        return out


class Notes:
    """A model with the workspace's notes: the passages retrieved for the last user message in the system frame,
    as ChatSession puts them (persona/frame.py), so its replies and held-out loss compare with the model alone."""

    name = "notes"

    def __init__(self, retriever):
        self.retriever = retriever

    def apply(self, messages: Sequence[dict]) -> list[dict]:
        from ..persona.frame import reframed

        question = _last_user(messages)
        return reframed(messages, passages=self.retriever.passages_for(question) if question else [])


def _question(messages: list[dict]) -> str:
    return next((m["content"] for m in messages if m["role"] == "user"), "")


def _last_user(messages: Sequence[dict]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def apply_all(mode, conversations: Sequence[Sequence[dict]]) -> list[list[dict]]:
    batched = getattr(mode, "apply_all", None)
    return batched(conversations) if batched else [mode.apply(c) for c in conversations]


class ModeBackend:
    """A Backend that rewrites the messages with a prompting mode, then asks the backend it wraps."""

    def __init__(self, inner: Backend, mode):
        self.inner, self.mode = inner, mode
        self.name = f"{inner.name}+{mode.name}"
        self.model_name = f"{getattr(inner, 'model_name', inner.name)}+{mode.name}"

    def chat(self, messages: Sequence[dict], options: GenerationOptions) -> Iterator[str]:
        return self.inner.chat(self.mode.apply(messages), options)

    def candidates(self, messages: Sequence[dict], options: GenerationOptions) -> list[str]:
        return self.inner.candidates(self.mode.apply(messages), options)


def make_mode(name: str, *, description: str = "", train: Sequence[Example] = (), k: int = DEFAULT_K, seed: int = 0):
    """A prompting mode by name (None for `base`: the model as it is)."""
    if name == "base":
        return None
    if name == "persona":
        return PersonaPrompt(description)
    if name == "fewshot":
        return FewShot(train, k, seed)
    if name == "retrieval":
        return Retrieval(train, k)
    raise ConfigError(f"unknown baseline {name!r}", f"choose from: {', '.join(MODES)} (comma-separated), or none")
