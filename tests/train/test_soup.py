"""The soup (train/soup.py): the clone is the exact average of the best step's weights and the refit's.

Real peft LoRA on the tiny in-process Llama (conftest.tiny_model_dir); nothing is mocked.
"""
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

from selfclone.train import checkpoint, soup


def _lora(tiny_model_dir, rank=4):
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    return get_peft_model(base, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear",
                                           task_type="CAUSAL_LM"))


def _randomize(model, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.copy_(torch.randn_like(p) * 0.05)
    return checkpoint.trainable_state(model)


def _deltas(model):
    return {name: layer.get_delta_weight("default") for name, layer in model.named_modules()
            if hasattr(layer, "lora_A") and "default" in layer.lora_A}


def test_the_soup_of_two_adapters_is_their_exact_average_and_reloads_as_the_clone(tmp_path, tiny_model_dir):
    model = _lora(tiny_model_dir)
    first = _randomize(model, 1)
    first_deltas = _deltas(model)
    _randomize(model, 2)                       # the refit's weights, as refit.run leaves them
    refit_deltas = _deltas(model)
    assert soup.average(model, first, full=False) == 8
    assert list(model.peft_config) == ["default"]
    for name, delta in _deltas(model).items():
        assert torch.allclose(delta, 0.5 * (first_deltas[name] + refit_deltas[name]), atol=1e-6), name
        assert not torch.allclose(delta, refit_deltas[name], atol=1e-4), name

    tokens = torch.tensor([[1, 5, 9, 14, 2]])
    with torch.no_grad():
        expected = model(tokens).logits
    model.save_pretrained(tmp_path / "adapter")
    assert sorted(p.name for p in (tmp_path / "adapter").iterdir()) == ["README.md", "adapter_config.json",
                                                                       "adapter_model.safetensors"]
    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tmp_path / "adapter")
    with torch.no_grad():
        assert torch.allclose(reloaded(tokens).logits, expected, atol=1e-5)
    merged = reloaded.merge_and_unload()
    with torch.no_grad():
        assert torch.allclose(merged(tokens).logits, expected, atol=1e-4)


def test_a_full_fine_tune_averages_its_weights(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    first = _randomize(model, 1)
    second = _randomize(model, 2)
    assert soup.average(model, first, full=True) is None
    for name, p in model.named_parameters():
        assert torch.allclose(p, 0.5 * (first[name] + second[name])), name
