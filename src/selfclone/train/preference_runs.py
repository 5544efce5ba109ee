"""What DPO, reward-model and RL runs share: settings, where training starts, TRL arguments, metrics, saving.

Where a policy run (dpo, rl) starts and what it saves:
  from a LoRA clone      the clone's own adapter is loaded trainable and trained further; TRL keeps a frozen
                         copy of it as the reference (adapter "ref"), so the reference is exactly the supervised
                         policy. The run saves one adapter of the same rank over the same base model: a few MB,
                         and `models.load` loads it like any clone.
  from a base model or   a new LoRA adapter; the reference is the model with the adapter switched off. Its
  a full/merged clone    base is that model (a full clone's model/ folder), so it loads the same way.
A reward run always trains a new LoRA adapter and a scalar head (`score`) on the base model, so one reward
model serves every round of `selfclone refine` on that base.

Every run writes a run directory like supervised training (rundir.py): run.json (method, base_model,
from, settings, summary), metrics.jsonl (one row per step, TRL's names made readable), curves.png,
tensorboard/, adapter/ and tokenizer/.
"""
from __future__ import annotations

import contextlib
import math
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from .. import machine, models
from ..errors import ConfigError, ModelNotFound, TrainingError
from .metrics import TensorBoardLog, plot_curves
from .rundir import RunDir, new_run_id

METHODS = ("dpo", "reward", "rl")
BASE_LR = {"dpo": 5e-5, "reward": 1e-4, "rl": 2e-5}        # LoRA rates; --learning-rate-multiplier scales them
DEFAULT_BETA = {"dpo": 0.1, "reward": 0.0, "rl": 0.05}
PANELS = {
    "dpo": (("DPO loss", "train_loss", "valid_loss"), ("reward margin", "reward_margin", "valid_reward_margin"),
            ("preference accuracy", "reward_accuracy", "valid_reward_accuracy")),
    "reward": (("loss", "train_loss", "valid_loss"), ("reward margin", "reward_margin", "valid_reward_margin"),
               ("pairwise accuracy", "pair_accuracy", "valid_pair_accuracy")),
    "rl": (("reward (reward model)", "reward_mean", None), ("KL to the supervised policy", "kl", None),
           ("clipped share of tokens", "clip_ratio", None)),
}
# TRL's log keys -> metrics.jsonl names (anything else: '/' becomes '_'); eval_X becomes valid_<name of X>.
KEY_NAMES = {"loss": "train_loss", "rewards/accuracies": "reward_accuracy", "rewards/margins": "reward_margin",
             "rewards/chosen": "reward_chosen", "rewards/rejected": "reward_rejected", "accuracy": "pair_accuracy",
             "margin": "reward_margin", "reward": "reward_mean", "clip_ratio/region_mean": "clip_ratio",
             "completions/mean_length": "completion_length"}


@dataclass(frozen=True)
class PreferenceSettings:
    method: str
    start: str = field(metadata={"help": "the model, clone or run directory training starts from"})
    epochs: int = 1
    batch_size: int = 4
    learning_rate_multiplier: float = field(default=1.0, metadata={"help": "x 5e-5 (dpo), 1e-4 (reward), 2e-5 (rl)"})
    lora_rank: int = 16
    beta: float | None = field(default=None, metadata={"help": "KL strength: 0.1 for dpo, 0.05 for rl by default"})
    max_length: int = 512
    max_steps: int | None = None
    seed: int = 42
    precision: str = "auto"
    suffix: str = "clone"
    reward_run: str | None = field(default=None, metadata={"help": "rl: the reward model's run directory"})
    num_generations: int = field(default=4, metadata={"help": "rl: replies sampled per prompt (the group)"})
    max_completion_length: int = field(default=48, metadata={"help": "rl: longest sampled reply, in tokens"})
    report_to: tuple[str, ...] = ("tensorboard",)
    trainer_options: dict = field(default_factory=dict, metadata={"help": "passed through to TRL's config"})

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        for name in ("epochs", "batch_size", "lora_rank", "max_length", "max_completion_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_rate_multiplier <= 0:
            raise ConfigError(f"learning_rate_multiplier must be > 0, got {self.learning_rate_multiplier}")
        if self.beta is not None and self.beta < 0:
            raise ConfigError(f"beta must be >= 0, got {self.beta}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.method == "rl" and self.num_generations < 2:
            raise ConfigError(f"num_generations must be >= 2 (GRPO compares replies within a group), "
                              f"got {self.num_generations}")
        if self.method == "rl" and self.batch_size % self.num_generations:
            raise ConfigError(f"batch_size ({self.batch_size}) must be a multiple of num_generations "
                              f"({self.num_generations}) for rl", f"use --batch-size {self.num_generations}")
        if ":" in self.suffix or not self.suffix:
            raise ConfigError(f"suffix {self.suffix!r} must be non-empty and contain no ':'")

    @property
    def learning_rate(self) -> float:
        return BASE_LR[self.method] * self.learning_rate_multiplier

    @property
    def kl_beta(self) -> float:
        return DEFAULT_BETA[self.method] if self.beta is None else self.beta

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PreferenceSettings":
        known = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known})


# --- where training starts ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Start:
    ref: models.ModelRef
    base_model: str            # full weights the new adapter sits on (a name or folder `models.resolve` loads)
    adapter: Path | None       # the supervised clone's LoRA adapter, trained further (None: a new adapter)

    @property
    def base_label(self) -> str:
        """The base's short name for clone names (ft:BASE:SUFFIX:RUN)."""
        return self.ref.base if self.ref.kind == "clone" else self.ref.name


def canonical(name: str) -> str:
    """A model name compared across runs: folders by absolute path, everything else as written."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def expand_run_id(name: str, workspace_runs: Path | None) -> str:
    """A bare run id of this workspace (runs/RUN_ID) as its folder; any other name unchanged."""
    if workspace_runs is not None and "/" not in name and (Path(workspace_runs) / name / "run.json").exists():
        return str(Path(workspace_runs) / name)
    return name


def model_key(name: str, runs_dir: Path | None) -> str:
    """The name rankings are stored under: a clone's name, an embedded name, or a folder's absolute path."""
    name = expand_run_id(name, runs_dir)
    ref = models.resolve(name, runs_dir)
    return ref.name if ref.kind in ("clone", "embedded", "hub") else canonical(name)


def start_point(name: str, workspace_runs: Path | None) -> Start:
    name = expand_run_id(name, workspace_runs)
    ref = models.resolve(name, workspace_runs)
    if ref.kind != "clone":
        return Start(replace(ref, name=canonical(name)), canonical(name), None)
    if ref.info.get("method") == "reward":
        raise TrainingError(f"'{name}' is a reward model, not a chat model",
                            "start from a supervised clone (--from ft:...), and pass the reward run as --reward")
    adapter = Path(ref.run_dir) / "adapter"
    if adapter.exists():
        return Start(ref, canonical(ref.base), adapter)
    return Start(ref, str((Path(ref.run_dir) / "model").resolve()), None)


def lora_config(settings: PreferenceSettings, task_type: str):
    from peft import LoraConfig

    return LoraConfig(r=settings.lora_rank, lora_alpha=2 * settings.lora_rank, lora_dropout=0.0,
                      target_modules="all-linear", task_type=task_type)


def load_policy(start: Start, settings: PreferenceSettings):
    """(model, tokenizer, peft_config): the clone's adapter made trainable, or a base model and a new adapter."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(settings.seed)
    tokenizer = models.load_tokenizer(start.ref)
    model = AutoModelForCausalLM.from_pretrained(models.local_dir(models.resolve(start.base_model)),
                                                 dtype=torch.float32)
    if start.adapter is None:
        return model, tokenizer, lora_config(settings, "CAUSAL_LM")
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(start.adapter), is_trainable=True), tokenizer, None


def trainable_snapshot(model) -> dict:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def changed_tensors(before: dict, model) -> int:
    """How many trainable tensors differ from `before` (a snapshot): 0 means training did nothing."""
    now = dict(model.named_parameters())
    return sum(1 for name, value in before.items() if not value.equal(now[name].detach()))


# --- runs -----------------------------------------------------------------------------------------------

def create_run(settings: PreferenceSettings, start: Start, out: Path | None, runs_dir: Path, info: dict) -> RunDir:
    from .sft import clone_name

    run_id = new_run_id()
    run = RunDir(out or Path(runs_dir) / run_id)
    prefix = "rm" if settings.method == "reward" else "ft"
    name = clone_name(start.base_label, settings.suffix, run.path.name).replace("ft:", prefix + ":", 1)
    run.create({"id": run.path.name, "name": name, "method": settings.method, "base_model": start.base_model,
                "from": start.ref.name, "continues_adapter": start.adapter is not None,
                "settings": settings.to_dict(), "machine": machine.describe()} | info)
    return run


def trainer_args(config_cls, settings: PreferenceSettings, run: RunDir, n_train: int, has_valid: bool, **extra):
    """A TRL config with what we mean set explicitly (TRL defaults to bf16 and gradient checkpointing)."""
    import torch

    from .sft import use_bf16

    steps_per_epoch = max(1, math.ceil(n_train / settings.batch_size))
    total = min(settings.max_steps or 10**12, steps_per_epoch * settings.epochs)
    kwargs = dict(output_dir=str(run.path / ".trainer"), per_device_train_batch_size=settings.batch_size,
                  per_device_eval_batch_size=settings.batch_size, num_train_epochs=settings.epochs,
                  max_steps=settings.max_steps or -1, learning_rate=settings.learning_rate,
                  lr_scheduler_type="cosine", warmup_steps=0.1, logging_steps=1, save_strategy="no",
                  eval_strategy="steps" if has_valid else "no", eval_steps=max(1, min(steps_per_epoch, total) // 2),
                  report_to="none", use_cpu=not torch.cuda.is_available(), bf16=use_bf16(settings),
                  activation_checkpointing=False, seed=settings.seed, data_seed=settings.seed, disable_tqdm=True,
                  dataloader_num_workers=0)
    return config_cls(**(kwargs | extra | dict(settings.trainer_options)))


@contextlib.contextmanager
def quiet():
    """Our progress bar and metrics report training: silence the libraries' own bars and deprecation notes."""
    from datasets.utils import logging as ds_logging
    from transformers.utils import logging as hf_logging

    ds_logging.disable_progress_bar()
    hf_logging.disable_progress_bar()
    with warnings.catch_warnings():
        for module in ("transformers", "trl", "peft", "torch"):
            warnings.filterwarnings("ignore", category=FutureWarning, module=module)
            warnings.filterwarnings("ignore", category=UserWarning, module=module)
        try:
            yield
        finally:
            ds_logging.enable_progress_bar()
            hf_logging.enable_progress_bar()


def metric_row(logs: dict, step: int) -> dict | None:
    """A TRL log entry as a metrics.jsonl row; None for the end-of-training totals."""
    if "train_runtime" in logs:
        return None
    row = {"step": step}
    for key, value in logs.items():
        if not isinstance(value, (int, float)):
            continue
        if key.endswith(("_runtime", "_per_second")):
            continue
        valid = key.startswith("eval_")
        key = key[5:] if valid else key
        name = KEY_NAMES.get(key, key.replace("/", "_"))
        if valid:
            name = "valid_" + (name[6:] if name.startswith("train_") else name)
        row[name] = value
    return row


def run_callback(run: RunDir, settings: PreferenceSettings, events=None):
    """A transformers TrainerCallback writing each step to metrics.jsonl, TensorBoard, the curves and `events`."""
    from transformers import TrainerCallback

    trackers = [TensorBoardLog(run.path / "tensorboard")] if "tensorboard" in settings.report_to else []
    name = run.info()["name"]

    class RunLog(TrainerCallback):
        started = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()
            run.update(status="running", total_steps=state.max_steps)
            if events:
                events.on_start(state.max_steps, 0, run.info())

        def on_log(self, args, state, control, logs=None, **kwargs):
            row = metric_row(logs or {}, state.global_step)
            if row is None:
                return
            run.append_metrics(row)
            for tracker in trackers:
                tracker.log(row)
            if any(k.startswith("valid_") for k in row):
                plot_curves(run.read_metrics(), run.curves_path, name, PANELS[settings.method])
                if events:
                    events.on_eval(row)
            elif events:
                events.on_step(row)

        def on_train_end(self, args, state, control, **kwargs):
            for tracker in trackers:
                tracker.close()

    return RunLog()


def train_with(trainer, run: RunDir) -> float:
    """Run `trainer.train()`; mark the run interrupted or failed when it stops early. Returns seconds."""
    from transformers import PrinterCallback

    from .sft import TrainingInterrupted

    trainer.remove_callback(PrinterCallback)      # our callback reports; TRL's would print raw dicts
    started = time.perf_counter()
    try:
        trainer.train()
    except KeyboardInterrupt:
        run.update(status="interrupted")
        raise TrainingInterrupted(f"training stopped; {run.path} holds the steps logged so far",
                                  "start the run again (preference runs do not resume)") from None
    except BaseException:
        run.update(status="failed")
        raise
    return time.perf_counter() - started


def last_values(rows: list[dict], keys: tuple[str, ...], window: int = 5) -> dict:
    """For each key: the mean over the last `window` rows that have it (one step is noisy at batch 4)."""
    out = {}
    for key in keys:
        values = [r[key] for r in rows if r.get(key) is not None][-window:]
        if values:
            out[key] = sum(values) / len(values)
    return out


def finish(run: RunDir, model, tokenizer, settings: PreferenceSettings, summary: dict, register: bool) -> dict:
    """Save the adapter (only the trained one, never TRL's frozen "ref" copy), tokenizer, curves, summary."""
    from ..fileio import atomic_dir

    with atomic_dir(run.adapter) as tmp:
        model.save_pretrained(tmp, selected_adapters=["default"])
    with atomic_dir(run.tokenizer) as tmp:
        tokenizer.save_pretrained(tmp)
    shutil.rmtree(run.path / ".trainer", ignore_errors=True)
    rows = run.read_metrics()
    if rows:
        plot_curves(rows, run.curves_path, run.info()["name"], PANELS[settings.method])
    info = run.update(status="finished", summary=summary)
    if register:
        models.register_clone(info["name"], run.path)
    return summary


def reward_run_info(path: str, workspace_runs: Path | None) -> tuple[RunDir, dict]:
    """The run.json of a finished reward run named by folder or run id; clear errors for anything else."""
    candidates = [Path(path)] + ([Path(workspace_runs) / path] if workspace_runs else [])
    run_dir = next((p for p in candidates if (p / "run.json").exists()), None)
    if run_dir is None:
        raise ModelNotFound(f"no reward model run at '{path}'",
                            "pass the run directory that `selfclone train --method reward` printed")
    run = RunDir(run_dir)
    info = run.info()
    if info.get("method") != "reward":
        raise TrainingError(f"{run_dir} is a {info.get('method')} run, not a reward model",
                            "train one with `selfclone train --method reward` and pass its run directory")
    if info.get("status") != "finished" or not run.adapter.exists():
        raise TrainingError(f"reward run {run_dir} has not finished (status: {info.get('status')})",
                            "train it again: `selfclone train --method reward`")
    return run, info


def create_pairs_run(pairs, valid_pairs, settings: "PreferenceSettings", start: "Start", out: Path | None,
                     runs_dir: Path, info: dict | None, file_format: str, purpose: str) -> RunDir:
    """Create a DPO or reward run directory with its own copy of the pairs, in `file_format`."""
    from ..errors import DataError
    from ..dataset.preferences import write_preferences

    if not pairs:
        raise DataError(f"no preference pairs to {purpose}", "rank some candidates: `selfclone rank MODEL`")
    run = create_run(settings, start, out, runs_dir,
                     {"train_pairs": len(pairs), "valid_pairs": len(valid_pairs)} | (info or {}))
    write_preferences(run.path / "data" / "train.jsonl", pairs, file_format)
    if valid_pairs:
        write_preferences(run.path / "data" / "valid.jsonl", valid_pairs, file_format)
    return run


def load_pairs_run(run: RunDir) -> tuple["PreferenceSettings", list, list]:
    """A DPO or reward run's settings and its own copy of the training and validation pairs."""
    from ..dataset.preferences import read_preferences

    settings = PreferenceSettings.from_dict(run.info()["settings"])
    valid_path = run.path / "data" / "valid.jsonl"
    return (settings, read_preferences(run.path / "data" / "train.jsonl"),
            read_preferences(valid_path) if valid_path.exists() else [])


def run_trainer(trainer, run: RunDir) -> dict:
    """Train with a TRL trainer; the summary's common part: steps, seconds, and how many tensors changed."""
    before = trainable_snapshot(trainer.model)
    seconds = train_with(trainer, run)
    return {"steps": trainer.state.global_step, "train_seconds": round(seconds, 1),
            "changed_tensors": changed_tensors(before, trainer.model)}
