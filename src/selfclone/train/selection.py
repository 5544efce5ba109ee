"""Best checkpoint by validation loss, and early stopping: what `--select best` and `--patience N` do.

    stop = observe(run, state, step, valid_loss, model, patience)   # after each evaluation
    chosen = restore_best(run, model, state)                        # before saving the adapter

Each new lowest validation loss (after step 0) saves the trainable weights to RUN_DIR/checkpoints/best; the
counters live in the training state, so they travel with every resumable checkpoint and a resumed run picks
the same step. Step 0 (the untouched base) never counts: a clone is always something trained.
"""
from __future__ import annotations

import json

from . import checkpoint
from .rundir import RunDir


def best_dir(run: RunDir):
    return run.checkpoints / "best"


def observe(run: RunDir, state: dict, step: int, loss: float, model, patience: int) -> bool:
    """Record one validation loss; keep the weights when it is the lowest so far. True: stop training now."""
    if step == 0:
        return False
    best = state.get("best_valid_loss")
    if best is None or loss < best:
        state.update(best_valid_loss=loss, best_step=step, evals_since_best=0)
        checkpoint.save_weights(best_dir(run), model, {"step": step, "valid_loss": loss})
        return False
    state["evals_since_best"] = state.get("evals_since_best", 0) + 1
    return patience > 0 and state["evals_since_best"] >= patience


def restore_best(run: RunDir, model, state: dict) -> dict:
    """Load the best weights into `model` when they differ from its own; returns what was selected."""
    path = best_dir(run)
    step = state.get("best_step")
    if step is None or not (path / "state.json").exists():
        return {"select": "last", "selected_step": state["step"], "selection_note": "no validation loss after step 0"}
    saved = json.loads((path / "state.json").read_text())["step"]
    if saved != step:          # a crash between saving best and the resumable checkpoint
        return {"select": "last", "selected_step": state["step"],
                "selection_note": f"the best weights on disk are from step {saved}, not {step}"}
    if step != state["step"]:
        checkpoint.load_weights(path, model)
    return {"select": "best", "selected_step": step, "selected_valid_loss": state["best_valid_loss"]}
