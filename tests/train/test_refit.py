"""The refit (train/refit.py): after the best step is found, train again on train + validation to that point;
the clone is the soup of the two (train/soup.py).

Real training on the tiny in-process Llama (conftest.tiny_model_dir); nothing is mocked.
"""
import json
import os
import signal

import pytest
import torch
from safetensors.torch import load_file

from selfclone import models
from selfclone.dataset.chat import Example, write_examples
from selfclone.train import methods, recipe, refit, sft
from selfclone.train.settings import SFTSettings

REPLIES = ["aye, the tide turns at six.", "stewed tea, milk after. over.", "biscuit is asleep by the stove.",
           "right then, the bees are fine."]
OTHER = ["Quantum chromodynamics governs gluons.", "Invoice 4471 is overdue; remit payment.",
         "The ISO 8601 date is 2026-12-01.", "Parliament adjourned until Thursday."]


def persona(n, replies=REPLIES):
    return [Example.chat(("user", f"question {i}?"), ("assistant", replies[i % 4]), system="You are Maggie.")
            for i in range(n)]


def _run(tmp_path, tiny_model_dir, name, **kw):
    settings = SFTSettings(model=str(tiny_model_dir), batch_size=4, report_to=("none",), precision="fp32",
                           eval_every=1, epochs=12, learning_rate_multiplier=50.0, refit=True, **kw)
    # validation replies unlike the training ones: the validation loss falls, then rises, so the best step is
    # before the last (as in test_recipe.py)
    return sft.prepare_run(persona(16), persona(8, OTHER), settings, tmp_path / name, tmp_path, {})


def _adapter(run):
    return load_file(run.adapter / "adapter_model.safetensors")


def test_the_refit_trains_on_train_and_validation_to_the_same_point_and_becomes_the_clone(tmp_path, tiny_model_dir):
    run = _run(tmp_path, tiny_model_dir, "refit")
    summary = sft.train(run)
    best = summary["selected_step"]
    assert best < summary["steps"], "the test data should make validation loss rise"
    sub = refit.child(run)
    child = sub.info()
    # 16 + 8 examples at batch 4: 6 steps per epoch instead of 4, so the same point is 1.5x the steps
    assert child["train_examples"] == 24 and child["valid_examples"] == 0
    assert summary["refit"]["steps"] == round(best * 1.5) == child["summary"]["steps"]
    assert child["settings"]["schedule_steps"] == round(12 * 4 * 1.5)
    lr = [r["learning_rate"] for r in sub.read_metrics() if "train_loss" in r]
    assert lr[-1] > 0.05 * max(lr)     # stopped part-way through the longer schedule, not decayed to zero
    # the clone's adapter is the soup: the exact average of the refit's last step and the first pass's best step
    last = load_file(sub.latest_checkpoint() / "trainable.safetensors")
    first_pass = load_file(run.checkpoints / "best" / "trainable.safetensors")
    adapter = _adapter(run)
    config = json.loads((run.adapter / "adapter_config.json").read_text())
    rank = run.info()["settings"]["lora_rank"]
    assert config["r"] == 2 * rank == summary["refit"]["soup"]["lora_rank"]
    scale = run.info()["settings"].get("lora_alpha") or 2 * rank
    scale /= rank

    def delta(weights, key):
        name = next(k for k in weights if k.replace(".default", "").endswith(key.split("base_model.model.")[-1]))
        return scale * weights[name.replace("lora_A", "lora_B")] @ weights[name]

    a_keys = [k for k in adapter if "lora_A" in k]
    assert a_keys
    for key in a_keys:
        soup = config["lora_alpha"] / config["r"] * adapter[key.replace("lora_A", "lora_B")] @ adapter[key]
        assert torch.allclose(soup, 0.5 * (delta(last, key) + delta(first_pass, key)), atol=1e-6), key
        assert not torch.allclose(soup, delta(last, key), atol=1e-6), key
    # one clone, the parent: the refit inside it is not listed
    index = json.loads(models.clone_index_path().read_text())
    assert index[run.info()["name"]] == str(run.path.resolve())
    assert str(sub.path.resolve()) not in index.values()


def test_a_ctrl_c_during_the_refit_resumes_it_without_redoing_the_first_pass(tmp_path, tiny_model_dir):
    reference = _run(tmp_path, tiny_model_dir, "reference")
    sft.train(reference)

    class InterruptInRefit:
        def on_start(self, total_steps, done_steps, info):
            self.refit = info["name"].endswith("(refit)")

        def on_step(self, row):
            if self.refit and row["step"] == 2:
                os.kill(os.getpid(), signal.SIGINT)     # what Ctrl-C sends: the loop stops after this step

        def on_eval(self, row):
            pass

    run = _run(tmp_path, tiny_model_dir, "interrupted")
    with pytest.raises(sft.TrainingInterrupted) as stopped:
        sft.train(run, InterruptInRefit())
    assert "refit" in stopped.value.message and str(run.path) in stopped.value.hint
    assert run.info()["status"] == "interrupted" and "phase1" in run.info()
    first_pass = [r["step"] for r in run.read_metrics() if "train_loss" in r]

    summary = sft.train(run)
    assert [r["step"] for r in run.read_metrics() if "train_loss" in r] == first_pass     # not trained again
    steps = [r["step"] for r in refit.child(run).read_metrics() if "train_loss" in r]
    assert steps == list(range(1, summary["refit"]["steps"] + 1))                         # no gaps, no repeats
    expected = reference.info()["summary"]["refit"] | {"train_seconds": summary["refit"]["train_seconds"]}
    assert summary["refit"].pop("soup") == expected.pop("soup")
    assert summary["refit"] == pytest.approx(expected)
    for key, value in _adapter(reference).items():
        assert torch.allclose(_adapter(run)[key], value, atol=1e-5), key


def test_the_recipe_refits_only_when_the_validation_split_came_from_the_data(tmp_path, tiny_model_dir):
    own = recipe.choose(persona(270), persona(30), valid_from_train=True)
    theirs = recipe.choose(persona(270), persona(30), valid_from_train=False)
    none = recipe.choose(persona(30), [], valid_from_train=True)
    assert own.settings["refit"] and "refit" in own.auto and any(r.startswith("refit: the 30 validation examples came out of your data") for r in own.reasons)
    assert not theirs.settings["refit"] and any("validation file is yours" in r for r in theirs.reasons)
    assert not none.settings["refit"]
    assert not recipe.choose(persona(270), persona(30), valid_from_train=True, refit=False).settings["refit"]
    data, valid = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    write_examples(data, persona(60))
    write_examples(valid, persona(8, OTHER))
    auto = methods.prepare(methods.TrainRequest(data=data, model=str(tiny_model_dir), out=tmp_path / "a",
                                                report_to=("none",)), tmp_path)
    given = methods.prepare(methods.TrainRequest(data=data, validation=valid, model=str(tiny_model_dir),
                                                 out=tmp_path / "b", report_to=("none",)), tmp_path)
    skipped = methods.prepare(methods.TrainRequest(data=data, model=str(tiny_model_dir), out=tmp_path / "c",
                                                   report_to=("none",), refit=False), tmp_path)
    assert [p.run.info()["settings"]["refit"] for p in (auto, given, skipped)] == [True, False, False]


def test_steps_for_keeps_the_point_of_the_schedule():
    assert refit.steps_for(66, 33, 99, 291, 8) == (74, 111)      # the demo: 262 + 29 examples at batch 8
    assert refit.steps_for(1, 10, 10, 5, 8) == (1, 1)
