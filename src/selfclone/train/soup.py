"""The soup: the clone is the average of two trainings of the same start, the first pass's best step and the refit.

Both start from the same weights and see the same person, one on nine tenths of the examples (stopped where the
validation loss was lowest), the other on all of them. Averaging two such fine-tunes is a "model soup" (Wortsman
et al., 2022): on the demo and the benchmark personas the average's held-out loss was lower than the refit's in
11 of 12 runs measured, the 12th within noise (docs/BENCHMARKS.md, "The soup"); it costs no training.

LoRA adapters are averaged exactly: the update 0.5 (B1 A1 + B2 A2) is one adapter of twice the rank, A = [A1; A2]
and B = [B1, B2] / 2 with the scaling folded in (peft's `add_weighted_adapter(..., combination_type="cat")`), so the
clone's adapter has rank 2r. Full fine-tunes average their weights.

    soup.average(model, first_weights, full=False)   # model holds the refit's weights; first_weights the best step's
"""
from __future__ import annotations

ADAPTER = "default"


def average(model, first: dict, full: bool) -> int | None:
    """Make `model` (holding the refit's trainable weights) the average of itself and `first` (name -> tensor of
    the same trainable weights). Returns the LoRA rank the clone now has, or None for a full fine-tune."""
    import warnings

    import torch

    params = dict(model.named_parameters())
    if full:
        with torch.no_grad():
            for name, value in first.items():
                params[name].mul_(0.5).add_(value.to(params[name].device, params[name].dtype), alpha=0.5)
        return None
    config = model.peft_config[ADAPTER]
    with warnings.catch_warnings():                   # peft warns each time the active adapter is deleted
        warnings.simplefilter("ignore", UserWarning)
        return _cat(model, first, config)


def _cat(model, first: dict, config) -> int:
    import torch

    model.add_adapter("first", config)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in first.items():
            params[name.replace(f".{ADAPTER}.", ".first.")].copy_(value)
    model.add_weighted_adapter([ADAPTER, "first"], [0.5, 0.5], "soup", combination_type="cat")
    model.delete_adapter("first")
    model.delete_adapter(ADAPTER)
    # one adapter, weight 1: an exact copy (the scaling is 1 in the soup), under the name every clone's adapter has
    model.add_weighted_adapter(["soup"], [1.0], ADAPTER, combination_type="linear")
    model.delete_adapter("soup")
    model.set_adapter(ADAPTER)
    merged = model.peft_config[ADAPTER]
    merged.target_modules = config.target_modules    # as trained, not the union pattern the combination writes
    return merged.r
