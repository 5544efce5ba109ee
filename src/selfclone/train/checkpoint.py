"""Checkpoints that make `selfclone train --resume` exact: trainable weights, optimizer, scheduler, RNG.

A checkpoint folder is written under a temporary name and renamed when complete, and its state.json is
written last: a folder without state.json is never trusted.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

from ..fileio import write_json


def trainable_state(model) -> dict:
    return {name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}


def save(path: Path, model, optimizer, scheduler, state: dict) -> None:
    import torch

    def extra(tmp: Path) -> None:
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "torch_rng": torch.get_rng_state(), "python_rng": random.getstate()}, tmp / "optim.pt")

    save_weights(path, model, state, extra)


def save_weights(path: Path, model, state: dict, extra=None) -> None:
    """The trainable weights and state.json only (the best checkpoint needs no optimizer); atomic. Under several
    processes only rank 0 writes (train/distributed.py): the others hold the same weights."""
    from safetensors.torch import save_file

    from .distributed import is_main_process

    if not is_main_process():
        return

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=path.parent))
    try:
        save_file({k: v.contiguous() for k, v in trainable_state(model).items()}, tmp / "trainable.safetensors")
        if extra is not None:
            extra(tmp)
        write_json(tmp / "state.json", state)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_weights(path: Path, model) -> dict:
    """Copy a checkpoint's trainable weights into `model`; returns its state.json."""
    import torch
    from safetensors.torch import load_file

    weights = load_file(path / "trainable.safetensors")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)
    return json.loads((path / "state.json").read_text())


def load(path: Path, model, optimizer, scheduler) -> dict:
    import torch

    state = load_weights(path, model)
    extra = torch.load(path / "optim.pt", weights_only=False)
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    torch.set_rng_state(extra["torch_rng"])
    random.setstate(extra["python_rng"])
    return state
