"""Devices, QLoRA's requirements, the memory estimate before loading, `models recommend`, a model folder's own chat
template, and the Accelerate launcher's config checks: each bad input gets its message and way out."""
import json
import shutil

import pytest

from selfclone import models
from selfclone.cli import main
from selfclone.dataset.chat import Example, write_examples
from selfclone.errors import ConfigError, TrainingError
from selfclone.train import devices, memory, sft
from selfclone.train.batching import encode_example
from selfclone.train.launch import accelerate_command, read_accelerate_config
from selfclone.train.settings import SFTSettings

LLAMA3 = ("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
          "{{ m['content'] }}<|eot_id|>{% endfor %}"
          "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")


def data_file(tmp_path, n=8):
    path = tmp_path / "data.jsonl"
    write_examples(path, [Example.chat(("user", f"q{i}?"), ("assistant", "aye, the tide."), system="You are Maggie.")
                          for i in range(n)])
    return path


def test_cuda_asked_without_cuda_says_the_way_out(tmp_path, capsys, tiny_model_dir):
    with pytest.raises(TrainingError, match="torch sees none") as err:
        devices.pick("cuda")
    assert "--device cpu" in err.value.hint
    assert devices.pick("auto").type == "cpu"
    out = tmp_path / "run"
    code = main(["train", str(data_file(tmp_path)), "--model", str(tiny_model_dir), "--device", "cuda",
                 "--out", str(out)])
    assert code == 2 and "--device cpu" in capsys.readouterr().err
    assert not out.exists()                                      # refused before a run folder exists


def test_qlora_needs_cuda_then_bitsandbytes(tmp_path, capsys, tiny_model_dir):
    code = main(["train", str(data_file(tmp_path)), "--model", str(tiny_model_dir), "--load-4bit"])
    assert code == 2 and "needs an NVIDIA GPU" in capsys.readouterr().err
    with pytest.raises(TrainingError, match="bitsandbytes package, which is not installed") as err:
        devices.check_4bit(devices.Device("cuda", 0, bf16=True))   # as a GPU machine without bitsandbytes sees it
    assert "pip install bitsandbytes" in err.value.hint
    with pytest.raises(ConfigError, match="cannot train every weight"):
        SFTSettings(full=True, load_4bit=True)


def test_the_estimate_counts_the_real_models_parameters(tiny_model_dir):
    from peft import LoraConfig, get_peft_model

    model, _ = models.load(models.resolve(str(tiny_model_dir)))
    shape = memory.Shape.from_dir(tiny_model_dir)
    assert shape.parameters == sum(p.numel() for p in model.parameters())
    peft_model = get_peft_model(model, LoraConfig(r=16, target_modules="all-linear", task_type="CAUSAL_LM"))
    assert shape.lora_parameters(16) == sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    published = {"Qwen2.5-7B-Instruct": 7.62, "Llama-3.1-8B-Instruct": 8.03, "Mistral-7B-Instruct-v0.3": 7.25,
                 "gemma-2-9b-it": 9.24, "Qwen2.5-0.5B-Instruct": 0.49}
    for name, billions in published.items():
        assert memory.KNOWN_BASES[name].parameters / 1e9 == pytest.approx(billions, abs=0.01)
    big = memory.KNOWN_BASES["Qwen2.5-14B-Instruct"]
    lora, qlora, full = (memory.estimate(big, m, batch_size=4, seq_length=1024).total for m in memory.METHODS)
    assert qlora < lora < full


def test_a_model_too_large_is_refused_before_loading_unless_forced(tmp_path, capsys, tiny_model_dir):
    big = tmp_path / "qwen-14b-shaped"       # a 14B config with a tokenizer and no weights: the estimate needs no more
    big.mkdir()
    for path in tiny_model_dir.iterdir():               # the tokenizer's files (and chat template), no weights
        if path.suffix != ".safetensors" and path.name != "config.json":
            shutil.copy(path, big / path.name)
    config = json.loads((tiny_model_dir / "config.json").read_text())
    shape = memory.KNOWN_BASES["Qwen2.5-14B-Instruct"]
    config.update(hidden_size=shape.hidden_size, num_hidden_layers=shape.num_hidden_layers,
                  intermediate_size=shape.intermediate_size, num_attention_heads=shape.num_attention_heads,
                  num_key_value_heads=shape.num_key_value_heads, vocab_size=shape.vocab_size, head_dim=128)
    (big / "config.json").write_text(json.dumps(config))
    code = main(["train", str(data_file(tmp_path)), "--model", str(big), "--full", "--out", str(tmp_path / "r1")])
    err = capsys.readouterr().err
    assert code == 2 and "needs about" in err and "RAM available" in err, err
    assert "LoRA (leave out --full)" in err and "--force" in err and not (tmp_path / "r1").exists()
    code = main(["train", str(data_file(tmp_path)), "--model", str(big), "--full", "--force", "--max-steps", "1",
                 "--out", str(tmp_path / "r2")])
    assert code != 0 and "needs about" not in capsys.readouterr().err      # past the estimate, to the (absent) weights
    with pytest.raises(TrainingError, match="needs about") as err:
        memory.check_fits(memory.KNOWN_BASES["Qwen2.5-7B-Instruct"], "lora", "cuda", batch_size=8, seq_length=1024,
                          available=16 * memory.GiB)
    assert "--load-4bit" in err.value.hint and "--batch-size 4" in err.value.hint


def test_models_recommend_lists_every_known_base(capsys):
    assert main(["models", "recommend", "--json", "--batch-size", "1", "--seq-length", "128"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = {r["model"]: r for r in result["models"]}
    assert set(rows) == set(memory.KNOWN_BASES)
    assert rows["SmolLM2-135M-Instruct"]["lora"]["fits"]
    assert not rows["Qwen2.5-14B-Instruct"]["full"]["fits"]          # 14.8B x 16 bytes is beyond any RAM here
    assert rows["Qwen2.5-7B-Instruct"]["qlora"]["why"] == "needs CUDA"
    assert main(["models", "recommend"]) == 0 and "estimates" in capsys.readouterr().out


def test_a_model_folder_trains_with_its_own_chat_template(tmp_path, tiny_model_dir):
    folder = tmp_path / "llama3-style"
    shutil.copytree(tiny_model_dir, folder)
    tokenizer = models.load_tokenizer(models.resolve(str(folder)))
    tokenizer.chat_template = LLAMA3
    tokenizer.save_pretrained(folder)
    examples = [Example.chat(("user", "how are the bees?"), ("assistant", "fine."), system="You are Maggie.")] * 4
    settings = SFTSettings(model=str(folder), batch_size=2, max_steps=2, report_to=("none",), precision="fp32")
    run = sft.prepare_run(examples, [], settings, tmp_path / "run", tmp_path, {"train_file": "mem"})
    sft.train(run)
    saved = models.load_tokenizer(models.resolve(str(run.path)))
    assert saved.chat_template == LLAMA3                            # chat and vLLM use what training used
    encoded = encode_example(saved, examples[0])
    text = saved.decode(encoded.input_ids)
    assert "<|start_header_id|>assistant<|end_header_id|>" in text and "<|im_start|>user" not in text  # not ChatML
    trained = saved.decode([t for t, label in zip(encoded.input_ids, encoded.labels) if label != -100])
    assert trained.startswith("fine.") and "<|eot_id|>" in trained


def test_accelerate_configs_are_checked_then_passed_through(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("distributed_type: FSDP\nfsdp_config: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml does not parse"):
        read_accelerate_config(bad)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text("{}")
    assert main(["train", "--resume", str(run_dir), "--launcher", "accelerate", "--accelerate-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml does not parse" in err and "line" in err
    fsdp = tmp_path / "fsdp.yaml"
    fsdp.write_text("distributed_type: FSDP\nnum_processes: 2\nfsdp_config:\n  fsdp_sharding_strategy: FULL_SHARD\n")
    cmd = accelerate_command(run_dir, config=fsdp)
    assert cmd[cmd.index("--config_file") + 1] == str(fsdp)
    assert cmd[-5:] == ["-m", "selfclone", "train", "--resume", str(run_dir)]
    deepspeed = tmp_path / "zero3.yaml"
    deepspeed.write_text("distributed_type: DEEPSPEED\ndeepspeed_config:\n  zero_stage: 3\n")
    try:
        import deepspeed  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="asks for DeepSpeed, which is not installed"):
            accelerate_command(run_dir, config=deepspeed)
    else:
        assert str(deepspeed) in accelerate_command(run_dir, config=deepspeed)
    cmd = accelerate_command(run_dir, processes=2)
    assert cmd[cmd.index("--num_processes") + 1] == "2" and "--multi_gpu" in cmd
