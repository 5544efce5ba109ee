"""Supervised fine-tuning (LoRA through peft, or full) with our own loop.

Why not TRL's SFTTrainer: on a CPU the output projection over a 49k vocabulary dominates a small model's
step, and SFTTrainer computes logits for every position and pads batches to their longest member (with
gradient checkpointing on by default). This loop groups examples of similar length, projects only the
trained assistant positions (train/loss.py), and uses bf16 autocast where the CPU has AMX/AVX-512-bf16;
`selfclone bench train` measures the difference against plain SFTTrainer in one run (docs/BENCHMARKS.md).

    summary = train(train_examples, valid_examples, SFTSettings(epochs=2), RunDir(path), events=None)
    summary = resume(RunDir(path))
"""
from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .. import machine, models
from ..dataset.chat import Example, read_examples, write_examples
from ..errors import TrainingError
from . import checkpoint, devices, selection
from .batching import encode_all, length_grouped_batches
from .distributed import Group
from .loss import evaluate, forward_selected
from .metrics import TensorBoardLog, plot_curves
from .lr_probe import PROBE_BUDGET, run_probe
from .packing import step_inputs
from .rundir import RunDir, new_run_id
from .settings import SFTSettings

PROBE_VALID_EXAMPLES = 64     # the probe scores at most this many validation examples per candidate


class Events(Protocol):
    def on_start(self, total_steps: int, done_steps: int, info: dict) -> None: ...
    def on_step(self, row: dict) -> None: ...
    def on_eval(self, row: dict) -> None: ...


class TrainingInterrupted(TrainingError):
    exit_code = 130


@dataclass
class _Stop:
    """Ctrl-C asks to stop after the current step (a second Ctrl-C stops at once)."""
    requested: bool = False

    def __enter__(self):
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def clone_name(base: str, suffix: str, run_id: str) -> str:
    short = Path(base).name if ("/" in base or base.endswith(".gguf")) else base
    return f"ft:{short.replace(':', '-')}:{suffix}:{run_id}"


def use_bf16(settings, device=None) -> bool:
    return devices.use_bf16(settings.precision, device or devices.pick(getattr(settings, "device", "auto")))


def _build_model(settings: SFTSettings, workspace_runs: Path | None, device=None):
    import torch

    ref = models.resolve(settings.continue_from or settings.model, workspace_runs)
    if ref.kind == "clone" and not settings.continue_from:
        raise TrainingError(f"'{settings.model}' is a clone; supervised training starts from a base model",
                            "train on the clone's base model, or `selfclone train DATA --continue CLONE`")
    torch.manual_seed(settings.seed)
    model, tokenizer = devices.load_for_training(ref, device or devices.pick(settings.device), full=settings.full,
                                                 load_4bit=settings.load_4bit, bf16=use_bf16(settings, device))
    if not settings.full and not settings.continue_from:      # a continued clone trains its own adapter further
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(r=settings.lora_rank, lora_alpha=settings.lora_alpha or 2 * settings.lora_rank,
                          lora_dropout=settings.lora_dropout, target_modules="all-linear", task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
    if settings.neftune_alpha:
        _add_neftune(model, settings.neftune_alpha)
    model.train()
    return model, tokenizer


def _add_neftune(model, alpha: float) -> None:
    """NEFTune (Jain et al. 2023): noise on the input embeddings in training steps only (not in evaluation)."""
    import math

    import torch

    def noisy(module, inputs, output):
        if not module.training:
            return output
        scale = alpha / math.sqrt(output.size(1) * output.size(2))
        return output + torch.empty_like(output).uniform_(-scale, scale)

    model.get_input_embeddings().register_forward_hook(noisy)


def _schedule(optimizer, warmup: int, total: int):
    import torch

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total - warmup)
        return max(0.0, 0.5 * (1 + math.cos(math.pi * progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _step(dist, forward, params, batch, pad_id: int, packing: bool, bf16: bool, optimizer, scheduler,
          stop: bool = False) -> tuple[dict, bool]:
    """One optimizer step on the global `batch`, this process's share of it through `dist` (train/distributed.py):
    returns the whole batch's totals (loss, accuracy counts, real tokens) and whether any process was asked to stop.
    A non-finite loss skips the update and is left for the caller to judge."""
    import torch

    mine, weight = dist.shard(batch)
    inputs, real_tokens = step_inputs(mine, pad_id, packing, dist.device.torch())
    with torch.autocast(dist.device.type, dtype=torch.bfloat16, enabled=bf16):
        out = forward(**inputs)
    whole, stopping = dist.sync(out, weight, stop, real_tokens)
    if math.isfinite(whole["loss"]):
        dist.backward(out, weight, whole)
        dist.clip(params, 1.0)
        optimizer.step()
        scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return whole, stopping


def _probe_learning_rate(run: RunDir, info: dict, settings: SFTSettings, model, params, train_enc, valid_enc,
                         pad_id: int, bf16: bool, make_optimizer, dist) -> tuple[SFTSettings, dict]:
    """Run the learning-rate probe (train/lr_probe.py) on the first batches; record it and the chosen rate."""
    import dataclasses

    import torch

    batches = length_grouped_batches([len(e) for e in train_enc], settings.batch_size, settings.seed, 0)
    probe_valid = valid_enc[:PROBE_VALID_EXAMPLES]

    def train_step(i: int, optimizer, scheduler) -> float:
        batch = [train_enc[j] for j in batches[i % len(batches)]]
        forward = lambda **inputs: forward_selected(model, **inputs)  # noqa: E731  (one process: see train())
        return _step(dist, forward, params, batch, pad_id, settings.packing, bf16, optimizer, scheduler)[0]["loss"]

    def score() -> float:
        return evaluate(model, probe_valid, pad_id, batch_size=settings.batch_size * 2, autocast=bf16)["loss"]

    random_state = torch.get_rng_state()        # every candidate, then the run itself, starts from this state
    result = run_probe(params, settings.lr_probe, settings.probe_steps,
                       lambda multiplier, steps: make_optimizer(multiplier, steps, 1), train_step, score,
                       lambda: torch.set_rng_state(random_state))
    settings = dataclasses.replace(settings, learning_rate_multiplier=result["chosen"])
    recipe = info.get("recipe") or {}
    if "chosen" in recipe:
        recipe = recipe | {"chosen": recipe["chosen"] | {"learning_rate_multiplier": result["chosen"]},
                           "reasons": recipe.get("reasons", []) + [f"learning rate x{result['chosen']:g}: "
                                                                   f"{result['reason']}"]}
    info = run.update(settings=settings.to_dict(), probe=result, recipe=recipe)
    return settings, info


def default_context(examples: Sequence[Example]) -> str | None:
    """The system prompt a clone talks with when none is given: the one of at least half its training examples."""
    from collections import Counter

    systems = Counter(e.system for e in examples)
    context, count = systems.most_common(1)[0] if systems else (None, 0)
    return context if context and count * 2 >= len(examples) else None


def prepare_run(train_examples: list[Example], valid_examples: list[Example], settings: SFTSettings,
                out: Path | None, runs_dir: Path, data_info: dict, drill: Sequence[Example] = ()) -> RunDir:
    """Create the run directory with its own copy of the data, so a resume never depends on other files. The notes
    drill (persona/drill.py) is trained on with the person's examples but kept apart in data/drill.jsonl, so what
    reads the person's data (eval, `--continue`, the default context) reads theirs only."""
    run_id = new_run_id()
    run = RunDir(out or runs_dir / run_id)
    name = clone_name(settings.model, settings.suffix, run_id if out is None else run.path.name)
    run.create({"id": run.path.name, "name": name, "method": settings.method, "base_model": settings.model,
                "settings": settings.to_dict(), "machine": machine.describe(),
                "train_examples": len(train_examples), "valid_examples": len(valid_examples),
                "default_context": default_context(train_examples)} | data_info)
    write_examples(run.path / "data" / "train.jsonl", train_examples)
    if valid_examples:
        write_examples(run.path / "data" / "valid.jsonl", valid_examples)
    if drill:
        write_examples(run.path / "data" / "drill.jsonl", drill)
    return run


def train(run: RunDir, events: Events | None = None, workspace_runs: Path | None = None, register: bool = True) -> dict:
    """Train (or continue training) the run in `run`; returns the summary stored in run.json. `register` False:
    not listed as a clone (the refit inside a run, train/refit.py)."""
    import torch

    info = run.info()
    if info.get("status") == "finished":
        raise TrainingError(f"{run.path} has already finished training", "start a new run, or use it: "
                            f"`selfclone chat {info['name']}`")
    settings = SFTSettings.from_dict(info["settings"])
    if settings.threads:
        torch.set_num_threads(settings.threads)
    train_examples = read_examples(run.path / "data" / "train.jsonl")
    if (run.path / "data" / "drill.jsonl").exists():
        train_examples += read_examples(run.path / "data" / "drill.jsonl")
    valid_path = run.path / "data" / "valid.jsonl"
    valid_examples = read_examples(valid_path) if valid_path.exists() else []

    dist = Group.open(settings.device)
    model, tokenizer = _build_model(settings, workspace_runs, dist.device)
    max_length = min(settings.max_length, models.context_length(model))
    train_enc = encode_all(tokenizer, train_examples, max_length)
    valid_enc = encode_all(tokenizer, valid_examples, max_length)
    pad_id = tokenizer.pad_token_id
    steps_per_epoch = math.ceil(len(train_enc) / settings.batch_size)
    total_steps = min(settings.max_steps or 10**12, steps_per_epoch * settings.epochs)
    eval_every = settings.eval_every or max(1, steps_per_epoch // 2)
    bf16 = use_bf16(settings, dist.device)

    params = [p for p in model.parameters() if p.requires_grad]
    base_lr = settings.learning_rate / settings.learning_rate_multiplier

    def make_optimizer(multiplier: float, steps: int, warmup: int):
        optimizer = torch.optim.AdamW(params, lr=base_lr * multiplier, weight_decay=settings.weight_decay)
        return optimizer, _schedule(optimizer, warmup, steps)

    latest = run.latest_checkpoint()
    if settings.lr_probe and latest is None and "probe" not in info:
        if dist.world > 1:        # the candidates' optimizers would need Accelerate's preparing each: one process only
            info = run.update(probe={"skipped": f"{dist.world} processes: the probe runs in one process; pass "
                                                "--learning-rate-multiplier to choose",
                                     "chosen": settings.learning_rate_multiplier})
        elif len(settings.lr_probe) * settings.probe_steps > PROBE_BUDGET * total_steps + 1:
            info = run.update(probe={"skipped": f"--max-steps {settings.max_steps} leaves no room for the probe's "
                                                f"{len(settings.lr_probe) * settings.probe_steps} steps",
                                     "chosen": settings.learning_rate_multiplier})
        else:
            settings, info = _probe_learning_rate(run, info, settings, model, params, train_enc, valid_enc, pad_id,
                                                  bf16, make_optimizer, dist)
    schedule_steps = settings.schedule_steps or total_steps
    optimizer, scheduler = make_optimizer(settings.learning_rate_multiplier, schedule_steps,
                                          int(settings.warmup_ratio * schedule_steps))
    forward, optimizer = dist.prepare(model, optimizer)

    state = {"step": 0, "elapsed_examples": 0, "elapsed_tokens": 0, "train_seconds": 0.0}
    if latest is not None:
        state = checkpoint.load(latest, model, optimizer, scheduler)
        if dist.is_main:
            run.truncate_metrics(state["step"])
    trackers = []                     # one rank reports
    if dist.is_main:
        trackers = [TensorBoardLog(run.path / "tensorboard")] if "tensorboard" in settings.report_to else []
        trackers += _extra_trackers(settings, info)
    if dist.is_main:
        run.update(status="running", total_steps=total_steps, precision="bf16" if bf16 else "fp32",
                   device=dist.device.name, processes=dist.world)
    if events and dist.is_main:
        events.on_start(total_steps, state["step"], info)

    def log(row: dict, kind: str) -> None:
        if not dist.is_main:          # every rank computes the same row; one writes it
            return
        run.append_metrics(row)
        for tracker in trackers:
            tracker.log(row)
        if events:
            (events.on_step if kind == "step" else events.on_eval)(row)

    def run_eval(step: int) -> bool:
        """Evaluate, log, keep the best weights; True when early stopping says to stop."""
        if not valid_enc:
            return False
        result = evaluate(model, valid_enc, pad_id, batch_size=settings.batch_size * 2, autocast=bf16)
        log({"step": step, "epoch": round(step / steps_per_epoch, 4), "valid_loss": result["loss"],
             "valid_token_accuracy": result["token_accuracy"],
             "valid_sequence_accuracy": result["sequence_accuracy"]}, "eval")
        if dist.is_main:
            plot_curves(run.read_metrics(), run.curves_path, info["name"])
        return selection.observe(run, state, step, result["loss"], model, settings.patience)

    def save_checkpoint() -> None:
        checkpoint.save(run.checkpoint_dir(state["step"]), model, optimizer, scheduler, state)
        if dist.is_main:
            run.prune_checkpoints(settings.keep_checkpoints)

    phase1 = info.get("phase1")       # set once the steps are done and the refit has begun: they are not redone
    if state["step"] == 0 and phase1 is None:
        run_eval(0)
    with _Stop() as stop, dist.guard(run, state, save_checkpoint):
        while state["step"] < total_steps and phase1 is None:
            epoch = state["step"] // steps_per_epoch
            batches = length_grouped_batches([len(e) for e in train_enc], settings.batch_size, settings.seed, epoch)
            batch = [train_enc[i] for i in batches[state["step"] % steps_per_epoch]]
            started = time.perf_counter()
            lr = scheduler.get_last_lr()[0]
            whole, stopping = _step(dist, forward, params, batch, pad_id, settings.packing, bf16, optimizer,
                                    scheduler, stop.requested)
            if not math.isfinite(whole["loss"]):
                raise TrainingError(f"the loss became {whole['loss']} at step {state['step'] + 1}",
                                    "lower --learning-rate-multiplier, or use --precision fp32")
            state["step"] += 1
            state["elapsed_examples"] += len(batch)
            state["elapsed_tokens"] += whole["real_tokens"]
            state["train_seconds"] += time.perf_counter() - started
            log({"step": state["step"], "epoch": round(state["step"] / steps_per_epoch, 4),
                 "train_loss": whole["loss"], "train_token_accuracy": whole["correct"] / max(whole["tokens"], 1),
                 "train_sequence_accuracy": whole["seq_correct"] / max(whole["sequences"], 1),
                 "elapsed_examples": state["elapsed_examples"], "elapsed_tokens": state["elapsed_tokens"],
                 "learning_rate": lr, "step_seconds": round(time.perf_counter() - started, 3)}, "step")
            at_epoch_end = state["step"] % steps_per_epoch == 0
            if at_epoch_end or state["step"] % eval_every == 0 or state["step"] == total_steps:
                stop_early = run_eval(state["step"])
                save_checkpoint()
                if stop_early and state["step"] < total_steps:
                    state["stopped_early"] = state["step"]
                    break
            if stopping and state["step"] < total_steps:
                save_checkpoint()
                if dist.is_main:
                    run.update(status="interrupted")
                dist.close()
                for tracker in trackers:
                    tracker.close()
                raise TrainingInterrupted(f"training stopped at step {state['step']} of {total_steps}",
                                          f"continue with `selfclone train --resume {run.path}`")
    for tracker in trackers:
        tracker.close()
    if not dist.is_main:
        dist.close()
        return {}
    if phase1 is not None:
        chosen = phase1
    else:
        chosen = selection.restore_best(run, model, state) if settings.select == "best" else \
            {"select": "last", "selected_step": state["step"]}
        if state.get("stopped_early"):
            chosen["stopped_early_at"] = state["stopped_early"]
    if settings.refit and chosen.get("select") == "best":
        from . import refit

        if dist.world > 1:
            chosen["refit"] = {"skipped": f"{dist.world} processes: the refit runs in one process"}
        else:
            run.update(phase1=chosen)
            chosen = chosen | refit.run(run, settings, chosen["selected_step"], steps_per_epoch, schedule_steps,
                                        model, events, workspace_runs)
    summary = _finish(run, model, tokenizer, settings, state, steps_per_epoch, chosen, register)
    dist.close()
    return summary


def _extra_trackers(settings: SFTSettings, info: dict) -> list:
    from .trackers import open_trackers

    return open_trackers([r for r in settings.report_to if r not in ("tensorboard", "none")], info)


def summarize(rows: list[dict], steps_per_epoch: int) -> dict:
    valid = [r for r in rows if "valid_loss" in r and r["step"] > 0]
    train_rows = [r for r in rows if "train_loss" in r]
    summary = {"steps": train_rows[-1]["step"] if train_rows else 0,
               "final_train_loss": train_rows[-1]["train_loss"] if train_rows else None}
    first = next((r for r in rows if "valid_loss" in r and r["step"] == 0), None)
    if first:
        summary["initial_valid_loss"] = first["valid_loss"]
    if valid:
        best = min(valid, key=lambda r: r["valid_loss"])
        summary |= {"best_valid_loss": best["valid_loss"], "best_step": best["step"],
                    "best_epoch": round(best["step"] / steps_per_epoch, 2), "final_valid_loss": valid[-1]["valid_loss"]}
    return summary


def _finish(run: RunDir, model, tokenizer, settings: SFTSettings, state: dict, steps_per_epoch: int,
            chosen: dict, register: bool = True) -> dict:
    from ..fileio import atomic_dir

    if settings.full:
        with atomic_dir(run.model) as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
    else:
        with atomic_dir(run.adapter) as tmp:
            model.save_pretrained(tmp)
        if settings.merge:
            merged = model.merge_and_unload()
            with atomic_dir(run.model) as tmp:
                merged.save_pretrained(tmp)
                tokenizer.save_pretrained(tmp)
    with atomic_dir(run.tokenizer) as tmp:
        tokenizer.save_pretrained(tmp)
    summary = summarize(run.read_metrics(), steps_per_epoch) | chosen
    summary["train_seconds"] = round(state["train_seconds"], 1)
    summary["tokens_per_second"] = round(state["elapsed_tokens"] / max(state["train_seconds"], 1e-9), 1)
    plot_curves(run.read_metrics(), run.curves_path, run.info()["name"])
    info = run.update(status="finished", summary=summary)
    if register:
        models.register_clone(info["name"], run.path)
    return summary
