"""The default recipe: epochs, learning rate and batch size chosen from the data when left at `auto`.

    choice = choose(train_examples, valid_examples, full=False)          # every setting auto
    choice = choose(train_examples, valid_examples, full=False, epochs=2)  # epochs fixed, the rest auto
    choice.settings   -> {"epochs": 3, "learning_rate_multiplier": 2.0, "batch_size": 8, "select": "best", ...}
    choice.reasons    -> ["epochs 3: 261 examples (100 to 499 -> 3 passes) ...", ...]

The rules come from the measurements in docs/BENCHMARKS.md ("Default recipe"): a small persona set is learned
in a few hundred optimizer steps at most, where 2e-4 (LoRA's usual rate) is still too timid for a 135M model
(the demo's validation loss was still falling after 3 epochs at 2e-4 and reached 30% lower at 4e-4). Because
the best checkpoint by validation loss is kept (train/selection.py), a generous epoch count costs time, not
quality, so small sets get more passes. Without a validation split nothing can be selected or stopped early:
the choice says so and keeps the last step. Nothing here loads a model; `selfclone train` prints the reasons.

With the learning rate at auto, at least MIN_PROBE_VALID validation examples and room for MIN_PROBE_STEPS steps per
candidate within PROBE_BUDGET of the run, the choice also asks for a measured probe (`lr_probe`, `probe_steps`):
train/sft.py tries x0.5, x1 and x2 of the rule's multiplier for a few steps and keeps the lowest validation loss.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..dataset.chat import Example
from ..dataset.split import MIN_FOR_AUTO_VALIDATION
from ..errors import ConfigError
from .lr_probe import PROBE_BUDGET

AUTO = "auto"
CHARS_PER_TOKEN = 3.6          # SmolLM2's tokenizer on English chat text, close enough for sizing a batch
TOKENS_PER_BATCH = 4096        # above this a CPU step stops getting cheaper per token and memory grows
DEFAULT_PATIENCE = 3           # evaluations (two per epoch) without a new lowest validation loss
PROBE_FACTORS = (0.5, 1.0, 2.0)   # probed multipliers, relative to the rule's choice
MIN_PROBE_STEPS = 4            # per candidate: fewer cannot tell the rates apart
MAX_PROBE_STEPS = 20
MIN_PROBE_VALID = 16           # validation examples: fewer make the comparison noise
SMALL_SET = 100                # fewer training examples: batch 4 and half the learning rate
REFIT_COST = 0.7               # the refit's time, as a share of the first run's (the best step is often at 2/3)


@dataclass(frozen=True)
class Choice:
    """The settings the recipe picked, and one sentence per setting saying why (stored in run.json)."""

    settings: dict
    reasons: list[str] = field(default_factory=list)
    auto: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"chosen": self.settings, "auto": list(self.auto), "reasons": self.reasons}


def parse_auto(value, kind: type, flag: str):
    """'auto' or None -> None (the recipe chooses); a number (or its text) -> that number; else a clear error."""
    if value is None or (isinstance(value, str) and value.strip().lower() == AUTO):
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{flag} must be 'auto' or a number, got {value!r}",
                          f"pass e.g. {flag} auto, or {flag} {kind(2)}") from None
    if number <= 0:
        raise ConfigError(f"{flag} must be > 0, got {value!r}", f"pass {flag} auto to let the recipe choose")
    return number


def estimated_tokens(example: Example) -> float:
    """Rendered length in tokens, estimated from characters (the tokenizer is not loaded before training)."""
    chars = sum(len(t.content) for t in example.messages) + 24 * len(example.messages)   # template per turn
    return chars / CHARS_PER_TOKEN


def _batch_size(n: int, tokens: float) -> tuple[int, str]:
    size = 4 if n < SMALL_SET else 8 if n < 2000 else 16
    why = f"{n} examples ({'< 100' if n < SMALL_SET else '100 to 1,999' if n < 2000 else '>= 2,000'} -> {size})"
    cap = max(1, int(TOKENS_PER_BATCH // max(tokens, 1.0)))
    if cap < size:
        size, why = cap, f"{tokens:.0f} tokens per example: {TOKENS_PER_BATCH} tokens per batch at most"
    return size, why


def _epochs(n: int, has_validation: bool) -> tuple[int, str]:
    if not has_validation:
        return 3, f"{n} examples and no validation split, so no best step can be picked: 3 passes, the last kept"
    epochs = 5 if n < 100 else 3 if n < 500 else 2 if n < 2000 else 1
    band = "< 100" if n < 100 else "100 to 499" if n < 500 else "500 to 1,999" if n < 2000 else ">= 2,000"
    return epochs, f"{n} examples ({band} -> {epochs} passes); the lowest validation loss is kept, so extra passes cost time only"


def _learning_rate(steps: int, full: bool, small_batch: bool = False) -> tuple[float, str]:
    if full:
        return 1.0, "full fine-tuning: 2e-5, the usual rate for every weight of a small model"
    multiplier = 2.0 if steps <= 400 else 1.5 if steps <= 1500 else 1.0
    why = f"{steps} optimizer steps (<= 400 -> x2, <= 1,500 -> x1.5, more -> x1)"
    if small_batch:     # Mistress Quickly, 62 examples at batch 4: x1 15.4% lower test loss, x2 13.9% (BENCHMARKS.md)
        multiplier /= 2
        why += f", halved for the half-size batch of a small set (fewer than {SMALL_SET} examples -> batch 4)"
    return multiplier, f"{why}: {multiplier * 2e-4:.0e} for LoRA"


def _probe(rule: float, steps: int, valid: int, full: bool) -> tuple[dict, str]:
    """Whether to probe the learning rate (train/lr_probe.py) around the rule's multiplier, and why (not)."""
    per_candidate = min(MAX_PROBE_STEPS, math.floor(PROBE_BUDGET * steps / len(PROBE_FACTORS)))
    if full:
        return {}, "no probe for full fine-tuning (it keeps the usual rate)"
    if valid < MIN_PROBE_VALID:
        return {}, (f"no probe: {valid} validation examples (a probe needs {MIN_PROBE_VALID}), so the rule's "
                    f"x{rule:g} stands")
    if per_candidate < MIN_PROBE_STEPS:
        return {}, (f"no probe: {steps} steps leave {per_candidate} per probed rate within "
                    f"{PROBE_BUDGET:.0%} of the run (it needs {MIN_PROBE_STEPS}), so the rule's x{rule:g} stands")
    multipliers = tuple(rule * f for f in PROBE_FACTORS)
    return ({"lr_probe": multipliers, "probe_steps": per_candidate},
            f"then a probe of {per_candidate} steps at each of {', '.join(f'x{m:g}' for m in multipliers)} picks "
            f"the one with the lowest validation loss ({len(multipliers) * per_candidate} steps, "
            f"<= {PROBE_BUDGET:.0%} of the run)")


def _refit(valid: int, select: str, valid_from_train: bool) -> tuple[bool, str]:
    """Whether to train again on train + validation once the best step is known (train/refit.py), and why."""
    if select != "best" or not valid:
        return False, "no refit: no best step is picked, so the validation examples have nothing left to give"
    if not valid_from_train:
        return False, "no refit: the validation file is yours and stays out of training"
    return True, (f"refit: the {valid} validation examples came out of your data; once the best step is known, "
                  f"training again from the start on train + validation to that point uses them too, and the "
                  f"clone is the average of both (about {1 + REFIT_COST:.1f}x the time; --no-refit to skip)")


def choose(train_examples: Sequence[Example], valid_examples: Sequence[Example], *, full: bool = False,
           epochs: int | None = None, learning_rate_multiplier: float | None = None, batch_size: int | None = None,
           select: str = "best", patience: int | None = None, refit: bool | None = None,
           valid_from_train: bool = False) -> Choice:
    """Fill every None setting from the data; the ones given are kept as they are. `valid_from_train`: the
    validation examples were split off the training data (so the refit may train on them)."""
    n = len(train_examples)
    if n == 0:
        raise ConfigError("no training examples to choose settings for", "pass a non-empty DATA.jsonl")
    has_validation = len(valid_examples) > 0
    tokens = sum(estimated_tokens(e) for e in train_examples) / n
    reasons, auto = [], []
    if batch_size is None:
        batch_size, why = _batch_size(n, tokens)
        reasons.append(f"batch size {batch_size}: {why}")
        auto.append("batch_size")
    if epochs is None:
        epochs, why = _epochs(n, has_validation)
        reasons.append(f"epochs {epochs}: {why}")
        auto.append("epochs")
    steps = math.ceil(n / batch_size) * epochs
    probe: dict = {}
    if learning_rate_multiplier is None:
        learning_rate_multiplier, why = _learning_rate(steps, full, "batch_size" in auto and n < SMALL_SET)
        probe, probe_why = _probe(learning_rate_multiplier, steps, len(valid_examples), full)
        reasons.append(f"learning rate x{learning_rate_multiplier:g}: {why}; {probe_why}")
        auto.append("learning_rate_multiplier")
    if select not in ("best", "last"):
        raise ConfigError(f"--select must be best or last, got {select!r}", "pass --select best (default) or last")
    if select == "best" and not has_validation:
        select = "last"
        reasons.append(f"select last: fewer than {MIN_FOR_AUTO_VALIDATION} examples and no --validation file, "
                       "so there is no validation loss to pick a checkpoint by")
    if patience is None:
        patience = DEFAULT_PATIENCE if has_validation else 0
        if has_validation:
            reasons.append(f"patience {patience}: stop after {patience} evaluations (2 per epoch) without a new "
                           "lowest validation loss")
    if refit is None:
        refit, why = _refit(len(valid_examples), select, valid_from_train)
        reasons.append(why)
        auto.append("refit")
    settings = {"epochs": epochs, "learning_rate_multiplier": learning_rate_multiplier, "batch_size": batch_size,
                "select": select, "patience": patience, "refit": bool(refit) and select == "best"} | probe
    return Choice(settings, reasons, tuple(auto))
