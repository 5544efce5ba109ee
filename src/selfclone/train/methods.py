"""The training methods, one registry: `selfclone train --method` and the job worker both dispatch through it.

    prepared = methods.prepare(TrainRequest(method="sft", data=Path("train.jsonl")), runs_dir, defaults)
    print(prepared.description)               # what was set up, before the long part
    summary = prepared.train(events)          # events: on_start / on_step / on_eval (see sft.Events)
    prepared = methods.resume(RunDir(path), runs_dir)

A method is a function `(request, runs_dir, defaults) -> Prepared`: it reads and checks the inputs, creates the
run directory (with its own copy of the data) and returns the training step, so that bad data fails before any
model loads and a job's `validating_files` stage is exactly this call. Nothing here prints.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..dataset.chat import read_examples
from ..dataset.split import auto_validation
from ..errors import TrainingError
from .rundir import RunDir


@dataclass(frozen=True)
class Defaults:
    """What the workspace fills in when a request leaves it out."""

    model: str = "smollm2-135m"
    suffix: str = "clone"
    system: str | None = None


@dataclass(frozen=True)
class TrainRequest:
    """Everything `selfclone train` and a fine-tuning job can ask for; None means the method's default."""

    method: str = "sft"
    data: Path | None = None
    validation: Path | None = None
    model: str | None = None
    epochs: int | None = None                     # None: auto (sft: train/recipe.py; others: their default)
    learning_rate_multiplier: float | None = None
    batch_size: int | None = None
    select: str = "best"                          # sft: best (lowest validation loss) or last
    refit: bool | None = None                     # sft: None: auto (train/recipe.py); train/refit.py
    patience: int | None = None                   # sft: None: auto; 0: no early stopping
    packing: bool = False                         # sft: each step's examples in one row, no padding
    lora_rank: int = 16
    neftune_alpha: float = 0.0                    # sft: embedding noise while training (0: off)
    full: bool = False
    suffix: str | None = None
    out: Path | None = None
    merge: bool = False
    precision: str = "auto"
    max_length: int = 1024
    max_steps: int | None = None
    seed: int = 42
    report_to: tuple[str, ...] = ("tensorboard",)
    preferences: Path | None = None      # dpo, reward: a pairs file (else the workspace's rankings)
    pairs: tuple = ()                     # dpo, reward: pairs already gathered (from the store)
    ranked_model: str | None = None       # the model those pairs were ranked on
    pairs_info: dict = field(default_factory=dict)
    from_: str | None = None              # dpo, rl: the run or model to start from
    reward: Path | None = None            # rl: the reward model run
    beta: float | None = None
    data_info: dict = field(default_factory=dict)
    continue_from: str | None = None      # sft: a LoRA clone to train further, with replay of its own data
    replay: float = 1.0                   # sft --continue: earlier examples replayed per new example
    device: str = "auto"                  # sft: auto, cpu or cuda (train/devices.py)
    load_4bit: bool = False               # sft: QLoRA
    force: bool = False                   # sft: train even when the memory estimate says it will not fit
    processes: int = 1                    # sft: training processes (a launcher's), for the memory estimate
    notes_drill: tuple = ()               # sft: notes-drill examples (persona/drill.py), added to the training split only
    notes_frame: Callable | None = None   # sft with the drill: the person's examples -> the same with their notes framed


@dataclass
class Prepared:
    run: RunDir
    description: str
    _train: Callable

    def train(self, events=None) -> dict:
        """Train (or continue) the run; returns its summary. Interrupts checkpoint and raise TrainingInterrupted.
        The run directory is locked meanwhile: a second process training the same run is refused (under a
        launcher, rank 0 holds the lock for all the run's processes)."""
        from .distributed import is_main_process

        with self.run.lock() if is_main_process() else contextlib.nullcontext():
            return self._train(events)


def check_lengths(ref, max_length: int, asked: bool, examples: list) -> None:
    """Before a run folder exists: an example too long names the user's file and line (not the run's copy), and a
    --max-length beyond the model's context is refused rather than quietly lowered."""
    from .. import models
    from ..dataset.token_stats import model_context
    from ..errors import ConfigError
    from .batching import encode_all

    context = model_context(ref.name)
    if asked and max_length > context:
        raise ConfigError(f"--max-length {max_length} is longer than the model's context of {context} tokens",
                          f"pass --max-length {context} or less")
    return encode_all(models.load_tokenizer(ref), examples, min(max_length, context))


def prepare_sft(request: TrainRequest, runs_dir: Path, defaults: Defaults) -> Prepared:
    from . import sft
    from .settings import SFTSettings

    from .. import models
    from .recipe import choose

    if request.data is None:
        raise TrainingError("no training data given", "pass DATA.jsonl, or --resume RUN_DIR")
    ref = models.resolve(request.model or defaults.model, runs_dir)   # an unknown model fails here, before a run folder
    train_examples = read_examples(request.data)
    if request.notes_frame is not None:       # with the drill: notes in the frame of the person's own examples too
        request = replace(request, data_info=request.data_info | {"notes_framed": True,
                                                                   "default_context": sft.default_context(train_examples)})
        train_examples = list(request.notes_frame(train_examples))
    continuing: dict = {}
    if request.continue_from:
        continuing, replayed = _continuing(request, runs_dir, len(train_examples))
        train_examples = train_examples + replayed
        request = replace(request, data_info=request.data_info | {"continued_from": request.continue_from,
                                                                   "replayed_examples": len(replayed)})
    if request.validation is not None:
        valid_examples = read_examples(request.validation)
        if request.notes_frame is not None:   # validated as it is trained: with the notes
            valid_examples = list(request.notes_frame(valid_examples))
    else:
        train_examples, valid_examples = auto_validation(train_examples, request.seed)
    drill = list(request.notes_drill)     # trained on, never validated on: the best step is the person's
    if drill:
        request = replace(request, data_info=request.data_info | {"notes_drill": len(drill)})
    choice = choose(train_examples + drill, valid_examples, full=request.full, epochs=request.epochs,
                    learning_rate_multiplier=request.learning_rate_multiplier, batch_size=request.batch_size,
                    select=request.select, patience=request.patience, refit=request.refit,
                    valid_from_train=request.validation is None)
    settings = SFTSettings(model=request.model or defaults.model, full=request.full, lora_rank=request.lora_rank,
                           neftune_alpha=request.neftune_alpha,
                           merge=request.merge, precision=request.precision, max_length=request.max_length,
                           packing=request.packing, device=request.device, load_4bit=request.load_4bit,
                           max_steps=request.max_steps, seed=request.seed, report_to=tuple(request.report_to),
                           suffix=request.suffix or defaults.suffix, **choice.settings)
    if continuing:
        settings = replace(settings, **continuing)
    if ref.kind != "clone":
        encoded = check_lengths(ref, settings.max_length, request.max_length != TrainRequest.max_length,
                                train_examples + valid_examples + drill)
        if not request.force:
            from .memory import check_run

            check_run(ref, settings, max((len(e) for e in encoded), default=1), request.processes)
    info = {"train_file": str(request.data), "valid_file": str(request.validation) if request.validation else None,
            "recipe": choice.to_dict()}
    run = sft.prepare_run(train_examples, valid_examples, settings, request.out, runs_dir, info | request.data_info,
                          drill)
    return Prepared(run, f"{len(train_examples)} train{f' (+{len(drill)} notes drill)' if drill else ''}, "
                         f"{len(valid_examples)} validation examples",
                    lambda events: sft.train(run, events, workspace_runs=runs_dir))


def _continuing(request: TrainRequest, runs_dir: Path, new: int) -> tuple[dict, list]:
    """The settings that train a clone's adapter further, and a seeded sample of its own training data to replay."""
    import random

    from .. import models

    ref = models.resolve(request.continue_from, runs_dir)
    if ref.kind != "clone" or ref.run_dir is None or Path(ref.path).name == "model":
        raise TrainingError(f"--continue needs a LoRA clone, and '{request.continue_from}' is a {ref.kind} model"
                            + (" with merged weights" if ref.kind == "clone" else ""),
                            "pass a clone trained with LoRA (see `selfclone models`), or train DATA on a base model")
    earlier_path = Path(ref.run_dir) / "data" / "train.jsonl"
    earlier = read_examples(earlier_path) if earlier_path.exists() else []
    count = min(len(earlier), round(new * request.replay))
    replayed = random.Random(request.seed).sample(earlier, count)
    return {"model": ref.base, "continue_from": request.continue_from, "full": False}, replayed


def _default_start(method: str, request: TrainRequest, defaults: Defaults, runs_dir: Path) -> str:
    from .. import models
    from ..errors import ModelNotFound

    if request.from_:
        return request.from_
    if method == "reward" and request.model:
        return request.model
    if request.ranked_model:
        try:
            models.resolve(request.ranked_model, runs_dir)
        except ModelNotFound as exc:
            raise TrainingError(f"the rankings were made with '{request.ranked_model}', which no longer exists "
                                f"({exc.message})", "pass --from MODEL to train another model on these preferences") from None
        return request.ranked_model
    if method == "reward":
        return defaults.model
    raise TrainingError(f"--method {method} needs the model to start from", "pass --from CLONE_OR_RUN")


def _prepare_preference(method: str, request: TrainRequest, runs_dir: Path, defaults: Defaults) -> Prepared:
    from .. import models
    from ..dataset.preferences import read_preferences, split_by_prompt
    from . import dpo, reward as reward_mod, rl
    from .preference_runs import PreferenceSettings, start_point

    pairs, info = list(request.pairs), dict(request.pairs_info)
    if request.preferences is not None:
        pairs, info = read_preferences(request.preferences), {"preferences_file": str(request.preferences)}
    start = start_point(_default_start(method, request, defaults, runs_dir), runs_dir)
    match = models.CLONE_NAME.match(start.ref.name) if start.ref.kind == "clone" else None
    base_suffix = match["suffix"] if match else defaults.suffix
    given = {"epochs": request.epochs, "batch_size": request.batch_size,       # auto: the method's own default
             "learning_rate_multiplier": request.learning_rate_multiplier}
    settings = PreferenceSettings(method, start=start.ref.name, **{k: v for k, v in given.items() if v is not None},
                                  lora_rank=request.lora_rank, beta=request.beta, max_steps=request.max_steps,
                                  seed=request.seed, precision=request.precision,
                                  suffix=request.suffix or f"{base_suffix}-{method}",
                                  reward_run=str(request.reward) if request.reward else None)
    if method == "rl":
        from ..dataset.prompts import prompts_from_file

        prompts = [p.messages for p in prompts_from_file(request.data, defaults.system)] if request.data \
            else [p.prompt for p in pairs]
        run = rl.prepare(prompts, settings, start, request.out, runs_dir, info)
    else:
        if not pairs:
            raise TrainingError(f"--method {method} needs preference pairs",
                                "pass --preferences FILE, or rank candidates first: `selfclone rank MODEL`")
        if request.validation is not None:
            train_pairs, valid_pairs = pairs, read_preferences(request.validation)
        else:
            train_pairs, valid_pairs = split_by_prompt(pairs, seed=request.seed)
        module = dpo if method == "dpo" else reward_mod
        run = module.prepare(train_pairs, valid_pairs, settings, start, request.out, runs_dir, info)
    trainer = {"dpo": dpo, "reward": reward_mod, "rl": rl}[method]
    adapter = ", continuing its LoRA adapter" if start.adapter else ""
    return Prepared(run, f"{method} from {start.ref.name}{adapter}", lambda events: trainer.train(run, start, events))


def _preference(method: str):
    return lambda request, runs_dir, defaults: _prepare_preference(method, request, runs_dir, defaults)


METHODS: dict[str, Callable[[TrainRequest, Path, Defaults], Prepared]] = {
    "sft": prepare_sft,
    "dpo": _preference("dpo"),
    "reward": _preference("reward"),
    "rl": _preference("rl"),
}


def prepare(request: TrainRequest, runs_dir: Path, defaults: Defaults | None = None) -> Prepared:
    if request.method not in METHODS:
        raise TrainingError(f"unknown --method {request.method!r}", f"choose one of: {', '.join(METHODS)}")
    return METHODS[request.method](request, runs_dir, defaults or Defaults())


RESUMABLE = ("sft", "full", "lora")        # run.json methods that continue from a checkpoint


def resume(run: RunDir, runs_dir: Path | None) -> Prepared:
    """Continue an interrupted run from its last checkpoint (supervised runs; preference runs start afresh)."""
    from . import sft

    method = run.info().get("method", "sft")
    if method not in RESUMABLE:
        raise TrainingError(f"{run.path} is a {method} run, which cannot be resumed", "start it again")
    return Prepared(run, "resuming", lambda events: sft.train(run, events, workspace_runs=runs_dir))
