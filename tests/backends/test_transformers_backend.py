"""Generation options take effect on the real embedded model (no mocks): stop, n, penalties, seed, streaming."""
import pytest
import torch

from selfclone.backends.base import cut_at_stop
from selfclone.config import GenerationOptions
from selfclone.persona.session import ChatSession
from selfclone.backends.transformers_backend import PenaltyProcessor, TransformersBackend, stream_until_stop

pytestmark = pytest.mark.slow
ASK = [{"role": "user", "content": "Tell me a short story about a lighthouse keeper."}]


@pytest.fixture(scope="module")
def backend(embedded):
    return TransformersBackend("smollm2-135m", loaded=embedded)


def text(backend, **opts):
    return "".join(backend.chat(ASK, GenerationOptions(**opts)))


def test_stop_string_cuts_the_output(backend):
    free = text(backend, max_tokens=40, temperature=0)
    words = free.split()
    assert len(words) > 8
    stop = " " + words[5]
    expected = free[: free.find(stop)]
    cut = text(backend, max_tokens=40, temperature=0, stop=(stop,))
    assert cut == expected and stop not in cut
    [candidate] = backend.candidates(ASK, GenerationOptions(max_tokens=40, temperature=0, stop=(stop,)))
    assert candidate == expected


def test_n_candidates_with_sampling(backend):
    replies = backend.candidates(ASK, GenerationOptions(max_tokens=16, temperature=1.0, n=3, seed=1))
    assert len(replies) == 3 and len(set(replies)) > 1 and all(r.strip() for r in replies)


def test_same_seed_same_text_and_other_seed_differs(backend):
    a = text(backend, max_tokens=20, temperature=1.0, seed=7)
    b = text(backend, max_tokens=20, temperature=1.0, seed=7)
    c = text(backend, max_tokens=20, temperature=1.0, seed=8)
    assert a == b and a != c


def test_presence_penalty_changes_the_chosen_tokens(backend):
    plain = text(backend, max_tokens=30, temperature=0)
    penalised = text(backend, max_tokens=30, temperature=0, presence_penalty=2.0, frequency_penalty=2.0)
    assert plain != penalised


def test_no_repeat_ngram_size_forbids_repeats(backend):
    out = backend.tokenizer(text(backend, max_tokens=40, temperature=0, no_repeat_ngram_size=2))["input_ids"]
    bigrams = list(zip(out, out[1:]))
    assert len(bigrams) == len(set(bigrams))


def test_memory_keeps_only_the_last_exchanges(backend):
    session = ChatSession(backend, GenerationOptions(max_tokens=4, temperature=0), context="You are Maggie.", memory=1)
    for question in ("one", "two", "three"):
        "".join(session.send(question))
    msgs = session.messages_for("four")
    assert msgs[0] == {"role": "system", "content": "You are Maggie."}
    assert [m["content"] for m in msgs if m["role"] == "user"] == ["three", "four"]
    session.reset()
    assert session.messages_for("x") == [{"role": "system", "content": "You are Maggie."}, {"role": "user", "content": "x"}]


def test_penalty_processor_matches_openai_definition():
    scores = torch.zeros(1, 5)
    ids = torch.tensor([[4, 4, 1, 1, 1, 2]])       # prompt is the first token; 1 appears 3x, 2 once
    out = PenaltyProcessor(prompt_len=1, presence=0.5, frequency=0.25)(ids, scores.clone())
    assert out.tolist() == [[0.0, -(0.5 + 0.75), -(0.5 + 0.25), 0.0, -(0.5 + 0.25)]]


def test_stream_never_emits_part_of_a_stop_string():
    pieces = ["he", "llo wo", "rld ST", "OP and more"]
    out = list(stream_until_stop(iter(pieces), ["STOP"]))
    assert "".join(out) == "hello world " and all("S" not in p for p in out)
    assert cut_at_stop("abcXYd", ["XY", "c"]) == ("ab", True)
