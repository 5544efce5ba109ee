"""The copy bias (GenerationOptions.copy_bias) on the real embedded model, no mocks: with a retrieved passage in the
prompt it makes the reply copy the passage's name where the plain reply makes one up ("Ottilie", not "Elena"), in
both backends (the llama.cpp engine's numpy Sampler and the transformers logits processor: one rule,
sampling.CopyBias); with bias 0, or with no passages, replies are unchanged."""
import importlib.util

import numpy as np
import pytest
import torch

from selfclone.backends.sampling import WORD_SHARE, CopyBias, Sampler
from selfclone.backends.transformers_backend import TransformersBackend
from selfclone.bench.recall import load_probe
from selfclone.config import GenerationOptions, WorkspaceConfig, load
from selfclone.errors import ConfigError
from selfclone.persona.session import ChatSession

PASSAGE = "My sister Ottilie teaches the cello in Bruges and phones on the first Tuesday of each month."
QUESTION = "What is your sister's name?"
GREEDY = GenerationOptions(max_tokens=24, temperature=0.0, frequency_penalty=0.0, seed=0)
HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None


class Notes:
    """A PassageSource that always finds the sister's passage (what the probe's index retrieves for QUESTION)."""

    def passages_for(self, text: str) -> list[str]:
        return [PASSAGE]


def ask(backend, bias: float, notes=Notes()) -> str:
    session = ChatSession(backend, GREEDY.with_(copy_bias=bias), context=load_probe()["context"], memory=0,
                          retriever=notes)
    return session.reply(QUESTION)


@pytest.fixture(scope="module")
def transformers_backend(embedded):
    return TransformersBackend("smollm2-135m", loaded=embedded)


@pytest.fixture(scope="module")
def llamacpp_backend():
    from selfclone.backends.registry import open_backend

    # the served bf16 copy, as `bench recall` and chat get it
    return open_backend("smollm2-135m", "llamacpp", {"n_ctx": 512, "threads": 2, "slots": 1})


NO_LLAMA = pytest.mark.skipif(not HAS_LLAMA, reason="no llama-cpp-python")
BACKENDS = ["transformers_backend", pytest.param("llamacpp_backend", marks=NO_LLAMA)]
# the smallest bias that copies this one passage's name on each (at 4 the bf16 llama.cpp copy quotes the passage's
# second half instead: the flip is sensitive to the bias, see docs/BENCHMARKS.md)
COPYING = [("transformers_backend", 4.0), pytest.param("llamacpp_backend", 3.0, marks=NO_LLAMA)]


def test_the_rule_rewards_continuations_and_the_passages_own_words():
    prompt = [1, 2, 3, 10, 11, 12, 2, 3]              # frame 1 2 3, the passage 10 11 12, the question 2 3
    bias = CopyBias(2.0, [[10, 11, 12, 3]], prompt)
    assert bias.words.tolist() == [10, 11, 12]         # 3 is in the prompt besides the passage: no bonus
    x = bias.add(np.zeros(16), last=None)
    assert x[10] == x[11] == x[12] == WORD_SHARE * 2.0 and x[3] == 0 and x[0] == 0
    x = bias.add(np.zeros(16), last=10)                # after 10 the passage goes on with 11
    assert x[11] == 2.0 + WORD_SHARE * 2.0 and x[12] == WORD_SHARE * 2.0
    x = bias.add(np.zeros(16), last=12)
    assert x[3] == 2.0
    off = Sampler(GREEDY, prompt=prompt, copy=[[10, 11, 12]])          # copy_bias 0: no rule at all
    assert off.copy is None and off.adjusted(np.zeros(16)).tolist() == [0.0] * 16


@pytest.mark.slow
@pytest.mark.parametrize(("name", "bias"), COPYING)
def test_the_bias_makes_the_reply_copy_the_passages_name(name, bias, request):
    backend = request.getfixturevalue(name)
    plain, copied = ask(backend, 0.0), ask(backend, bias)
    assert "Ottilie" not in plain                      # the model alone renames the sister
    assert "Ottilie" in copied, copied


@pytest.mark.slow
@pytest.mark.parametrize("name", BACKENDS)
def test_bias_zero_or_no_passages_leave_replies_unchanged(name, request):
    backend = request.getfixturevalue(name)
    messages = [{"role": "system", "content": "You are Tobias Wren.\n\nFacts about you:\n- " + PASSAGE},
                {"role": "user", "content": QUESTION}]
    plain = "".join(backend.chat(messages, GREEDY))
    assert "".join(backend.chat(messages, GREEDY.with_(copy_from=(PASSAGE,)))) == plain       # bias 0: off
    nothing = type("Nothing", (), {"passages_for": lambda self, text: []})()
    assert ask(backend, 4.0, nothing) == ask(backend, 0.0, nothing)          # no passages: off


@pytest.mark.slow
def test_the_numpy_sampler_on_real_logits_picks_what_the_transformers_backend_picks(transformers_backend):
    """One rule: greedy with the llama.cpp engine's Sampler over the transformers model's own logits gives the same
    tokens as the transformers backend's logits processor."""
    backend, options = transformers_backend, GREEDY.with_(copy_bias=4.0, copy_from=(PASSAGE,))
    messages = [{"role": "system", "content": load_probe()["context"] + "\n\nFacts about you:\n- " + PASSAGE},
                {"role": "user", "content": QUESTION}]
    expected = "".join(backend.chat(messages, options))
    ids, _ = backend.encode(messages)
    prompt = ids[0].tolist()
    sampler = Sampler(options, prompt=prompt, copy=[backend.tokenizer.encode(" " + PASSAGE, add_special_tokens=False)])
    out, past, step = [], None, ids
    with torch.inference_mode():
        for _ in range(options.max_tokens):
            result = backend.model(input_ids=step, past_key_values=past, use_cache=True)
            past = result.past_key_values
            token, _ = sampler.pick(result.logits[0, -1].float().numpy())
            if token == backend.tokenizer.eos_token_id:
                break
            sampler.accept(token)
            out.append(token)
            step = torch.tensor([[token]])
    assert backend.tokenizer.decode(out, skip_special_tokens=True) == expected
    assert expected != "".join(backend.chat(messages, GREEDY))          # the bias did change the reply


def test_copy_bias_is_a_setting_and_copy_from_is_not(tmp_path):
    with pytest.raises(ConfigError, match="copy_bias"):
        GenerationOptions(copy_bias=-1.0)
    path = tmp_path / "selfclone.toml"
    path.write_text("[generation]\ncopy_bias = 3.0\n")
    assert load(path).generation.copy_bias == 3.0
    path.write_text("[generation]\ncopy_from = ['a note']\n")
    with pytest.raises(ConfigError, match="copy_from"):
        load(path)
    written = WorkspaceConfig().to_toml()
    assert "copy_bias" in written and "copy_from" not in written
