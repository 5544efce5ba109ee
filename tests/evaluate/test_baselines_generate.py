"""Prompting baselines rewrite the messages as documented; generation is seeded, batched and in order.

    /work/main/.venv/bin/pytest -q tests/evaluate/test_baselines_generate.py
"""
from __future__ import annotations

import pytest

from selfclone.config import GenerationOptions
from selfclone.backends.registry import open_backend
from selfclone.errors import ConfigError, DataError
from selfclone.evaluate.baselines import FewShot, ModeBackend, PersonaPrompt, Retrieval, make_mode
from selfclone.evaluate.generate import generate_replies

CONVERSATION = [{"role": "system", "content": "You are Maggie."}, {"role": "user", "content": "How are the bees?"}]


class RecordingBackend:
    """A real Backend that remembers what it was asked and answers with the number of messages."""

    name = "recording"

    def __init__(self):
        self.asked = []

    def chat(self, messages, options):
        self.asked.append(list(messages))
        yield str(len(messages))

    def candidates(self, messages, options):
        self.asked.append(list(messages))
        return [str(len(messages))] * options.n


def test_persona_prompt_replaces_the_system_prompt():
    mode = PersonaPrompt("You are Maggie, a beekeeper.")
    assert mode.apply(CONVERSATION) == [{"role": "system", "content": "You are Maggie, a beekeeper."},
                                        CONVERSATION[1]]
    assert mode.apply(CONVERSATION[1:])[0]["role"] == "system"
    with pytest.raises(ConfigError, match="description"):
        PersonaPrompt("  ")


def test_fewshot_puts_k_training_exchanges_after_the_system_prompt(demo_train):
    mode = FewShot(demo_train, k=3, seed=1)
    out = mode.apply(CONVERSATION)
    assert out[0] == CONVERSATION[0] and out[-1] == CONVERSATION[-1]
    shots = out[1:-1]
    assert [m["role"] for m in shots] == ["user", "assistant"] * 3
    replies = {e.reply() for e in demo_train}
    assert all(m["content"] in replies for m in shots if m["role"] == "assistant")
    assert FewShot(demo_train, k=3, seed=1).apply(CONVERSATION) == out           # same seed, same shots
    assert FewShot(demo_train, k=3, seed=2).apply(CONVERSATION) != out
    with pytest.raises(DataError, match="--train"):
        FewShot([], k=3)


@pytest.mark.slow
def test_retrieval_brings_the_most_similar_training_exchange_closest(demo_train):
    mode = Retrieval(demo_train, k=2)
    target = next(e for e in demo_train if "navy" in e.prompt()[-1]["content"].lower())
    question = target.prompt()[-1]["content"]
    out = mode.apply([CONVERSATION[0], {"role": "user", "content": question}])
    assert len(out) == 1 + 4 + 1
    assert out[-2] == {"role": "assistant", "content": target.reply()}       # the identical question wins
    assert out[-3]["content"] == question


def test_mode_backend_rewrites_what_the_wrapped_backend_sees(demo_train):
    inner = RecordingBackend()
    wrapped = ModeBackend(inner, make_mode("fewshot", train=demo_train, k=2))
    assert wrapped.candidates(CONVERSATION, GenerationOptions()) == ["6"]
    assert "".join(wrapped.chat(CONVERSATION, GenerationOptions())) == "6"
    assert len(inner.asked[0]) == 6 and inner.asked[0][-1] == CONVERSATION[-1]
    assert make_mode("base") is None
    with pytest.raises(ConfigError, match="unknown baseline"):
        make_mode("telepathy")


def test_a_remote_style_backend_is_asked_one_prompt_at_a_time_through_the_mode():
    inner = RecordingBackend()
    replies = generate_replies(ModeBackend(inner, PersonaPrompt("P")), [CONVERSATION, CONVERSATION[1:]],
                               GenerationOptions(max_tokens=5))
    assert replies == ["2", "2"]
    assert all(asked[0] == {"role": "system", "content": "P"} for asked in inner.asked)
    echo = generate_replies(open_backend("echo", "echo"), [CONVERSATION], GenerationOptions(max_tokens=5))
    assert echo == ["echo: How are the bees? #0"]


def test_batched_generation_is_seeded_and_keeps_the_order(tiny_backend, demo_heldout):
    prompts = [e.prompt() for e in demo_heldout[:5]]
    options = GenerationOptions(max_tokens=6, temperature=0.8, seed=3)
    first = generate_replies(tiny_backend, prompts, options, batch_size=2)
    assert len(first) == 5 and all(isinstance(r, str) for r in first)
    assert generate_replies(tiny_backend, prompts, options, batch_size=2) == first      # same seed, same replies
    assert generate_replies(tiny_backend, prompts, options.with_(seed=4), batch_size=2) != first
    # order is kept although prompts are batched by length: greedy replies match one-at-a-time generation
    greedy = GenerationOptions(max_tokens=5, temperature=0.0)
    together = generate_replies(tiny_backend, prompts, greedy, batch_size=5)
    alone = [tiny_backend.candidates(p, greedy)[0].strip() for p in prompts]
    assert together == alone
