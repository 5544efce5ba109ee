"""The learning-rate probe: a few real steps at each of several learning rates, from the same start, compared
on the validation split; the lowest validation loss picks the rate of the run.

train/recipe.py decides whether a run probes (enough data, the rate left at auto) and which multipliers and how
many steps (at most PROBE_BUDGET of the run's steps in all); train/sft.py runs it before the first step of a
new run and records the result in run.json, so a resumed run never probes again.

    result = run_probe(params, multipliers, steps, make_optimizer, train_step, score, reseed)
    result -> {"multipliers": [1.0, 2.0, 4.0], "steps": 5, "results": [{"multiplier": 1.0, "valid_loss": 3.91}, ...],
               "chosen": 2.0, "reason": "...", "seconds": 41.2}

Each candidate is a short run of its own: a fresh optimizer, one warm-up step and a cosine decay to zero over
`steps`, on the same first batches with the same dropout masks. Comparing annealed short runs rather than
losses in the middle of a high learning rate keeps the probe from simply preferring the largest rate.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

PROBE_BUDGET = 0.15          # the probe's optimizer steps, all candidates together, as a share of the run's


def run_probe(params: Sequence, multipliers: Sequence[float], steps: int,
              make_optimizer: Callable[[float, int], tuple], train_step: Callable[[int, object, object], float],
              score: Callable[[], float], reseed: Callable[[], None]) -> dict:
    """Try each multiplier for `steps` steps from the current weights of `params`; put the weights back.

    make_optimizer(multiplier, steps) -> (optimizer, scheduler); train_step(i, optimizer, scheduler) trains on
    the run's i-th batch and returns its loss; score() is the validation loss; reseed() puts the random state
    back where it was before the probe (so dropout is the same for every candidate and for the run after).
    """
    import torch

    started = time.perf_counter()
    start = [p.detach().clone() for p in params]
    results = []
    for multiplier in multipliers:
        reseed()
        optimizer, scheduler = make_optimizer(multiplier, steps)
        train_loss = math.nan
        for i in range(steps):
            train_loss = train_step(i, optimizer, scheduler)
            if not math.isfinite(train_loss):
                break
        valid_loss = score() if math.isfinite(train_loss) else math.inf
        results.append({"multiplier": multiplier, "valid_loss": valid_loss, "train_loss": train_loss})
        with torch.no_grad():
            for p, s in zip(params, start):
                p.copy_(s)
    reseed()
    finite = [r for r in results if math.isfinite(r["valid_loss"])]
    if not finite:
        chosen = min(multipliers)
        reason = f"every probed rate diverged; kept the lowest, x{chosen:g}"
    else:
        best = min(finite, key=lambda r: r["valid_loss"])
        chosen = best["multiplier"]
        losses = ", ".join(f"x{r['multiplier']:g} {r['valid_loss']:.3f}" for r in results)
        reason = f"validation loss after {steps} probe steps: {losses} -> x{chosen:g}"
    return {"multipliers": list(multipliers), "steps": steps, "results": results, "chosen": chosen,
            "reason": reason, "seconds": round(time.perf_counter() - started, 1)}
