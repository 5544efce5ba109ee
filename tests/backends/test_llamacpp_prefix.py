"""The system-prompt prefix of bench/llama_prefix.py on the real embedded GGUF: the prefix is the start of every
conversation's prompt, a prefilled or restored prefix gives exactly the replies of a cold evaluation, and it really
saves the evaluation (the cache holds the prefix before the request)."""
import importlib.util

import pytest

from selfclone import models

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                reason="llama-cpp-python is not installed (make setup installs it)")
SYSTEM = ("You are Maggie, a retired lighthouse keeper who keeps bees on a small island. You write in lowercase, "
          "in short dry sentences, and sign off with — over.")
QUESTIONS = ["how do you take your tea?", "what did the ferry bring?", "any news of the bees?"]


def convo(question, system=SYSTEM):
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


@pytest.fixture(scope="module")
def llm():
    from llama_cpp import Llama

    return Llama(model_path=models.resolve("smollm2-135m").path, n_ctx=512, n_threads=2, verbose=False)


def greedy(llm, messages) -> str:
    out = llm.create_chat_completion(messages=messages, max_tokens=16, temperature=0, seed=0)
    return out["choices"][0]["message"]["content"]


def test_the_prefix_starts_every_conversation_with_that_system_prompt(llm):
    from selfclone.bench.llama_prefix import prefix_tokens, prompt_tokens

    prefix = prefix_tokens(llm, SYSTEM)
    assert len(prefix) > 20
    for q in QUESTIONS:
        assert prompt_tokens(llm, convo(q))[:len(prefix)] == prefix
    other = prompt_tokens(llm, convo("hi", system="You are someone else."))
    assert other[:len(prefix)] != prefix
    default = prefix_tokens(llm, None)             # no system prompt: the template's default one is the prefix
    assert prompt_tokens(llm, [{"role": "user", "content": "hi"}])[:len(default)] == default


def test_a_prefilled_or_restored_prefix_gives_the_replies_of_a_cold_evaluation(llm):
    from selfclone.bench.llama_prefix import cached, prefill, prompt_tokens, restore

    cold = {}
    for q in QUESTIONS:
        llm.reset()
        cold[q] = greedy(llm, convo(q))
    prefix = prefill(llm, SYSTEM)
    tokens = prompt_tokens(llm, convo(QUESTIONS[0]))
    assert cached(llm, tokens) == len(prefix) == llm.n_tokens          # evaluated at load, before any request
    assert greedy(llm, convo(QUESTIONS[0])) == cold[QUESTIONS[0]]
    greedy(llm, convo("summarise this", system="You summarise conversations."))     # another prompt takes the cache
    tokens = prompt_tokens(llm, convo(QUESTIONS[1]))
    assert cached(llm, tokens) < len(prefix)
    assert restore(llm, prefix, tokens) == len(prefix) == cached(llm, tokens)
    assert greedy(llm, convo(QUESTIONS[1])) == cold[QUESTIONS[1]]
    # a prompt the prefix does not start: nothing restored, the reply is still the cold one
    assert restore(llm, prefix, prompt_tokens(llm, convo("hi", system="You are someone else."))) < len(prefix)
    assert greedy(llm, convo(QUESTIONS[2])) == cold[QUESTIONS[2]]


def test_the_backend_prefills_a_clones_system_prompt_at_load():
    """The batching engine decodes a clone's system prompt at load and keeps it in a slot: a new conversation's
    prompt starts with those cached tokens, so only its own part is evaluated."""
    from selfclone.backends.llamacpp_backend import LlamaCppBackend
    from selfclone.config import GenerationOptions

    embedded = models.resolve("smollm2-135m")
    clone_file = models.ModelRef("ft:smollm2-135m:maggie:RUN", "gguf", embedded.path, info={"default_context": SYSTEM})
    backend = LlamaCppBackend(clone_file, LlamaCppBackend.Options(n_ctx=512, threads=2, slots=2))
    tokens = backend.prompt_ids(convo(QUESTIONS[0]))
    system_only = backend.prompt_ids([{"role": "system", "content": SYSTEM}])
    shared = next(i for i, (a, b) in enumerate(zip(tokens, system_only)) if a != b)
    assert shared > 20                                   # the whole system block
    assert any(cached[:shared] == tokens[:shared] for cached in backend.engine._cached)
    assert "".join(backend.chat(convo(QUESTIONS[0]), GenerationOptions(max_tokens=8, temperature=0))).strip()
    off = LlamaCppBackend(clone_file, LlamaCppBackend.Options(n_ctx=512, threads=2, slots=2, prefill=False))
    assert all(not cached for cached in off.engine._cached)
