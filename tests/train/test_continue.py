"""`selfclone train --continue CLONE`: a new round trains the clone's own adapter further, with replay."""
from __future__ import annotations

import pytest
from safetensors.torch import load_file

from selfclone import models
from selfclone.dataset.chat import Example, write_examples
from selfclone.errors import TrainingError
from selfclone.train import methods, sft
from selfclone.train.settings import SFTSettings


def chats(n, reply):
    return [Example.chat(("user", f"question {i}?"), ("assistant", reply), system="You are Maggie.") for i in range(n)]


def test_continue_trains_the_clone_adapter_with_replay(tmp_path, tiny_model_dir):
    settings = SFTSettings(model=str(tiny_model_dir), batch_size=4, report_to=("none",), precision="fp32",
                           learning_rate_multiplier=50.0, max_steps=3)
    first = sft.prepare_run(chats(16, "aye, the tide turns at six."), [], settings, tmp_path / "r1", tmp_path,
                            {"train_file": "mem"})
    sft.train(first)
    clone = first.info()["name"]
    new = tmp_path / "review.jsonl"
    write_examples(new, chats(6, "stewed tea, milk after. over."))
    request = methods.TrainRequest(data=new, validation=new, continue_from=clone, batch_size=4, precision="fp32",
                                   learning_rate_multiplier=50.0, max_steps=3, report_to=("none",), out=tmp_path / "r2")
    prepared = methods.prepare(request, tmp_path)
    info = prepared.run.info()
    assert info["continued_from"] == clone and info["replayed_examples"] == 6 and info["train_examples"] == 12
    assert info["base_model"] == str(tiny_model_dir) and info["settings"]["continue_from"] == clone
    prepared.train()
    old = load_file(first.adapter / "adapter_model.safetensors")
    grown = load_file(prepared.run.adapter / "adapter_model.safetensors")
    assert old.keys() == grown.keys()                       # the same adapter, trained further
    assert any((old[k] - grown[k]).abs().max() > 0 for k in old)
    ref = models.resolve(prepared.run.info()["name"], tmp_path)
    assert ref.kind == "clone" and ref.base == str(tiny_model_dir)


def test_continue_refuses_a_base_model(tmp_path, tiny_model_dir):
    data = tmp_path / "d.jsonl"
    write_examples(data, chats(4, "aye."))
    with pytest.raises(TrainingError, match="--continue needs a LoRA clone"):
        methods.prepare(methods.TrainRequest(data=data, continue_from=str(tiny_model_dir)), tmp_path)
