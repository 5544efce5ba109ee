"""The learning-rate probe: the recipe asks for it only with enough data, the run records what it tried and chose,
and the run then trains from the untouched start at the chosen rate.

Real few-step training on the tiny in-process Llama (conftest.tiny_model_dir); nothing is mocked.
"""
import json

import pytest

from selfclone.dataset.chat import Example, write_examples
from selfclone.errors import ConfigError
from selfclone.train import methods, recipe, sft
from selfclone.train.settings import SFTSettings

REPLIES = ["aye, the tide turns at six.", "stewed tea, milk after. over.", "biscuit is asleep by the stove.",
           "right then, the bees are fine."]


def persona(n):
    return [Example.chat(("user", f"question {i}?"), ("assistant", REPLIES[i % 4]), system="You are Maggie.")
            for i in range(n)]


def test_the_recipe_probes_with_enough_data_and_says_why_not_otherwise():
    small = recipe.choose(persona(45), persona(5))
    large = recipe.choose(persona(4500), persona(500))
    assert "lr_probe" not in small.settings
    assert any("no probe" in r and "5 validation examples" in r for r in small.reasons)
    rule = large.settings["learning_rate_multiplier"]
    assert large.settings["lr_probe"] == (rule * 0.5, rule, rule * 2)
    budget = len(large.settings["lr_probe"]) * large.settings["probe_steps"]
    steps = -(-4500 // large.settings["batch_size"]) * large.settings["epochs"]
    assert recipe.MIN_PROBE_STEPS <= large.settings["probe_steps"] and budget <= 0.15 * steps
    # a short run has no room for it: 120 examples x 1 epoch
    short = recipe.choose(persona(120), persona(20), epochs=1)
    assert "lr_probe" not in short.settings and any("no probe" in r and "steps" in r for r in short.reasons)
    # a learning rate given by hand is never probed
    assert "lr_probe" not in recipe.choose(persona(4500), persona(500), learning_rate_multiplier=1.0).settings


def test_probe_settings_are_checked():
    with pytest.raises(ConfigError, match="lr_probe"):
        SFTSettings(lr_probe=(1.0, -2.0), probe_steps=3)
    with pytest.raises(ConfigError, match="probe_steps"):
        SFTSettings(lr_probe=(1.0,), probe_steps=0)


def _settings(tiny_model_dir, **kw):
    return SFTSettings(model=str(tiny_model_dir), batch_size=4, epochs=15, report_to=("none",), precision="fp32",
                       eval_every=100, **kw)


def test_the_probe_picks_the_lowest_validation_loss_and_trains_from_the_start(tmp_path, tiny_model_dir):
    probed = sft.prepare_run(persona(16), persona(8), _settings(tiny_model_dir, lr_probe=(0.01, 20.0, 2000.0),
                                                                probe_steps=3),
                             tmp_path / "probed", tmp_path, {"recipe": {"chosen": {}, "reasons": []}})
    summary = sft.train(probed)
    info = probed.info()
    probe = info["probe"]
    assert [r["multiplier"] for r in probe["results"]] == [0.01, 20.0, 2000.0] and probe["steps"] == 3
    lowest = min(probe["results"], key=lambda r: r["valid_loss"])
    assert probe["chosen"] == lowest["multiplier"] == info["settings"]["learning_rate_multiplier"]
    assert probe["chosen"] == 20.0               # 0.01 barely moves in 3 steps; 2000 overshoots
    assert info["recipe"]["chosen"]["learning_rate_multiplier"] == 20.0 and "probe steps" in info["recipe"]["reasons"][-1]
    assert summary["steps"] == 60

    # the same run at the chosen rate, without a probe: the probe left no trace in the weights or the random state
    plain = sft.prepare_run(persona(16), persona(8), _settings(tiny_model_dir, learning_rate_multiplier=20.0),
                            tmp_path / "plain", tmp_path, {})
    sft.train(plain)
    rows = {name: [r for r in run.read_metrics()] for name, run in (("probed", probed), ("plain", plain))}
    first = {name: next(r for r in r_ if "valid_loss" in r) for name, r_ in rows.items()}
    assert first["probed"]["step"] == 0 and first["probed"]["valid_loss"] == pytest.approx(first["plain"]["valid_loss"], rel=1e-6)
    steps = {name: [r for r in r_ if "train_loss" in r][:3] for name, r_ in rows.items()}
    assert [r["learning_rate"] for r in steps["probed"]] == pytest.approx([r["learning_rate"] for r in steps["plain"]])
    assert [r["train_loss"] for r in steps["probed"]] == pytest.approx([r["train_loss"] for r in steps["plain"]], rel=1e-6)


def test_a_capped_run_skips_the_probe_and_says_so(tmp_path, tiny_model_dir):
    run = sft.prepare_run(persona(16), persona(8), _settings(tiny_model_dir, lr_probe=(1.0, 2.0), probe_steps=3,
                                                             max_steps=4), tmp_path / "capped", tmp_path, {})
    sft.train(run)
    probe = run.info()["probe"]
    assert "--max-steps 4" in probe["skipped"] and probe["chosen"] == 1.0


def test_prepare_records_the_probe_plan_and_train_records_its_result(tmp_path, tiny_model_dir):
    data, valid = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    write_examples(data, persona(400))             # 400 examples: batch 8, 3 epochs, 150 steps, room for a probe
    write_examples(valid, persona(16))
    prepared = methods.prepare(methods.TrainRequest(data=data, validation=valid, model=str(tiny_model_dir),
                                                    out=tmp_path / "run", report_to=("none",)), tmp_path)
    planned = prepared.run.info()
    assert planned["settings"]["lr_probe"] == list(planned["recipe"]["chosen"]["lr_probe"])
    assert planned["settings"]["probe_steps"] >= recipe.MIN_PROBE_STEPS
    prepared.train()
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["probe"]["chosen"] in planned["settings"]["lr_probe"]
    assert info["settings"]["learning_rate_multiplier"] == info["probe"]["chosen"]
    assert info["probe"]["seconds"] >= 0 and len(info["probe"]["results"]) == 3
