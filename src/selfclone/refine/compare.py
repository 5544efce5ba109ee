"""Comparing a refined policy with the one it came from, and the simulated ranker used when no person ranks.

The simulated ranker (clearly a stand-in for a person): candidates are ordered by the cosine similarity of
their embedding (all-MiniLM-L6-v2, offline) to the person's real reply to the same prompt. It needs prompts
that come with a real reply (chat JSONL, held-out files). It is used by `selfclone bench preference` and
`selfclone refine --simulate`, and its verdicts are always labelled simulated.

A comparison runs `selfclone eval`'s comparison (evaluate/compare.py) on the two models: one greedy reply per
held-out prompt from each (batched), the held-out loss of the person's real replies, similarity to them and
the attribution rate; then it adds the newer model's per-prompt win rate (a tie counts half) as judged by the
reward model and by the simulated ranker.

    judges = Judges(reward=RewardScorer("runs/RM"), simulated=True)
    result = compare(old_backend, new_backend, heldout_examples, judges)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..dataset.chat import Example
from ..errors import DataError
from ..train.reward import win_rate


def simulated_order(candidates: Sequence[str], reference: str | None) -> list[int]:
    """Candidate indexes, most similar to the real reply first (the simulated person's ranking)."""
    if not reference:
        raise DataError("simulated ranking needs the person's real reply for each prompt",
                        "rank from a chat JSONL (--prompts FILE.jsonl) or the workspace's held-out files")
    from ..evaluate.similarity import similarity

    scores = [float(x) for x in similarity(list(candidates), [reference] * len(candidates))]
    return sorted(range(len(candidates)), key=lambda i: -scores[i])


@dataclass
class Judges:
    reward: object | None = None        # a reward.RewardScorer
    simulated: bool = False


def compare(old_backend, new_backend, examples: Sequence[Example], judges: Judges,
            train: Sequence[Example] | None = None, max_tokens: int = 60) -> dict:
    """The new model against the old on held-out examples, through `selfclone eval`'s comparison (held-out loss,
    similarity, attribution rate when `train` is given), plus per-prompt win rates by the judges."""
    from ..config import GenerationOptions
    from ..evaluate.compare import Entrant
    from ..evaluate.compare import compare as evaluate_models
    from ..evaluate.similarity import similarity

    if not examples:
        raise DataError("no held-out examples to compare on", "put a held-out chat JSONL in the workspace's data/")
    options = GenerationOptions(max_tokens=max_tokens, temperature=0.0, no_repeat_ngram_size=4, seed=0)
    result = evaluate_models([Entrant("old", old_backend), Entrant("new", new_backend)], examples, train, options)
    out = {"prompts": len(examples), "attribution_ceiling": result.attribution_ceiling}
    for side, model in zip(("old", "new"), result.results, strict=True):
        out[f"{side}_replies"] = model.replies
        for key in ("heldout_loss", "similarity", "attribution_rate", "style_distance"):
            out[f"{side}_{key}"] = model.metrics.get(key)
    old, new = out["old_replies"], out["new_replies"]
    prompts = [e.prompt() for e in examples]
    if judges.reward is not None:
        old_r, new_r = judges.reward.score(prompts, old), judges.reward.score(prompts, new)
        out |= {"win_rate_reward_model": win_rate(new_r, old_r),
                "old_mean_reward": sum(old_r) / len(old_r), "new_mean_reward": sum(new_r) / len(new_r)}
    if judges.simulated:
        real = [e.reply() for e in examples]
        out["win_rate_simulated"] = win_rate([float(x) for x in similarity(new, real)],
                                             [float(x) for x in similarity(old, real)])
    return out
