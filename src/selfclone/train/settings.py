"""Supervised fine-tuning settings: a frozen dataclass checked on creation, stored in run.json."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from ..dataset.token_stats import TRAIN_EPOCHS
from ..errors import ConfigError

LORA_BASE_LR = 2e-4
LORA_RANK = 16          # 32 cost Mistress Quickly (69 examples) 1.5 points (docs/BENCHMARKS.md, "The soup")
FULL_BASE_LR = 2e-5


@dataclass(frozen=True)
class SFTSettings:
    model: str = field(default="smollm2-135m", metadata={"help": "base model name or path"})
    epochs: int = field(default=TRAIN_EPOCHS, metadata={"help": "passes over the data; 1 to 3 suit a chat persona"})
    batch_size: int = 8
    learning_rate_multiplier: float = field(default=1.0, metadata={"help": "x 2e-4 (LoRA) or x 2e-5 (full)"})
    full: bool = field(default=False, metadata={"help": "train every weight instead of a LoRA adapter"})
    lora_rank: int = field(default=LORA_RANK, metadata={"help": "the refit's soup doubles it in the clone's "
                                                                 "adapter (train/soup.py)"})
    lora_alpha: int | None = field(default=None, metadata={"help": "default: 2 x rank"})
    lora_dropout: float = field(default=0.0, metadata={"help": "0 trains 1.37x faster than 0.05 at the same loss"})
    neftune_alpha: float = field(default=0.0, metadata={"help": "NEFTune: uniform noise of alpha/sqrt(length x width) "
                                                             "on the input embeddings while training; 0 = off"})
    max_length: int = field(default=1024, metadata={"help": "longest example in tokens"})
    warmup_ratio: float = 0.06
    weight_decay: float = 0.0
    seed: int = 42
    precision: str = field(default="auto", metadata={"help": "auto (bf16 where the CPU is fast at it), fp32, bf16"})
    eval_every: int | None = field(default=None, metadata={"help": "steps between evaluations (default: 2 per epoch)"})
    keep_checkpoints: int = 2
    merge: bool = field(default=False, metadata={"help": "also save a standalone merged model in RUN_DIR/model"})
    suffix: str = "clone"
    report_to: tuple[str, ...] = ("tensorboard",)
    threads: int | None = None
    max_steps: int | None = field(default=None, metadata={"help": "stop after this many steps (tests, benchmarks)"})
    continue_from: str | None = field(default=None, metadata={"help": "a LoRA clone whose adapter this run trains "
                                                                   "further (`train --continue`); model is its base"})
    select: str = field(default="best", metadata={"help": "best (lowest validation loss) or last checkpoint"})
    packing: bool = field(default=False, metadata={"help": "pack each step's examples into one row (no padding)"})
    patience: int = field(default=0, metadata={"help": "stop after N evaluations without a new best (0: never)"})
    device: str = field(default="auto", metadata={"help": "auto (the GPU when torch sees one), cpu or cuda"})
    load_4bit: bool = field(default=False, metadata={"help": "QLoRA: the base in 4-bit NF4 through bitsandbytes (CUDA)"})
    lr_probe: tuple[float, ...] = field(default=(), metadata={"help": "learning-rate multipliers to probe before "
                                                                       "training (train/lr_probe.py); () for none"})
    probe_steps: int = field(default=0, metadata={"help": "steps per probed multiplier"})
    refit: bool = field(default=False, metadata={"help": "once the best step is known, train again from the start on "
                                                         "train + validation to that point (train/refit.py)"})
    schedule_steps: int | None = field(default=None, metadata={"help": "steps the learning-rate schedule spans "
                                                                       "(default: the run's own)"})

    def __post_init__(self):
        positive = ("epochs", "batch_size", "lora_rank", "max_length", "keep_checkpoints")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("learning_rate_multiplier", "lora_dropout", "warmup_ratio", "weight_decay"):
            if not math.isfinite(getattr(self, name)):       # NaN fails every comparison below; inf trains to NaN
                raise ConfigError(f"{name} must be a finite number, got {getattr(self, name)}")
        if self.learning_rate_multiplier <= 0:
            raise ConfigError(f"learning_rate_multiplier must be > 0, got {self.learning_rate_multiplier}")
        if self.schedule_steps is not None and self.schedule_steps < 1:
            raise ConfigError(f"schedule_steps must be >= 1, got {self.schedule_steps}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be >= 1, got {self.max_steps}", "leave --max-steps out for no limit")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.load_4bit and self.full:
            raise ConfigError("load_4bit (QLoRA) trains a LoRA adapter on a 4-bit base; it cannot train every weight",
                              "leave out --full, or leave out --load-4bit")
        if self.select not in ("best", "last"):
            raise ConfigError(f"select must be best or last, got {self.select!r}")
        if self.patience < 0:
            raise ConfigError(f"patience must be >= 0 (0: no early stopping), got {self.patience}")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if any(not (math.isfinite(m) and m > 0) for m in self.lr_probe) or self.probe_steps < 0 or \
                (self.lr_probe and self.probe_steps < 1):
            raise ConfigError(f"lr_probe {self.lr_probe} needs multipliers > 0 and probe_steps >= 1, got "
                              f"probe_steps {self.probe_steps}", "leave the learning rate at auto to let the recipe set them")
        unknown = set(self.report_to) - {"tensorboard", "wandb", "mlflow", "none"}
        if unknown:
            raise ConfigError(f"report_to has unknown tracker(s) {sorted(unknown)}", "use tensorboard, wandb, mlflow or none")
        if ":" in self.suffix or not self.suffix:
            raise ConfigError(f"suffix {self.suffix!r} must be non-empty and contain no ':'")

    @property
    def learning_rate(self) -> float:
        return (FULL_BASE_LR if self.full else LORA_BASE_LR) * self.learning_rate_multiplier

    @property
    def method(self) -> str:
        return "full" if self.full else "lora"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SFTSettings":
        known = {f.name for f in fields(cls)}
        data = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
        return cls(**data)
