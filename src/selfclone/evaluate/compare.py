"""Every metric for several models on the person's real held-out replies, in one table (`selfclone eval`).

For each entrant (a clone, a base model, or a base model in a prompting mode):
  heldout_loss, perplexity  how surprising the real replies are to the model (local models only)
  attribution_rate          share of its replies the style classifier gives to the person (ceiling: the
                            real held-out replies' share, `attribution_ceiling`)
  similarity                mean embedding cosine of each reply to the real reply to the same prompt
  style_distance            mean KS statistic over length, punctuation, emoji and casing distributions

    result = compare([Entrant("ft:...", backend)], heldout, train, GenerationOptions(max_tokens=48, seed=0))
    result.to_dict()["models"]["ft:..."]["similarity"]
"""
from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .. import machine
from ..config import GenerationOptions
from ..dataset.chat import Example, assistant_texts
from ..errors import DataError
from .generate import generate_replies, local_model, unwrap
from .heldout import heldout_loss
from .similarity import similarity
from .style import AttributionClassifier, generic_assistant_replies, style_distance, style_summary

METRICS = ("heldout_loss", "perplexity", "attribution_rate", "similarity", "style_distance")
LOWER_IS_BETTER = {"heldout_loss", "perplexity", "style_distance"}


@dataclass
class Entrant:
    name: str
    backend: object          # a Backend, maybe a baselines.ModeBackend around a local one


@dataclass
class ModelResult:
    name: str
    metrics: dict
    replies: list[str]
    style: dict = field(default_factory=dict)       # per-feature KS statistics
    seconds: float = 0.0


@dataclass
class Comparison:
    heldout: list[Example]
    results: list[ModelResult]
    attribution_ceiling: float | None
    info: dict

    @property
    def real(self) -> list[str]:
        return [e.reply() for e in self.heldout]

    def to_dict(self, samples: bool = False) -> dict:
        out = {"examples": len(self.heldout), "attribution_ceiling": _clean(self.attribution_ceiling),
               "info": self.info, "models": {r.name: {k: _clean(r.metrics.get(k)) for k in METRICS}
                                            | {"style": {k: _clean(v) for k, v in r.style.items()}}
                                            for r in self.results}}
        if samples:
            out["samples"] = [{"prompt": e.prompt(), "real": e.reply(),
                               "replies": {r.name: r.replies[i] for r in self.results}}
                              for i, e in enumerate(self.heldout)]
        return out


def _clean(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def person_and_others(train: Sequence[Example]) -> tuple[list[str], list[str]]:
    """The person's replies (trained assistant turns) and other people's messages (user turns)."""
    others = [t.content for e in train for t in e.messages if t.role == "user" and t.content.strip()]
    return assistant_texts(train), others


def check_heldout(heldout: Sequence[Example], path=None) -> None:
    if not heldout:
        raise DataError("no held-out examples to evaluate on", "pass a --heldout file with the person's real replies",
                        path=path)
    for e in heldout:
        if not e.reply().strip():
            raise DataError("the last assistant turn (the real reply to compare with) is empty",
                            "give every held-out example the person's real reply, or drop it",
                            path=e.meta.get("path", path), line=e.meta.get("line"))


def compare(entrants: Sequence[Entrant], heldout: Sequence[Example], train: Sequence[Example] | None,
            options: GenerationOptions, *, batch_size: int = 8, reference=None, reference_prompts: int = 48,
            on_progress: Callable[[str, int, int], None] | None = None) -> Comparison:
    """Score every entrant on `heldout`; `train` (the person's training data) trains the style classifier.

    `reference` (a Backend, normally the base model) answers up to `reference_prompts` training prompts; its
    replies join the shipped generic-assistant set as the classifier's "assistant" class, so a clone that
    still writes like its base model is not counted as the person.
    """
    heldout = list(heldout)
    check_heldout(heldout)
    real = [e.reply() for e in heldout]
    prompts = [e.prompt() for e in heldout]

    def progress(stage: str, done: int, total: int) -> None:
        if on_progress:
            on_progress(stage, done, total)

    classifier, ceiling, assistant = None, None, generic_assistant_replies()
    if train:
        person, others = person_and_others(train)
        if reference is not None and reference_prompts > 0:
            sample = random.Random(options.seed or 0).sample(list(train), min(reference_prompts, len(train)))
            done = [0]

            def ref_step(n: int) -> None:
                done[0] += n
                progress("reference replies of the base model", done[0], len(sample))

            assistant = assistant + generate_replies(reference, [e.prompt() for e in sample], options, batch_size,
                                                     ref_step)
        classifier = AttributionClassifier.fit(person, others, assistant)
        ceiling = classifier.attribution_rate(real)

    results = []
    for entrant in entrants:
        started = time.perf_counter()
        metrics: dict = {}
        inner, modes = unwrap(entrant.backend)
        loaded = local_model(inner)
        if loaded is not None:
            progress(f"{entrant.name}: held-out loss", 0, len(heldout))
            transform = _compose(modes)
            loss = heldout_loss(*loaded, heldout, transform)
            metrics |= {"heldout_loss": loss["loss"], "perplexity": loss["perplexity"],
                        "token_accuracy": loss["token_accuracy"]}
        done = [0]

        def step(n: int, name=entrant.name) -> None:
            done[0] += n
            progress(f"{name}: replies", done[0], len(prompts))

        step(0)
        replies = generate_replies(entrant.backend, prompts, options, batch_size, step)
        sims = similarity(replies, real)
        style = style_distance(replies, real)
        metrics["similarity"] = float(sims.mean())
        metrics["style_distance"] = style.pop("style_distance")
        metrics["attribution_rate"] = classifier.attribution_rate(replies) if classifier else None
        results.append(ModelResult(entrant.name, metrics, replies, style, time.perf_counter() - started))
    info = {"machine": machine.describe(), "generation": {"max_tokens": options.max_tokens,
            "temperature": options.temperature, "top_p": options.top_p,
            "frequency_penalty": options.frequency_penalty, "seed": options.seed, "batch_size": batch_size},
            "train_examples": len(train or []), "assistant_reference": len(assistant), "style_real": style_summary(real),
            "style_models": {r.name: style_summary(r.replies) for r in results}}
    return Comparison(heldout, results, ceiling, info)


def _compose(modes: list):
    if not modes:
        return None

    def transform(messages: list[dict]) -> list[dict]:
        for mode in modes:
            messages = mode.apply(messages)
        return messages

    return transform
