"""Real DPO, reward-model and RL (GRPO) steps on the tiny model, on top of a real supervised LoRA clone."""
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from selfclone import models
from selfclone.dataset.chat import Example
from selfclone.errors import ModelNotFound, TrainingError
from selfclone.train import dpo, reward, rl, sft
from selfclone.dataset.preferences import PreferencePair
from selfclone.train.preference_runs import PreferenceSettings, start_point
from selfclone.refine.rank import RankingLog, RankPrompt
from selfclone.train.settings import SFTSettings

pytestmark = pytest.mark.slow


def run_preference_method(method, *, workspace, **fields):
    """What `selfclone train --method METHOD` does without printing: pairs from the workspace's rankings, the
    registry's prepare, train; returns the run's run.json."""
    from dataclasses import replace

    from selfclone.train import methods
    from selfclone.train.commands import store_pairs, workspace_defaults

    request = methods.TrainRequest(method=method, **fields)
    if request.preferences is None:
        request = replace(request, **store_pairs(workspace, request.from_, workspace.runs_dir))
    prepared = methods.prepare(request, workspace.runs_dir, workspace_defaults(workspace))
    prepared.train()
    return prepared.run.info() | {"run_dir": str(prepared.run.path)}
SELFCLONE = str(Path(sys.executable).with_name("selfclone"))
SYSTEM = {"role": "system", "content": "You are Maggie."}
GOOD = ["aye, stewed, milk after.", "right then, the bees are fine.", "biscuit's asleep by the stove. over."]
BAD = ["As an AI language model, I cannot drink tea.", "I am happy to help with that!", "Certainly! Here is a list."]


def prompt(i):
    return (SYSTEM, {"role": "user", "content": f"question {i}?"})


def pairs(n, offset=0):
    return [PreferencePair(prompt(offset + i), GOOD[i % 3], BAD[i % 3]) for i in range(n)]


@pytest.fixture(scope="module")
def clone(tmp_path_factory, tiny_model_dir):
    """A supervised LoRA clone of the tiny model (2 real steps), its run directory and name."""
    root = tmp_path_factory.mktemp("pref-runs")
    examples = [Example.chat(("user", f"question {i}?"), ("assistant", GOOD[i % 3]), system="You are Maggie.")
                for i in range(8)]
    settings = SFTSettings(model=str(tiny_model_dir), epochs=1, batch_size=4, report_to=("none",), precision="fp32",
                           learning_rate_multiplier=20, suffix="maggie")
    run = sft.prepare_run(examples, [], settings, None, root, {})
    sft.train(run)
    return root, run.info()["name"]


def settings(method, start, **kw):
    return PreferenceSettings(method, start=start, batch_size=kw.pop("batch_size", 2), max_steps=kw.pop("steps", 2),
                              learning_rate_multiplier=kw.pop("lr", 20.0), precision="fp32", report_to=("none",),
                              suffix=kw.pop("suffix", f"maggie-{method}"), **kw)


def logits(name, runs):
    model, tokenizer = models.load(models.resolve(name, runs))
    ids = tokenizer.apply_chat_template(list(prompt(0)), add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)["input_ids"]
    with torch.no_grad():
        return model(ids).logits


def test_dpo_continues_the_clone_adapter_and_reloads(clone):
    runs, name = clone
    start = start_point(name, runs)
    assert start.adapter is not None                       # the supervised adapter is trained further
    run = dpo.prepare(pairs(4), pairs(2, offset=10), settings("dpo", name), start, None, runs)
    summary = dpo.train(run, start)
    rows = run.read_metrics()
    steps = [r for r in rows if "train_loss" in r]
    assert len(steps) == 2 and all(math.isfinite(r["train_loss"]) for r in steps)
    for key in ("reward_chosen", "reward_rejected", "reward_margin", "reward_accuracy", "learning_rate"):
        assert key in steps[-1]
    assert any("valid_reward_accuracy" in r for r in rows)
    assert summary["changed_tensors"] > 0 and run.curves_path.stat().st_size > 10_000
    info = run.info()
    assert (info["method"], info["status"], info["from"], info["continues_adapter"]) == ("dpo", "finished", name, True)
    assert info["base_model"] == start.base_model and info["name"].startswith("ft:")
    new, old = load_file(run.adapter / "adapter_model.safetensors"), load_file(start.adapter / "adapter_model.safetensors")
    assert set(new) == set(old)                            # same adapter layout, no frozen "ref" copy saved
    assert any(not torch.equal(new[k], old[k]) for k in new)
    assert not torch.allclose(logits(info["name"], runs), logits(name, runs))   # reloads by name, behaves differently


def test_reward_model_reports_heldout_pairwise_accuracy(clone):
    runs, name = clone
    start = start_point(name, runs)
    run = reward.prepare(pairs(6), pairs(3, offset=20), settings("reward", name, steps=3, lr=10.0), start, None, runs)
    summary = reward.train(run, start)
    rows = run.read_metrics()
    assert all(math.isfinite(r["train_loss"]) for r in rows if "train_loss" in r)
    assert {"pair_accuracy", "reward_margin"} <= set(rows[0])
    assert 0.0 <= summary["heldout_pairwise_accuracy"] <= 1.0 and summary["heldout_prompts"] == 3
    assert summary["changed_tensors"] > 0
    adapter = load_file(run.adapter / "adapter_model.safetensors")
    assert any("score" in k for k in adapter)             # the scalar head is saved with the adapter
    info = run.info()
    assert info["name"].startswith("rm:") and info["base_model"] == start.base_model
    scorer = reward.RewardScorer(run.path)
    scores = scorer.score([prompt(0), prompt(0)], [GOOD[0], BAD[0]])
    assert len(scores) == 2 and scores[0] != scores[1]
    assert scorer.pairwise_accuracy(pairs(3, offset=20)) == summary["heldout_pairwise_accuracy"]
    with pytest.raises(TrainingError, match="is a reward model, not a chat model"):
        start_point(str(run.path), runs)


def test_rl_optimizes_against_the_reward_model(clone):
    runs, name = clone
    start = start_point(name, runs)
    rm = reward.prepare(pairs(4), [], settings("reward", name), start, None, runs)
    reward.train(rm, start)
    s = settings("rl", name, batch_size=4, num_generations=2, max_completion_length=6, reward_run=str(rm.path))
    run = rl.prepare([p.prompt for p in pairs(4)], s, start, None, runs)
    summary = rl.train(run, start)
    steps = [r for r in run.read_metrics() if "train_loss" in r]
    assert len(steps) == 2 and all(math.isfinite(r["train_loss"]) for r in steps)
    assert "reward_mean" in steps[0] and all("kl" in r and "clip_ratio" in r for r in steps)
    assert summary["changed_tensors"] > 0 and summary["reward_first"] is not None
    info = run.info()
    assert info["method"] == "rl" and info["settings"]["reward_run"] == str(rm.path.resolve())
    assert not torch.allclose(logits(info["name"], runs), logits(name, runs))


def test_rl_refuses_a_reward_model_of_another_base(clone, tiny_model_dir, tmp_path):
    runs, name = clone
    other = shutil.copytree(tiny_model_dir, tmp_path / "other-base")
    other_start = start_point(str(other), runs)
    rm = reward.prepare(pairs(2), [], settings("reward", str(other), steps=1), other_start, None, runs)
    reward.train(rm, other_start)
    s = settings("rl", name, batch_size=4, reward_run=str(rm.path))
    with pytest.raises(TrainingError, match="trained on base model .*other-base.* but .* is built on") as err:
        rl.prepare([p.prompt for p in pairs(4)], s, start_point(name, runs), None, runs)
    assert "--method reward" in err.value.hint
    dpo_run = next(p for p in runs.iterdir() if (p / "run.json").exists()
                   and json.loads((p / "run.json").read_text())["method"] == "lora")
    with pytest.raises(TrainingError, match="is a lora run, not a reward model"):
        rl.prepare([p.prompt for p in pairs(4)], s.__class__.from_dict(s.to_dict() | {"reward_run": str(dpo_run)}),
                   start_point(name, runs), None, runs)


def test_preferences_for_a_model_that_no_longer_exists(ws):
    gone = "ft:tiny:maggie:20990101-000000-dead"
    with ws.store() as store:
        log = RankingLog(store)
        item = log.add_item(gone, RankPrompt(prompt(0)), [GOOD[0], BAD[0]])
        log.save_ranking(item, "order", [0, 1])
    with pytest.raises(TrainingError, match=f"rankings were made with '{gone}', which no longer exists") as err:
        run_preference_method("dpo", workspace=ws)
    assert "--from" in err.value.hint
    with pytest.raises(ModelNotFound, match="no clone named"):
        run_preference_method("dpo", from_="ft:tiny:other:20990101-000000-beef", workspace=ws)


def write_chat(path, questions, replies):
    path.write_text("".join(json.dumps({"messages": [SYSTEM, {"role": "user", "content": q},
                                                     {"role": "assistant", "content": r}]}) + "\n"
                            for q, r in zip(questions, replies, strict=True)))
    return path


def test_train_dpo_from_workspace_rankings_defaults_to_the_ranked_clone(clone, ws):
    runs, name = clone
    with ws.store() as store:
        log = RankingLog(store)
        for i in range(3):
            item = log.add_item(name, RankPrompt(prompt(i)), [GOOD[i], BAD[i], "meh."])
            log.save_ranking(item, "order", [0, 2, 1])
    info = run_preference_method("dpo", workspace=ws, max_steps=2, batch_size=2, learning_rate_multiplier=20)
    assert info["from"] == name and info["train_pairs"] == 9 and info["rankings_of"] == name
    assert info["name"].split(":")[2] == "maggie-dpo" and info["summary"]["changed_tensors"] > 0
    assert models.resolve(info["name"]).run_dir.resolve() == (ws.runs_dir / info["id"]).resolve()


def test_refine_round_with_the_simulated_ranker(clone, ws, tmp_path):
    runs, name = clone
    prompts = write_chat(tmp_path / "prompts.jsonl", [f"question {i}?" for i in range(3)], GOOD)
    heldout = write_chat(tmp_path / "heldout.jsonl", ["Tea?", "Bees?"], GOOD[:2])
    done = subprocess.run([SELFCLONE, "refine", name, "--rounds", "1", "--per-round", "3", "--n", "2", "--simulate",
                           "--prompts", str(prompts), "--heldout", str(heldout), "--compare", "2",
                           "--max-steps", "2", "--batch-size", "2", "--max-tokens", "8"], cwd=ws.root, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(simulated ranker)" in done.stdout and "win rate" in done.stdout
    [run_dir] = [p for p in ws.runs_dir.iterdir() if (p / "run.json").exists()]
    info = json.loads((run_dir / "run.json").read_text())
    refine = info["refine"]
    assert info["name"].split(":")[2] == "maggie-r1" and refine["previous"] == name and refine["simulated"]
    assert 0 <= refine["win_rate_simulated"] <= 1 and refine["prompts"] == 2
    assert math.isfinite(refine["old_heldout_loss"]) and refine["old_heldout_loss"] != refine["new_heldout_loss"]
    with ws.store() as store:
        assert store.db.execute("select count(*) from rankings where model = ?", (name,)).fetchone()[0] == 3
