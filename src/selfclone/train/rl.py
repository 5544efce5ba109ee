"""Policy optimization against the reward model: GRPO from TRL, clipped, with a KL penalty to the clone.

Why GRPO and not PPO with a value head: TRL removed its PPO trainer in 1.13 (the last one was
`trl.experimental.ppo` in 1.12), and a PPO of our own would be a second, unmaintained RL stack. GRPO is TRL's
maintained on-policy trainer and keeps what matters from the seed article's PPO: sampled replies scored by a
reward model, the PPO clipped surrogate objective (ratio clipped to 1 +/- epsilon, active because each batch
of samples is used for `num_iterations` = 2 updates), and a KL penalty (beta) to the supervised policy. The
critic is replaced by the group baseline: each prompt gets `num_generations` replies and each reply's
advantage is its reward minus the group's mean, over the group's spread. That drops the value head (a
second network to fit, the unstable part at demo scale with a few hundred prompts) and halves the memory,
which is what lets it run on a CPU.

The reference for the KL term is exactly the supervised clone: starting from a LoRA clone, TRL keeps a frozen
copy of its adapter ("ref"); from a base model, the reference is the model with the new adapter off.
Logged per step: reward_mean (the reward model's score of the sampled replies), kl, clip_ratio, loss.

    run = rl.prepare(prompts, PreferenceSettings("rl", start="ft:...", reward_run="runs/RM"), start, None, runs)
    summary = rl.train(run, start)
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..errors import DataError, TrainingError
from ..fileio import write_jsonl
from .preference_runs import (PreferenceSettings, run_trainer, Start, canonical, create_run, finish, last_values,
                              load_policy, quiet, reward_run_info, run_callback, trainer_args)
from .rundir import RunDir


def check_reward_base(reward_info: dict, start: Start, reward_dir: Path) -> None:
    """A reward model judges replies of models on the base it was trained on; refuse any other base."""
    if canonical(reward_info["base_model"]) != canonical(start.base_model):
        raise TrainingError(f"the reward model {reward_dir} was trained on base model '{reward_info['base_model']}', "
                            f"but '{start.ref.name}' is built on '{start.base_model}'",
                            f"train a reward model for this base: `selfclone train --method reward --from "
                            f"{start.ref.name}`, or start rl from a clone of '{reward_info['base_model']}'")


def prepare(prompts: Sequence[Sequence[dict]], settings: PreferenceSettings, start: Start, out: Path | None,
            runs_dir: Path, info: dict | None = None) -> RunDir:
    if not settings.reward_run:
        raise DataError("rl needs a reward model", "pass --reward RUN_DIR (from `selfclone train --method reward`)")
    reward_run, reward_info = reward_run_info(settings.reward_run, runs_dir)
    check_reward_base(reward_info, start, reward_run.path)
    prompts = list({json.dumps(list(p), sort_keys=True): list(p) for p in prompts}.values())
    if len(prompts) < 2:
        raise DataError(f"rl needs at least 2 different prompts, got {len(prompts)}",
                        "pass a chat JSONL with more prompts, or rank more prompts")
    settings_dict = settings.to_dict() | {"reward_run": str(reward_run.path.resolve())}
    settings = PreferenceSettings.from_dict(settings_dict)
    run = create_run(settings, start, out, runs_dir, {"prompts": len(prompts), "reward_model": reward_info["name"]}
                     | (info or {}))
    write_jsonl(run.path / "data" / "prompts.jsonl", ({"prompt": p} for p in prompts))
    return run


def train(run: RunDir, start: Start, events=None) -> dict:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from .reward import RewardScorer

    info = run.info()
    settings = PreferenceSettings.from_dict(info["settings"])
    prompts = [json.loads(line)["prompt"] for line in (run.path / "data" / "prompts.jsonl").read_text().splitlines()]
    with quiet():
        scorer = RewardScorer(settings.reward_run)

        def reward_model(prompts, completions, **kwargs) -> list[float]:
            return scorer.score(prompts, [c[-1]["content"] if isinstance(c, list) else c for c in completions])

        model, tokenizer, peft_config = load_policy(start, settings)
        n_completions = len(prompts) * settings.num_generations
        args = trainer_args(GRPOConfig, settings, run, n_completions, False, beta=settings.kl_beta,
                            num_generations=settings.num_generations, num_iterations=2, epsilon=0.2,
                            max_completion_length=settings.max_completion_length, temperature=0.8, top_p=0.95,
                            disable_dropout=True)
        trainer = GRPOTrainer(model=model, args=args, reward_funcs=reward_model,
                              train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
                              processing_class=tokenizer, peft_config=peft_config,
                              callbacks=[run_callback(run, settings, events)])
        common = run_trainer(trainer, run)

    rows = run.read_metrics()
    rewards = [r["reward_mean"] for r in rows if r.get("reward_mean") is not None]
    summary = common | {"prompts": len(prompts), "beta": settings.kl_beta,
                        "reward_first": rewards[0] if rewards else None, "reward_last": rewards[-1] if rewards else None}
    summary |= last_values(rows, ("kl", "clip_ratio", "train_loss"))
    return finish(run, trainer.model, tokenizer, settings, summary, register=True)
