"""The refit: once the run has found the step of its lowest validation loss, train again from the untouched start
on the training and validation examples together, to the same point of the same learning-rate schedule.

A validation split carved from the person's own examples (dataset/split.py's auto_validation) costs them a tenth
of their data. It is needed to find the step; once the step is known it can be trained on as well. On the demo
persona this took the held-out loss from 29.5% to 30.3% below the base model's (docs/BENCHMARKS.md), for about
two thirds more training time. The recipe (train/recipe.py) asks for it when the validation examples came out
of the training data; a --validation file of the user's own is never trained on.

The refit is a run of its own inside the parent, RUN_DIR/refit: its own data (train + validation, plus the notes
drill), checkpoints and metrics, the rate the parent trained at (the probe's choice included), no validation and
no selection (its last step is kept). So an interrupted refit resumes with `selfclone train --resume RUN_DIR`
like any run. The clone is the average of its weights and the first pass's best step (train/soup.py: lower
held-out loss than the refit alone in 11 of 12 runs measured); the parent's run.json records it under summary.refit.

    extra = refit.run(parent, settings, selected_step, steps_per_epoch, schedule_steps, model, events, runs)
"""
from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

from ..dataset.chat import read_examples
from . import checkpoint, selection, soup
from .rundir import RunDir

REFIT_DIR = "refit"


def steps_for(selected_step: int, steps_per_epoch: int, schedule_steps: int, examples: int,
              batch_size: int) -> tuple[int, int]:
    """(steps to train, steps the schedule spans) on `examples`: the same point of the schedule, in epochs, as
    `selected_step` of `schedule_steps` at `steps_per_epoch`."""
    scale = math.ceil(examples / batch_size) / steps_per_epoch
    return max(1, round(selected_step * scale)), max(1, round(schedule_steps * scale))


def child(parent: RunDir) -> RunDir:
    return RunDir(parent.path / REFIT_DIR)


def _create(parent: RunDir, settings, selected_step: int, steps_per_epoch: int, schedule_steps: int) -> RunDir:
    from . import sft

    data = parent.path / "data"
    train = read_examples(data / "train.jsonl") + read_examples(data / "valid.jsonl")
    drill = read_examples(data / "drill.jsonl") if (data / "drill.jsonl").exists() else []
    steps, spans = steps_for(selected_step, steps_per_epoch, schedule_steps, len(train) + len(drill),
                             settings.batch_size)
    mine = dataclasses.replace(settings, refit=False, lr_probe=(), probe_steps=0, select="last", patience=0,
                               max_steps=steps, schedule_steps=spans, merge=False,
                               report_to=tuple(r for r in settings.report_to if r == "tensorboard") or ("none",))
    sub = child(parent)
    shutil.rmtree(sub.path, ignore_errors=True)     # a refit whose data was not all written: start it again
    folder = sub.path.with_name(f".{REFIT_DIR}.new")
    shutil.rmtree(folder, ignore_errors=True)
    made = sft.prepare_run(train, [], mine, folder, parent.path, {"refit_of": str(parent.path),
                                                                  "refit_of_step": selected_step}, drill)
    made.update(id=REFIT_DIR, name=f"{parent.info()['name']} (refit)")
    folder.rename(sub.path)                         # whole or not at all
    return sub


def run(parent: RunDir, settings, selected_step: int, steps_per_epoch: int, schedule_steps: int, model,
        events=None, workspace_runs: Path | None = None) -> dict:
    """Train the refit (or resume it, or take it as finished), make `model` the soup of its weights and the first
    pass's best step; what to record."""
    from . import sft

    sub = child(parent)
    if not (sub.info_path.exists() and (sub.path / "data" / "train.jsonl").exists()):
        sub = _create(parent, settings, selected_step, steps_per_epoch, schedule_steps)
    info = sub.info()
    if info.get("status") != "finished":
        try:
            sft.train(sub, events, workspace_runs, register=False)
        except sft.TrainingInterrupted as exc:
            parent.update(status="interrupted")
            raise sft.TrainingInterrupted(f"the refit on all {info['train_examples']} examples: {exc.message}",
                                          f"continue with `selfclone train --resume {parent.path}`") from None
        info = sub.info()
    checkpoint.load_weights(selection.best_dir(parent), model)    # also after a resume, which starts elsewhere
    first = checkpoint.trainable_state(model)
    checkpoint.load_weights(sub.latest_checkpoint(), model)
    rank = soup.average(model, first, settings.full)
    summary = info["summary"]
    return {"refit": {"examples": info["train_examples"], "steps": summary["steps"],
                      "schedule_steps": info["settings"]["schedule_steps"], "of_step": selected_step,
                      "train_seconds": summary["train_seconds"], "final_train_loss": summary["final_train_loss"],
                      "soup": {"of_step": selected_step, "lora_rank": rank}}}
