"""The llama.cpp backend on the real embedded GGUF: streaming, stops that never leak, seeds, n, no-repeat n-grams."""
import importlib.util

import pytest

from selfclone.backends.registry import FAST_PATH_NOTE, choose_backend
from selfclone.config import GenerationOptions

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                reason="llama-cpp-python is not installed (make setup installs it)")
PROMPT = [{"role": "user", "content": "Tell me about the sea and the lighthouse, in three sentences."}]


@pytest.fixture(scope="module")
def backend():
    from selfclone.backends.llamacpp_backend import LlamaCppBackend

    return LlamaCppBackend("smollm2-135m", LlamaCppBackend.Options(n_ctx=512, threads=2))


def test_auto_picks_llamacpp_for_gguf_models_and_transformers_for_folders(tiny_model_dir):
    from selfclone import models

    assert choose_backend("auto", models.resolve("smollm2-135m")) == ("llamacpp", None)
    assert choose_backend("auto", models.resolve(str(tiny_model_dir))) == ("transformers", None)
    assert choose_backend("transformers", models.resolve("smollm2-135m")) == ("transformers", None)
    assert "llama-cpp-python" in FAST_PATH_NOTE


def test_streams_several_pieces_that_join_to_the_whole_reply(backend):
    options = GenerationOptions(max_tokens=24, temperature=0)
    pieces = list(backend.chat(PROMPT, options))
    assert len(pieces) > 3
    assert "".join(pieces) == backend.candidates(PROMPT, options)[0]


def test_stop_strings_never_reach_the_stream(backend):
    greedy = GenerationOptions(max_tokens=40, temperature=0)
    full = "".join(backend.chat(PROMPT, greedy))
    words = full.split()
    stop = words[len(words) // 2]            # a word from the middle of the greedy reply
    cut = "".join(backend.chat(PROMPT, GenerationOptions(max_tokens=40, temperature=0, stop=(stop,))))
    assert stop not in cut and full.startswith(cut) and len(cut) < len(full)


def test_same_seed_same_text_other_seed_other_text(backend):
    hot = GenerationOptions(max_tokens=24, temperature=1.2, top_p=1.0)
    one = "".join(backend.chat(PROMPT, GenerationOptions(**{**hot.__dict__, "seed": 7})))
    two = "".join(backend.chat(PROMPT, GenerationOptions(**{**hot.__dict__, "seed": 7})))
    others = {"".join(backend.chat(PROMPT, GenerationOptions(**{**hot.__dict__, "seed": s}))) for s in (8, 9, 10)}
    assert one == two
    assert others - {one}


def test_n_gives_n_replies_that_differ_when_sampling(backend):
    texts = backend.candidates(PROMPT, GenerationOptions(max_tokens=16, temperature=1.2, top_p=1.0, n=3))
    assert len(texts) == 3 and len(set(texts)) > 1
    seeded = GenerationOptions(max_tokens=16, temperature=1.2, top_p=1.0, n=2, seed=3)
    assert backend.candidates(PROMPT, seeded) == backend.candidates(PROMPT, seeded)


def test_no_repeat_ngram_size_is_honoured(backend):
    options = GenerationOptions(max_tokens=60, temperature=0, frequency_penalty=0, no_repeat_ngram_size=2)
    text = "".join(backend.chat([{"role": "user", "content": "Repeat after me forever: la la la la la la"}], options))
    tokens = backend.llm.tokenize(text.encode(), add_bos=False, special=False)
    pairs = list(zip(tokens, tokens[1:]))
    assert len(pairs) == len(set(pairs))


def test_a_prompt_alone_is_decoded_in_one_piece_then_its_last_token(backend):
    """Nothing else running: a 150-token prompt takes two decode steps before its first token (all but the last
    token in one piece, then the last alone, as when the prefix is cached), not one per 64-token chunk."""
    messages = [{"role": "user", "content": "the tide came in and went out again. " * 16 + "What did the sea do?"}]
    prompt = backend.prompt_ids(messages)
    assert 128 < len(prompt) < 256
    backend.reset()
    steps = backend.engine.steps
    backend.reply(messages, GenerationOptions(max_tokens=1, temperature=0)).text()
    assert backend.engine.steps - steps == 2
