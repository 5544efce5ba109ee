"""A training run's directory: run.json, metrics.jsonl, curves.png, TensorBoard events, checkpoints, results.

    runs/20261121-231501-a3f9/
      run.json            what was trained on what, with which settings; status; summary
      metrics.jsonl       one JSON object per step and per evaluation
      curves.png          the curves, redrawn at each evaluation
      tensorboard/        event files (`tensorboard --logdir runs/`)
      checkpoints/step-N/ trainable weights, optimizer, scheduler and RNG state: what `--resume` needs
      adapter/            the LoRA adapter (peft), when training LoRA
      model/              a standalone model (full fine-tuning, or LoRA with --merge)
      tokenizer/
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
from datetime import datetime, timezone
from pathlib import Path

from ..errors import TrainingError
from ..fileio import atomic_open, read_jsonl_prefix, write_json


def new_run_id() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


class RunDir:
    def __init__(self, path: Path):
        self.path = Path(path)

    # --- layout ----------------------------------------------------------------------------------
    @property
    def info_path(self) -> Path:
        return self.path / "run.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def curves_path(self) -> Path:
        return self.path / "curves.png"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.path / "adapter"

    @property
    def model(self) -> Path:
        return self.path / "model"

    @property
    def tokenizer(self) -> Path:
        return self.path / "tokenizer"

    # --- run.json --------------------------------------------------------------------------------
    def create(self, info: dict) -> dict:
        if self.info_path.exists():
            raise TrainingError(f"{self.path} already holds a run",
                                f"continue it with `selfclone train --resume {self.path}`, or choose another --out")
        self.path.mkdir(parents=True, exist_ok=True)
        info = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "status": "created"} | info
        write_json(self.info_path, info)
        return info

    def info(self) -> dict:
        if not self.info_path.exists():
            raise TrainingError(f"{self.path} is not a run directory (no run.json)", "pass the folder `selfclone train` made")
        return json.loads(self.info_path.read_text())

    def update(self, **changes) -> dict:
        info = self.info() | changes
        write_json(self.info_path, info)
        return info

    def status(self) -> str:
        """run.json's status, except that a "running" run nobody holds the lock of was killed: "interrupted"."""
        status = self.info().get("status", "?")
        if status == "running" and not self._locked_by_someone():
            return "interrupted"
        return status

    # --- the lock: one process trains a run at a time --------------------------------------------
    @property
    def lock_path(self) -> Path:
        return self.path / ".lock"

    @contextlib.contextmanager
    def lock(self):
        """Hold the run for this process; a second `--resume` of the same run is refused instead of writing
        the same steps twice. The kernel drops the lock when the process dies, however it dies."""
        self.path.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a+", encoding="utf-8") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise TrainingError(f"{self.path} is being trained by {holder} right now",
                                    "wait for it to finish, or stop it (Ctrl-C) and resume again") from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"process {os.getpid()}")
            fh.flush()
            try:
                yield self
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _locked_by_someone(self) -> bool:
        if not self.lock_path.exists():
            return False
        with self.lock_path.open("a+", encoding="utf-8") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
            return False

    # --- metrics ---------------------------------------------------------------------------------
    def append_metrics(self, row: dict) -> None:
        with self.metrics_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()

    def read_metrics(self) -> list[dict]:
        return read_jsonl_prefix(self.metrics_path)

    def truncate_metrics(self, last_step: int) -> None:
        """On resume, drop rows logged after the checkpoint we continue from (they will be redone)."""
        rows = [r for r in self.read_metrics() if r.get("step", 0) <= last_step]
        with atomic_open(self.metrics_path) as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")

    # --- checkpoints -----------------------------------------------------------------------------
    def checkpoint_dir(self, step: int) -> Path:
        return self.checkpoints / f"step-{step:06d}"

    def latest_checkpoint(self) -> Path | None:
        done = sorted(p for p in self.checkpoints.glob("step-*") if (p / "state.json").exists())
        return done[-1] if done else None

    def prune_checkpoints(self, keep: int) -> None:
        done = sorted(p for p in self.checkpoints.glob("step-*") if (p / "state.json").exists())
        for old in done[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
