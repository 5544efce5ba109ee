"""The default recipe: auto settings from the data, best checkpoint by validation loss, early stopping.

Real few-step training on the tiny in-process Llama (conftest.tiny_model_dir); nothing is mocked.
"""
import json

import pytest
import torch
from safetensors.torch import load_file

from selfclone.dataset.chat import Example, write_examples
from selfclone.errors import ConfigError
from selfclone.train import methods, recipe, sft
from selfclone.train.settings import SFTSettings

REPLIES = ["aye, the tide turns at six.", "stewed tea, milk after. over.", "biscuit is asleep by the stove.",
           "right then, the bees are fine."]
OTHER = ["Quantum chromodynamics governs gluons.", "Invoice 4471 is overdue; remit payment.",
         "The ISO 8601 date is 2026-12-01.", "Parliament adjourned until Thursday."]


def persona(n, replies=REPLIES, words=""):
    return [Example.chat(("user", f"question {i}? {words}"), ("assistant", replies[i % 4]), system="You are Maggie.")
            for i in range(n)]


def test_auto_picks_different_settings_for_50_and_5000_examples():
    small = recipe.choose(persona(45), persona(5))
    large = recipe.choose(persona(4500), persona(500))
    assert set(small.auto) == set(large.auto) == {"epochs", "learning_rate_multiplier", "batch_size", "refit"}
    assert small.settings["epochs"] > large.settings["epochs"]
    assert small.settings["batch_size"] < large.settings["batch_size"]
    assert small.settings != large.settings
    assert all(s.settings["select"] == "best" and s.settings["patience"] > 0 for s in (small, large))
    assert len(small.reasons) >= 3 and any("epochs" in r for r in small.reasons)


def test_given_settings_are_kept_and_only_the_rest_chosen():
    choice = recipe.choose(persona(300), persona(30), epochs=7, batch_size=2)
    assert choice.settings["epochs"] == 7 and choice.settings["batch_size"] == 2
    assert choice.auto == ("learning_rate_multiplier", "refit")
    # 150 steps x 7 epochs = 1050 steps: a lower rate than the 99 steps of the demo's auto choice
    assert choice.settings["learning_rate_multiplier"] < recipe.choose(persona(261), persona(29)).settings[
        "learning_rate_multiplier"]


def test_long_examples_get_smaller_batches():
    long = persona(300, words="word " * 1500)
    assert recipe.choose(long, long[:30]).settings["batch_size"] < recipe.choose(persona(300), persona(30)).settings[
        "batch_size"]


def test_without_validation_the_choice_says_it_keeps_the_last_step():
    choice = recipe.choose(persona(30), [])
    assert choice.settings["select"] == "last" and choice.settings["patience"] == 0
    assert any("no validation" in r for r in choice.reasons)


@pytest.mark.parametrize("value", ["fast", "-1", "0"])
def test_a_bad_auto_value_names_the_flag(value):
    with pytest.raises(ConfigError, match="--epochs"):
        recipe.parse_auto(value, int, "--epochs")


def test_parse_auto_accepts_auto_and_numbers():
    assert recipe.parse_auto("auto", int, "--epochs") is None
    assert recipe.parse_auto("AUTO", float, "--x") is None
    assert recipe.parse_auto("2.5", float, "--x") == 2.5


def test_prepare_records_the_choice_in_run_json(tmp_path, tiny_model_dir):
    data = tmp_path / "train.jsonl"
    write_examples(data, persona(60))
    prepared = methods.prepare(methods.TrainRequest(data=data, model=str(tiny_model_dir), out=tmp_path / "run",
                                                    report_to=("none",)), tmp_path)
    info = prepared.run.info()
    assert info["recipe"]["chosen"] == {k: info["settings"][k] for k in info["recipe"]["chosen"]}
    assert info["settings"]["select"] == "best" and info["valid_examples"] == 6


def _run(tmp_path, tiny_model_dir, name, **kw):
    settings = SFTSettings(model=str(tiny_model_dir), batch_size=4, report_to=("none",), precision="fp32",
                           eval_every=1, **kw)
    # validation replies unlike the training ones: the clone first learns the chat frame (validation loss falls),
    # then memorises Maggie's four replies (it rises again), so the best step comes before the last.
    return sft.prepare_run(persona(16), persona(8, OTHER), settings, tmp_path / name, tmp_path, {})


def test_best_checkpoint_is_the_step_of_the_lowest_validation_loss(tmp_path, tiny_model_dir):
    run = _run(tmp_path, tiny_model_dir, "best", epochs=12, learning_rate_multiplier=50.0, select="best")
    summary = sft.train(run)
    evals = [r for r in run.read_metrics() if "valid_loss" in r and r["step"] > 0]
    lowest = min(evals, key=lambda r: r["valid_loss"])
    assert summary["select"] == "best" and summary["selected_step"] == lowest["step"]
    assert summary["selected_step"] < summary["steps"], "the test data should make validation loss rise"
    best = load_file(run.checkpoints / "best" / "trainable.safetensors")
    assert json.loads((run.checkpoints / "best" / "state.json").read_text())["step"] == lowest["step"]
    adapter = load_file(run.adapter / "adapter_model.safetensors")
    for key, value in adapter.items():
        match = [v for k, v in best.items() if k.replace(".default", "").endswith(key.split("base_model.model.")[-1])]
        assert match and torch.equal(match[0], value), key
    # the reloaded clone scores the validation set at the lowest loss, not at the last step's
    from selfclone import models
    from selfclone.train.batching import encode_all
    from selfclone.train.loss import evaluate

    model, tokenizer = models.load(models.resolve(str(run.path)))
    enc = encode_all(tokenizer, persona(8, OTHER), 1024)
    assert evaluate(model, enc, tokenizer.pad_token_id)["loss"] == pytest.approx(lowest["valid_loss"], rel=1e-3)


def test_patience_stops_training_early(tmp_path, tiny_model_dir):
    run = _run(tmp_path, tiny_model_dir, "patience", epochs=12, learning_rate_multiplier=50.0, patience=2)
    summary = sft.train(run)
    assert summary["stopped_early_at"] < 12 * 4 and summary["steps"] == summary["stopped_early_at"]
    evals = [r["valid_loss"] for r in run.read_metrics() if "valid_loss" in r and r["step"] > 0]
    assert min(evals[-2:]) >= min(evals)                    # the last two evaluations set no new best


def test_select_last_keeps_the_last_step(tmp_path, tiny_model_dir):
    run = _run(tmp_path, tiny_model_dir, "last", epochs=2, learning_rate_multiplier=50.0, select="last")
    summary = sft.train(run)
    assert summary["select"] == "last" and summary["selected_step"] == summary["steps"] == 8


def _cli(capsys, *argv):
    from selfclone.cli import main

    code = main(list(argv))
    out = capsys.readouterr()
    return code, " ".join(out.out.split()), " ".join(out.err.split())


def test_train_command_prints_what_the_recipe_chose(tmp_path, capsys, monkeypatch, tiny_model_dir):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "me.jsonl"
    write_examples(data, persona(60))
    code, out, err = _cli(capsys, "train", str(data), "--model", str(tiny_model_dir), "--max-steps", "2",
                          "--report-to", "none", "--epochs", "2", "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "recipe" in out and "batch size 4" in out and "learning rate x1" in out and "halved" in out
    assert not any(f"epochs {n}:" in out for n in (1, 2, 3, 5))      # --epochs 2 was given: no reason printed
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["settings"]["epochs"] == 2
    assert info["recipe"]["auto"] == ["batch_size", "learning_rate_multiplier", "refit"]
    assert "refit: the 6 validation examples came out of your data" in out
    assert "then trained again from the start on all 60 examples" in out and info["summary"]["refit"]["steps"] >= 1


def test_train_command_rejects_a_bad_auto_value(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "me.jsonl"
    write_examples(data, persona(10))
    code, _, err = _cli(capsys, "train", str(data), "--learning-rate-multiplier", "fast")
    assert code == 2 and "--learning-rate-multiplier must be 'auto' or a number" in err
