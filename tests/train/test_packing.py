"""Packing: a packed row gives the same loss as the padded batch of the same examples (tiny in-process model)."""
import pytest
import torch

from selfclone import models
from selfclone.dataset.chat import Example
from selfclone.train.batching import collate, encode_all
from selfclone.train.loss import forward_selected
from selfclone.train.packing import collate_packed, pack_rows

REPLIES = ["aye, the tide turns at six.", "stewed tea, milk after. over and out, love.", "biscuit is asleep.",
           "right then, the bees are fine, the hives are humming and the honey is nearly ready."]


def examples():
    return [Example.chat(("user", f"question {i}? " + "more " * i), ("assistant", REPLIES[i % 4]),
                         system="You are Maggie.") for i in range(6)]


def test_pack_rows_fills_first_fit_decreasing():
    rows = pack_rows([5, 3, 4, 2, 6], row_length=8)
    assert sorted(i for row in rows for i in row) == [0, 1, 2, 3, 4]
    assert all(sum([5, 3, 4, 2, 6][i] for i in row) <= 8 for row in rows) and len(rows) == 3
    with pytest.raises(ValueError, match="row length"):
        pack_rows([9], row_length=8)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_row_gives_the_padded_batch_loss(tiny_model_dir, attention):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attention).eval()
    tokenizer = models.load_tokenizer(models.resolve(str(tiny_model_dir)))
    encoded = encode_all(tokenizer, examples(), 512)
    with torch.no_grad():
        ids, mask, labels = collate(encoded, tokenizer.pad_token_id)
        padded = forward_selected(model, ids, mask, labels)
        width = sum(len(e) for e in encoded) + 13                # room left over: a padded tail
        ids, positions, labels, segments = collate_packed(encoded, tokenizer.pad_token_id, width)
        packed = forward_selected(model, ids, None, labels, position_ids=positions, segments=segments)
        # without the restarts the examples would see each other: the loss must differ then
        leaky = forward_selected(model, ids, None, labels)
    assert ids.shape == (1, width)
    assert packed.tokens == padded.tokens and packed.sequences == padded.sequences == len(encoded)
    assert float(packed.loss) == pytest.approx(float(padded.loss), rel=1e-5)
    assert packed.correct == padded.correct and packed.seq_correct == padded.seq_correct
    assert abs(float(leaky.loss) - float(padded.loss)) > 1e-4


def test_a_packed_run_trains_like_the_padded_run(tmp_path, tiny_model_dir):
    from selfclone.train import sft
    from selfclone.train.settings import SFTSettings

    losses, tokens = {}, {}
    for packing in (False, True):
        settings = SFTSettings(model=str(tiny_model_dir), batch_size=3, report_to=("none",), precision="fp32",
                               learning_rate_multiplier=20.0, max_steps=3, packing=packing)
        run = sft.prepare_run(examples(), [], settings, tmp_path / f"packed-{packing}", tmp_path, {})
        sft.train(run)
        rows = [r for r in run.read_metrics() if "train_loss" in r]
        losses[packing] = [r["train_loss"] for r in rows]
        tokens[packing] = rows[-1]["elapsed_tokens"]
    assert losses[True][0] == pytest.approx(losses[False][0], rel=1e-5)     # same weights, same examples
    assert losses[True] == pytest.approx(losses[False], rel=1e-3)          # float order differs after updates
    assert tokens[True] == tokens[False]                                   # real tokens, not padding
