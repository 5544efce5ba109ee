"""`selfclone bench train`'s limit: FLOPs per token from the model's shapes, and a measured matmul peak."""
import pytest

from selfclone.bench.train import flops_per_token, matmul_peak


def test_flops_per_token_counts_every_frozen_linear_weight(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    linear = sum(m.weight.numel() for name, m in model.model.named_modules() if type(m).__name__ == "Linear")
    f = flops_per_token(str(tiny_model_dir), lora_rank=4, mean_length=100, trained_share=0.5)
    assert f["frozen_params"] == linear
    assert f["frozen_linear"] == 4 * linear                     # forward + input gradient, no weight gradient
    assert f["output_projection"] == 4 * model.config.vocab_size * model.config.hidden_size * 0.5
    assert f["total"] == pytest.approx(f["frozen_linear"] + f["lora"] + f["attention"] + f["output_projection"])
    longer = flops_per_token(str(tiny_model_dir), lora_rank=4, mean_length=200, trained_share=0.5)
    assert longer["attention"] == pytest.approx(2 * f["attention"]) and longer["frozen_linear"] == f["frozen_linear"]


def test_matmul_peak_is_a_positive_measurement():
    assert matmul_peak("float32", size=256, repeats=2) > 0.01
