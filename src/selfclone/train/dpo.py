"""DPO on top of a supervised clone: TRL's DPOTrainer with LoRA, the supervised policy as the reference.

Direct preference optimization moves the clone toward the replies the person preferred, without a reward
model or sampling: for each pair, the loss -log sigmoid(beta * (margin of the policy - margin of the
reference)) raises the chosen reply's log-probability against the rejected one's, relative to the
supervised model (which beta keeps it close to). Where it starts and what it saves: preference_runs.py.

Logged per step to metrics.jsonl and curves.png: the DPO loss; reward_chosen / reward_rejected (beta times
the policy-reference log-ratio of each reply), reward_margin (their difference), and reward_accuracy (the
share of pairs whose chosen reply has the higher reward); with held-out pairs, the same as valid_*.

    run = dpo.prepare(pairs, valid_pairs, PreferenceSettings("dpo", start="ft:..."), start, None, runs_dir)
    summary = dpo.train(run, start, events=None)
"""
from __future__ import annotations

from pathlib import Path

from ..dataset.preferences import PreferencePair, trl_rows
from .preference_runs import (PreferenceSettings, Start, create_pairs_run, load_pairs_run, run_trainer, finish, last_values,
                              load_policy, quiet, run_callback, trainer_args)
from .rundir import RunDir


def prepare(pairs: list[PreferencePair], valid_pairs: list[PreferencePair], settings: PreferenceSettings,
            start: Start, out: Path | None, runs_dir: Path, info: dict | None = None) -> RunDir:
    """Create the run directory with its own copy of the pairs (dpo format)."""
    return create_pairs_run(pairs, valid_pairs, settings, start, out, runs_dir, info, "dpo", "train on")


def train(run: RunDir, start: Start, events=None) -> dict:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    settings, pairs, valid = load_pairs_run(run)

    with quiet():
        model, tokenizer, peft_config = load_policy(start, settings)
        args = trainer_args(DPOConfig, settings, run, len(pairs), bool(valid), beta=settings.kl_beta,
                            max_length=settings.max_length)
        trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(trl_rows(pairs)),
                             eval_dataset=Dataset.from_list(trl_rows(valid)) if valid else None,
                             processing_class=tokenizer, peft_config=peft_config,
                             callbacks=[run_callback(run, settings, events)])
        common = run_trainer(trainer, run)

    rows = run.read_metrics()
    summary = common | {"pairs": len(pairs), "valid_pairs": len(valid), "beta": settings.kl_beta}
    summary |= last_values(rows, ("train_loss", "reward_margin", "reward_accuracy"))
    summary |= last_values(rows, ("valid_loss", "valid_reward_margin", "valid_reward_accuracy"), window=1)
    return finish(run, trainer.model, tokenizer, settings, summary, register=True)
