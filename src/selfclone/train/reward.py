"""A reward model from the person's rankings: TRL's RewardTrainer, a LoRA adapter and a scalar head.

The model reads a prompt and a reply (rendered with the chat template, as the policy sees them) and gives
one number; trained on pairs with the Bradley-Terry loss -log sigmoid(r(chosen) - r(rejected)), so only
differences between replies to the same prompt mean anything. It starts from the base model (not from a
clone's adapter), so one reward model serves every clone and every refine round on that base.

Reported: per step, loss, reward_margin and pair_accuracy on the training pairs; at the end, the pairwise
accuracy on held-out rankings (whole prompts kept out of training), scored by the saved model reloaded.

    run = reward.prepare(pairs, valid_pairs, PreferenceSettings("reward", start="smollm2-135m"), start, None, runs)
    summary = reward.train(run, start)
    scorer = RewardScorer(run.path); scorer.score(prompts, replies)
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .. import models
from ..dataset.preferences import PreferencePair, trl_rows
from .preference_runs import (PreferenceSettings, Start, create_pairs_run, load_pairs_run, run_trainer, finish, last_values,
                              lora_config, quiet, run_callback, trainer_args)
from .rundir import RunDir


def prepare(pairs: list[PreferencePair], valid_pairs: list[PreferencePair], settings: PreferenceSettings,
            start: Start, out: Path | None, runs_dir: Path, info: dict | None = None) -> RunDir:
    """Create the run directory with its own copy of the pairs (pairs format)."""
    return create_pairs_run(pairs, valid_pairs, settings, start, out, runs_dir, info, "pairs", "train a reward model on")


def _load_head_model(base_model: str):
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()       # "score.weight newly initialized" is the point here, not a warning
    try:
        return AutoModelForSequenceClassification.from_pretrained(models.local_dir(models.resolve(base_model)),
                                                                  num_labels=1, dtype=torch.float32)
    finally:
        hf_logging.set_verbosity(verbosity)


def train(run: RunDir, start: Start, events=None) -> dict:
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    info = run.info()
    settings, pairs, valid = load_pairs_run(run)

    import torch

    torch.manual_seed(settings.seed)
    with quiet():
        model = _load_head_model(info["base_model"])
        tokenizer = models.load_tokenizer(models.resolve(info["base_model"]))
        args = trainer_args(RewardConfig, settings, run, len(pairs), bool(valid), max_length=settings.max_length)
        trainer = RewardTrainer(model=model, args=args, train_dataset=Dataset.from_list(trl_rows(pairs)),
                                eval_dataset=Dataset.from_list(trl_rows(valid)) if valid else None,
                                processing_class=tokenizer, peft_config=lora_config(settings, "SEQ_CLS"),
                                callbacks=[run_callback(run, settings, events)])
        common = run_trainer(trainer, run)
    rows = run.read_metrics()
    summary = common | {"pairs": len(pairs), "valid_pairs": len(valid)}
    summary |= last_values(rows, ("train_loss", "reward_margin", "pair_accuracy"))
    finish(run, trainer.model, tokenizer, settings, summary, register=False)
    if valid:
        # Scored by the saved model, reloaded: the number says what a later `--reward RUN` will get.
        summary["heldout_pairwise_accuracy"] = RewardScorer(run.path).pairwise_accuracy(valid)
        summary["heldout_prompts"] = len({p.prompt_key for p in valid})
        run.update(summary=summary)
    return summary


def win_rate(new: Sequence[float], old: Sequence[float]) -> float:
    """The share of pairs where `new` scores higher (a tie counts half)."""
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in zip(new, old, strict=True))
    return wins / max(len(new), 1)


class RewardScorer:
    """A finished reward run, loaded for scoring: `score(prompts, replies)` -> one float per reply."""

    def __init__(self, run_dir: Path | str, batch_size: int = 8):
        import torch
        from peft import PeftModel

        self.run = RunDir(Path(run_dir))
        info = self.run.info()
        self.base_model = info["base_model"]
        self.tokenizer = models.load_tokenizer(models.resolve(self.base_model))
        with quiet():
            model = PeftModel.from_pretrained(_load_head_model(self.base_model), str(self.run.adapter))
            self.model = model.merge_and_unload().eval()
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.batch_size = batch_size
        self._torch = torch

    def score(self, prompts: Sequence[Sequence[dict]], replies: Sequence[str]) -> list[float]:
        torch = self._torch
        texts = [self.tokenizer.apply_chat_template(list(p) + [{"role": "assistant", "content": r}], tokenize=False)
                 for p, r in zip(prompts, replies, strict=True)]
        out: list[float] = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(texts[i:i + self.batch_size], return_tensors="pt", padding=True,
                                       add_special_tokens=False)
                out += self.model(**batch).logits[:, 0].float().tolist()
        return out

    def pairwise_accuracy(self, pairs: Sequence[PreferencePair]) -> float:
        """The share of pairs whose chosen reply scores higher (a tie counts half)."""
        prompts = [p.prompt for p in pairs]
        chosen = self.score(prompts, [p.chosen for p in pairs])
        rejected = self.score(prompts, [p.rejected for p in pairs])
        return win_rate(chosen, rejected)
