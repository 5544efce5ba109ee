"""Held-out loss: only the last real reply is scored, a model scores its own training replies better than
random text, and the batched loss equals the one-at-a-time loop.

    /work/main/.venv/bin/pytest -q tests/evaluate/test_heldout.py
"""
from __future__ import annotations

import math
import random

import pytest

from selfclone import models
from selfclone.dataset.chat import Example
from selfclone.evaluate.heldout import heldout_loss, loss_one_at_a_time, scored_example
from selfclone.train.batching import IGNORE, encode_all


def test_scored_example_scores_only_the_last_reply_and_applies_the_transform():
    ex = Example.chat(("user", "hi"), ("assistant", "first"), ("user", "and?"), ("assistant", "second"), system="S")
    scored = scored_example(ex, lambda msgs: [{"role": "system", "content": "P"}] + msgs[1:])
    assert [(t.role, t.content, t.trained) for t in scored.messages] == [
        ("system", "P", False), ("user", "hi", False), ("assistant", "first", False), ("user", "and?", False),
        ("assistant", "second", True)]


def _shuffled_tokens(tokenizer, text: str, rng: random.Random) -> str:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    rng.shuffle(ids)
    return tokenizer.decode(ids)


def test_a_model_scores_its_own_training_replies_better_than_random_text(tiny_model_dir, demo_train):
    import torch

    from selfclone.train.batching import collate
    from selfclone.train.loss import forward_selected

    model, tokenizer = models.load(models.resolve(str(tiny_model_dir)), trainable=True)
    seen = demo_train[:4]
    encoded = encode_all(tokenizer, [scored_example(e) for e in seen], 512)
    ids, mask, labels = collate(encoded, tokenizer.pad_token_id)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(25):                          # a few real steps: the tiny model memorises 4 replies
        loss = forward_selected(model, ids, mask, labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    rng = random.Random(0)
    scrambled = [Example.chat(("user", e.prompt()[-1]["content"]), ("assistant", _shuffled_tokens(tokenizer, e.reply(), rng)),
                              system=e.system) for e in seen]
    own = heldout_loss(model, tokenizer, seen)
    random_text = heldout_loss(model, tokenizer, scrambled)
    assert own["loss"] < random_text["loss"] - 1.0
    assert own["perplexity"] == pytest.approx(math.exp(own["loss"]))
    assert own["examples"] == 4 and own["tokens"] > 0


def test_batched_loss_equals_the_one_at_a_time_loop(tiny_model_dir, demo_heldout):
    model, tokenizer = models.load(models.resolve(str(tiny_model_dir)))
    examples = demo_heldout[:10]
    encoded = encode_all(tokenizer, [scored_example(e) for e in examples], 512)
    batched = heldout_loss(model, tokenizer, examples, batch_size=4, bf16=False)
    plain = loss_one_at_a_time(model, encoded)
    assert batched["loss"] == pytest.approx(plain["loss"], rel=1e-4)
    assert batched["tokens"] == plain["tokens"] == sum(sum(1 for x in e.labels if x != IGNORE) for e in encoded)


def test_bench_eval_measures_three_ways_that_agree(tiny_model_dir, capsys):
    from selfclone.bench.eval import bench_eval

    runs = bench_eval(examples=6, batch_size=3, rounds=2, model=str(tiny_model_dir), threads=None)
    assert len(runs) >= 3 and all(r["seconds"] > 0 for r in runs.values())
    losses = [r["loss"] for r in runs.values()]
    assert max(losses) - min(losses) < 0.02
    out = " ".join(capsys.readouterr().out.split())
    assert "examples/s" in out and "losses agree: True" in out and "cores" in out
    assert all(r["speedup"] > 0 for r in runs.values())
