"""Training in several processes through Accelerate (DDP; FSDP and DeepSpeed through Accelerate's configs).

    selfclone train DATA.jsonl --launcher accelerate [--accelerate-config FILE] [--processes 2]
    accelerate launch -m selfclone train DATA.jsonl          # the same, started by hand

The training loop (sft.py) talks to a `Group`, which in one process is a thin pass-through and under a launcher
(WORLD_SIZE > 1) holds an `accelerate.Accelerator`:
- each step's global batch (batch_size examples) is split across the ranks, and the loss is normalised by the
  trained tokens of the whole batch (one all-reduce), so N processes compute the gradient one process would;
- the model goes through `accelerator.prepare` wrapped with the loop's own loss (`forward_selected`), so DDP (or
  FSDP, DeepSpeed) sees every forward and synchronises gradients;
- the metrics, the stop request (Ctrl-C, or SIGTERM from a scheduler) and the token counts travel in that one
  all-reduce; only rank 0 writes run.json, metrics, checkpoints and results; every rank loads a resume checkpoint;
- a rank that dies makes the next collective fail: rank 0 saves a checkpoint of the last whole step and stops
  with a message saying how to resume (`guard`).
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import threading

from ..errors import TrainingError


def world_size() -> int:
    """The number of training processes, as the launcher (torchrun, accelerate, mpirun) sets it."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    return rank() == 0


def share_from_main(make, asked_device: str = "auto"):
    """Under a launcher: `make()` runs on rank 0 only and every rank gets its (picklable) result, or its error.
    (`accelerate launch -m selfclone train DATA`: one run directory is prepared, and all ranks train it.)"""
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    from ..errors import SelfcloneError
    from . import devices

    state = PartialState(cpu=asked_device == "cpu" or not devices.cuda_available())
    box, failure = [None], None
    if state.is_main_process:
        try:
            box = [("ok", make())]
        except SelfcloneError as exc:
            box, failure = [("error", exc.message, exc.hint)], exc
    broadcast_object_list(box)
    if failure is not None:
        raise failure
    if box[0][0] == "error":
        raise TrainingError(f"rank 0 could not prepare the run: {box[0][1]}", box[0][2])
    return box[0][1]


class MemberLost(TrainingError):
    """A collective failed: another training process died or lost its connection."""


class Group:
    """The training processes of one run (one process: every call is the plain single-process operation)."""

    def __init__(self, device, accelerator=None):
        self.device = device
        self.accelerator = accelerator
        self.world = accelerator.num_processes if accelerator else 1
        self.rank = accelerator.process_index if accelerator else 0
        self.is_main = self.rank == 0
        self.terminated = False
        self._wrapped = None
        self._previous_term = None

    @classmethod
    def open(cls, asked_device: str) -> "Group":
        """This process's place in the run: its device, and the Accelerator when a launcher started several."""
        from . import devices

        if world_size() == 1:
            return cls(devices.pick(asked_device))
        from accelerate import Accelerator

        cpu = asked_device == "cpu" or not devices.cuda_available()
        accelerator = Accelerator(cpu=cpu)          # gloo on CPUs, NCCL on GPUs; FSDP/DeepSpeed from the launch config
        index = accelerator.local_process_index if not cpu else None
        group = cls(devices.pick("cpu" if cpu else asked_device, index), accelerator)
        group._catch_sigterm()
        return group

    def _catch_sigterm(self) -> None:
        """torchrun sends SIGTERM to the survivors when a rank dies (and a cluster scheduler before preempting):
        stop after the step with a checkpoint instead of dying mid-write."""
        if threading.current_thread() is threading.main_thread():
            self._previous_term = signal.signal(signal.SIGTERM, self._on_term)

    def _on_term(self, signum, frame) -> None:
        self.terminated = True

    # --- the model ---------------------------------------------------------------------------------------------
    def prepare(self, model, optimizer):
        """(forward, optimizer): `forward(**inputs) -> Selected` through the prepared (DDP/FSDP/DeepSpeed) model."""
        from .loss import forward_selected

        if self.accelerator is None:
            return (lambda **inputs: forward_selected(model, **inputs)), optimizer
        import torch

        class SelectedLoss(torch.nn.Module):
            """The loop's loss as the module Accelerate wraps, so every training forward goes through DDP."""

            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, **inputs):
                return forward_selected(self.inner, **inputs)

        self._wrapped, optimizer = self.accelerator.prepare(SelectedLoss(model), optimizer)
        return (lambda **inputs: self._collective(lambda: self._wrapped(**inputs))), optimizer

    def shard(self, batch: list) -> tuple[list, float]:
        """This rank's examples of the global batch, and the weight of its loss (0 for a rank left without any,
        which still runs a step on one example so that every rank joins the gradient all-reduce)."""
        mine = batch[self.rank::self.world]
        return (mine, 1.0) if mine else (batch[:1], 0.0)

    # --- one step ----------------------------------------------------------------------------------------------
    def sync(self, out, weight: float, stop: bool, real_tokens: int = 0) -> tuple[dict, bool]:
        """The whole batch's loss, accuracy counts and token count (summed over ranks), and whether any rank
        was asked to stop: one all-reduce."""
        import torch

        local = torch.tensor([float(out.loss_sum.detach()) * weight, out.tokens * weight, out.correct * weight,
                              out.seq_correct * weight, out.sequences * weight, real_tokens * weight,
                              float(stop or self.terminated)],
                             dtype=torch.float64)
        if self.accelerator is not None:
            local = self._collective(lambda: self.accelerator.reduce(local.to(self.accelerator.device), "sum").cpu())
        loss_sum, tokens, correct, seq_correct, sequences, real, stops = local.tolist()
        totals = {"loss": loss_sum / max(tokens, 1), "tokens": int(tokens), "correct": int(correct),
                  "seq_correct": int(seq_correct), "sequences": int(sequences), "real_tokens": int(real)}
        return totals, stops > 0

    def backward(self, out, weight: float, totals: dict) -> None:
        """Backpropagate this rank's share of the whole batch's mean token loss (DDP averages over ranks)."""
        loss = out.loss_sum * (weight * self.world / max(totals["tokens"], 1))
        if self.accelerator is None:
            loss.backward()
        else:
            self._collective(lambda: self.accelerator.backward(loss))

    def clip(self, params, max_norm: float) -> None:
        import torch

        if self.accelerator is None:
            torch.nn.utils.clip_grad_norm_(params, max_norm)
        else:
            self._collective(lambda: self.accelerator.clip_grad_norm_(params, max_norm))

    def barrier(self) -> None:
        if self.accelerator is not None:
            self._collective(self.accelerator.wait_for_everyone)

    def close(self) -> None:
        """Wait for every rank (rank 0 writes the results meanwhile), then leave the process group."""
        if self.accelerator is None:
            return
        self.barrier()
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
        if self._previous_term is not None:
            signal.signal(signal.SIGTERM, self._previous_term)

    def _collective(self, call):
        try:
            return call()
        except RuntimeError as exc:          # gloo/NCCL: "Connection closed by peer", a timeout, a dead rank
            # the first line without gloo's "[file.cc:537]" source location (it reads as markup in a terminal)
            why = re.sub(r"^\[[^\]]*\]\s*", "", str(exc).splitlines()[0])[:200]
            raise MemberLost(f"a training process stopped answering ({why})") from exc

    @contextlib.contextmanager
    def guard(self, run, state: dict, save_checkpoint):
        """A lost member: rank 0 checkpoints the last whole step, then the run fails with the way to resume."""
        try:
            yield
        except MemberLost as exc:
            saved = ""
            if self.is_main:
                try:
                    save_checkpoint()
                    run.update(status="interrupted")
                    saved = f"; checkpoint saved at step {state['step']}"
                except Exception as save_exc:        # noqa: BLE001 - the failure to report is the lost member
                    saved = f"; no checkpoint could be saved ({save_exc})"
            raise TrainingError(f"{exc.message} at step {state['step'] + 1} of rank {self.rank}'s run{saved}",
                                f"check the other processes' output (out of memory? killed?), then continue with "
                                f"`selfclone train --resume {run.path} --launcher accelerate`") from exc
