"""Real training on a tiny model built in-process: loss falls, weights change, output changes, resume is exact."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from selfclone import models
from selfclone.config import GenerationOptions
from selfclone.backends.transformers_backend import TransformersBackend
from selfclone.dataset.chat import Example
from selfclone.errors import DataError, TrainingError
from selfclone.train import sft
from selfclone.train.settings import SFTSettings

REPLIES = ["aye, the tide turns at six.", "stewed tea, milk after. over.", "biscuit is asleep by the stove.",
           "right then, the bees are fine."]


def examples(n=24):
    return [Example.chat(("user", f"question {i}?"), ("assistant", REPLIES[i % 4]), system="You are Maggie.")
            for i in range(n)]


def make_run(tmp_path, model_dir, name="run", **kw):
    settings = SFTSettings(model=str(model_dir), batch_size=4, report_to=kw.pop("report_to", ("none",)), precision="fp32",
                           learning_rate_multiplier=kw.pop("lr", 50.0), **kw)
    return sft.prepare_run(examples(), examples(8), settings, tmp_path / name, tmp_path, {"train_file": "mem"})


def test_training_lowers_loss_changes_adapter_and_output(tmp_path, tiny_model_dir):
    run = make_run(tmp_path, tiny_model_dir, epochs=3, report_to=("tensorboard",))
    before = TransformersBackend(str(tiny_model_dir))
    prompt = examples(1)[0].prompt()
    greedy = GenerationOptions(max_tokens=8, temperature=0)
    text_before = "".join(before.chat(prompt, greedy))
    summary = sft.train(run)
    rows = run.read_metrics()
    train_losses = [r["train_loss"] for r in rows if "train_loss" in r]
    assert all(torch.isfinite(torch.tensor(train_losses)))
    assert train_losses[-1] < train_losses[0] - 0.2      # a random 2-layer model starts at ln(49152) = 10.8
    assert summary["best_valid_loss"] < summary["initial_valid_loss"]
    info = run.info()
    assert info["status"] == "finished" and info["default_context"] == "You are Maggie."
    for key in ("step", "epoch", "train_loss", "train_token_accuracy", "train_sequence_accuracy",
                "elapsed_examples", "elapsed_tokens", "learning_rate"):
        assert key in rows[1]
    assert any("valid_sequence_accuracy" in r for r in rows)
    assert run.curves_path.stat().st_size > 10_000
    assert list((run.path / "tensorboard").glob("events.out.tfevents.*"))
    lora = load_file(run.adapter / "adapter_model.safetensors")
    assert any(k.endswith("lora_B.weight") and v.abs().sum() > 0 for k, v in lora.items())  # B starts at zero
    after = TransformersBackend(info["name"])          # resolves through the clone index
    assert "".join(after.chat(prompt, greedy)) != text_before


def test_merge_writes_a_standalone_model(tmp_path, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    run = make_run(tmp_path, tiny_model_dir, epochs=1, merge=True)
    sft.train(run)
    merged = AutoModelForCausalLM.from_pretrained(run.model)
    clone, _ = models.load(models.resolve(str(run.path)))
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, clone(ids).logits, atol=1e-4)


def test_full_fine_tuning_changes_every_layer(tmp_path, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    run = make_run(tmp_path, tiny_model_dir, epochs=1, full=True, lr=50.0)
    sft.train(run)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tuned = AutoModelForCausalLM.from_pretrained(run.model)
    changed = [n for (n, a), (_, b) in zip(base.named_parameters(), tuned.named_parameters()) if not torch.equal(a, b)]
    assert any("layers.0." in n for n in changed) and any("layers.1." in n for n in changed)


def test_ctrl_c_then_resume_reaches_the_same_final_step_and_loss(tmp_path, tiny_model_dir):
    reference = make_run(tmp_path, tiny_model_dir, "reference", epochs=30, eval_every=2)
    sft.train(reference)
    ref_rows = [r for r in reference.read_metrics() if "train_loss" in r]

    interrupted = make_run(tmp_path, tiny_model_dir, "interrupted", epochs=30, eval_every=2)
    cmd = [sys.executable, "-m", "selfclone.cli", "train", "--resume", str(interrupted.path)]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len([r for r in interrupted.read_metrics() if "train_loss" in r]) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "--resume" in output
    stopped = interrupted.info()
    assert stopped["status"] == "interrupted"
    stopped_at = max(r["step"] for r in interrupted.read_metrics())
    assert stopped_at < ref_rows[-1]["step"]

    sft.train(interrupted)
    rows = [r for r in interrupted.read_metrics() if "train_loss" in r]
    assert [r["step"] for r in rows] == list(range(1, ref_rows[-1]["step"] + 1))   # no gaps, no duplicates
    assert rows[-1]["train_loss"] == pytest.approx(ref_rows[-1]["train_loss"], rel=1e-3)


def test_finished_run_cannot_be_resumed(tmp_path, tiny_model_dir):
    run = make_run(tmp_path, tiny_model_dir, epochs=1)
    sft.train(run)
    with pytest.raises(TrainingError, match="already finished"):
        sft.train(run)


def test_example_longer_than_the_context_names_the_line(tmp_path, tiny_model_dir):
    data = tmp_path / "long.jsonl"
    rows = [Example.chat(("user", "hi"), ("assistant", "yo")).to_dict(),
            Example.chat(("user", "word " * 600), ("assistant", "yo")).to_dict()]
    data.write_text("\n".join(json.dumps(r) for r in rows))
    from selfclone.dataset.chat import read_examples

    settings = SFTSettings(model=str(tiny_model_dir), report_to=("none",))
    run = sft.prepare_run(read_examples(data), [], settings, tmp_path / "r", tmp_path, {})
    with pytest.raises(DataError) as err:
        sft.train(run)
    assert "line 2" in str(err.value) and "longer than the limit of 512" in str(err.value)


def test_neftune_noises_the_input_embeddings_in_training_steps_only(tiny_model_dir):
    model, _ = sft._build_model(SFTSettings(model=str(tiny_model_dir), neftune_alpha=5.0), None)
    ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
    embeddings = model.get_input_embeddings()
    clean = embeddings.weight[ids].detach()
    model.train()
    noisy = embeddings(ids).detach()
    scale = 5.0 / (ids.shape[1] * clean.shape[-1]) ** 0.5
    assert not torch.equal(noisy, clean) and float((noisy - clean).abs().max()) <= scale + 1e-6
    model.eval()
    assert torch.equal(embeddings(ids).detach(), clean)
    plain, _ = sft._build_model(SFTSettings(model=str(tiny_model_dir)), None)
    plain.train()
    assert torch.equal(plain.get_input_embeddings()(ids).detach(), plain.get_input_embeddings().weight[ids].detach())
