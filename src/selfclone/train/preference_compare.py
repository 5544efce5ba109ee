"""Comparing a refined policy with the one it came from, and the simulated ranker used when no person ranks.

The simulated ranker (clearly a stand-in for a person): candidates are ordered by the cosine similarity of
their embedding (all-MiniLM-L6-v2, offline) to the person's real reply to the same prompt. It needs prompts
that come with a real reply (chat JSONL, held-out files). It is used by `selfclone bench preference` and
`selfclone refine --simulate`, and its verdicts are always labelled simulated.

A comparison writes one reply per held-out prompt with each model (greedy decoding, so both are judged on
their most likely reply) and reports the newer model's win rate (a tie counts half) as judged by the reward
model and by the simulated ranker, plus the held-out loss of the person's real replies under each model.

    judges = Judges(reward=RewardScorer("runs/RM"), simulated=True)
    result = compare(old_backend, new_backend, heldout_examples, judges)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..dataset.chat import Example
from ..errors import DataError

REPLY_OPTIONS = dict(max_tokens=60, temperature=0.0, no_repeat_ngram_size=4)


def similarities(texts: Sequence[str], reference: str) -> list[float]:
    from ..evaluate.similarity import similarity

    return [float(x) for x in similarity(list(texts), [reference] * len(texts))]


def simulated_order(candidates: Sequence[str], reference: str | None) -> list[int]:
    """Candidate indexes, most similar to the real reply first (the simulated person's ranking)."""
    if not reference:
        raise DataError("simulated ranking needs the person's real reply for each prompt",
                        "rank from a chat JSONL (--prompts FILE.jsonl) or the workspace's held-out files")
    scores = similarities(candidates, reference)
    return sorted(range(len(candidates)), key=lambda i: -scores[i])


def win_rate(new: Sequence[float], old: Sequence[float]) -> float:
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in zip(new, old, strict=True))
    return wins / max(len(new), 1)


def heldout_loss(model, tokenizer, examples: Sequence[Example]) -> float:
    from .. import models
    from .batching import encode_all
    from .loss import evaluate

    encoded = encode_all(tokenizer, list(examples), models.context_length(model))
    return evaluate(model, encoded, tokenizer.pad_token_id, batch_size=16)["loss"]


def replies(backend, examples: Sequence[Example], on_reply=None) -> list[str]:
    from ..backends.base import GenerationOptions

    options = GenerationOptions(**REPLY_OPTIONS)
    out = []
    for example in examples:
        out.append("".join(backend.chat(example.prompt(), options)).strip())
        if on_reply:
            on_reply()
    return out


@dataclass
class Judges:
    reward: object | None = None        # a reward.RewardScorer
    simulated: bool = False


def compare(old_backend, new_backend, examples: Sequence[Example], judges: Judges, on_reply=None,
            old_replies: list[str] | None = None) -> dict:
    """The new model against the old on held-out examples; pass `old_replies` to reuse the old model's replies."""
    if not examples:
        raise DataError("no held-out examples to compare on", "put a held-out chat JSONL in the workspace's data/")
    old = old_replies if old_replies is not None else replies(old_backend, examples, on_reply)
    new = replies(new_backend, examples, on_reply)
    result = {"prompts": len(examples), "old_replies": old, "new_replies": new,
              "old_heldout_loss": heldout_loss(old_backend.model, old_backend.tokenizer, examples),
              "new_heldout_loss": heldout_loss(new_backend.model, new_backend.tokenizer, examples)}
    prompts = [e.prompt() for e in examples]
    if judges.reward is not None:
        old_r, new_r = judges.reward.score(prompts, old), judges.reward.score(prompts, new)
        result |= {"win_rate_reward_model": win_rate(new_r, old_r),
                   "old_mean_reward": sum(old_r) / len(old_r), "new_mean_reward": sum(new_r) / len(new_r)}
    if judges.simulated:
        from ..evaluate.similarity import similarity

        real = [e.reply() for e in examples]
        old_s, new_s = [float(x) for x in similarity(old, real)], [float(x) for x in similarity(new, real)]
        result |= {"win_rate_simulated": win_rate(new_s, old_s), "old_similarity": sum(old_s) / len(old_s),
                   "new_similarity": sum(new_s) / len(new_s)}
    return result
