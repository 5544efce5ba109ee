"""The chunked linear cross-entropy (train/loss.py) gives the loss and gradients of the plain full-logits one.

Real tensors and a tiny in-process Llama (conftest.tiny_model_dir); nothing is mocked.
"""
import pytest
import torch
import torch.nn.functional as F

from selfclone import models
from selfclone.dataset.chat import Example
from selfclone.train.batching import IGNORE, collate, encode_all
from selfclone.train.loss import forward_selected, linear_cross_entropy


@pytest.mark.parametrize("chunk", [1, 7, 512])
@pytest.mark.parametrize("weight_trains", [False, True])
def test_chunked_matches_full_cross_entropy(chunk, weight_trains):
    torch.manual_seed(0)
    hidden = torch.randn(23, 16, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(101, 16, dtype=torch.float64, requires_grad=weight_trains)
    gold = torch.randint(0, 101, (23,))
    expected = F.cross_entropy(F.linear(hidden, weight), gold, reduction="sum")
    wanted = [hidden] + ([weight] if weight_trains else [])
    expected_grads = torch.autograd.grad(expected * 1.7, wanted)
    loss, predictions = linear_cross_entropy(hidden, weight, gold, chunk=chunk)
    grads = torch.autograd.grad(loss * 1.7, wanted)                # a scaled loss: backward uses grad_output
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-10)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    assert torch.equal(predictions, F.linear(hidden, weight).argmax(-1))


def _examples():
    replies = ["aye, the tide turns at six.", "stewed tea, milk after.", "biscuit is asleep by the stove."]
    return [Example.chat(("user", f"question {i}? " + "more " * i), ("assistant", replies[i % 3]),
                         system="You are Maggie.") for i in range(5)]


@pytest.mark.parametrize("autocast", [False, True])
def test_model_loss_and_gradients_match_the_full_logits_loss(tiny_model_dir, autocast):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).train()      # every weight trains, the head too
    tokenizer = models.load_tokenizer(models.resolve(str(tiny_model_dir)))
    ids, mask, labels = collate(encode_all(tokenizer, _examples(), 512), tokenizer.pad_token_id)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        full = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    targets = labels[:, 1:]
    keep = targets != IGNORE
    expected = F.cross_entropy(full[keep], targets[keep], reduction="mean")
    expected.backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        out = forward_selected(model, ids, mask, labels)
    out.loss.backward()
    tol = dict(rtol=2e-2, atol=2e-3) if autocast else dict(rtol=1e-4, atol=1e-6)
    assert float(out.loss.detach()) == pytest.approx(float(expected.detach()), rel=tol["rtol"] / 4)
    assert out.tokens == int(keep.sum())
    for name, param in model.named_parameters():
        torch.testing.assert_close(param.grad, want[name], **tol, msg=name)
    assert model.lm_head.weight.grad.abs().sum() > 0         # the tied head/embedding got its gradient
