"""The numpy sampler of the llama.cpp engine on synthetic logit rows: penalties over the whole reply (no window),
the exact top_p nucleus, seeds, the n-gram ban, logprobs."""
import numpy as np

from selfclone.backends.sampling import Sampler, _nucleus
from selfclone.config import GenerationOptions


def row(seed: int = 0, scale: float = 4.0, size: int = 5000) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=size) * scale).astype(np.float32)


def test_penalties_count_every_generated_token_however_long_ago():
    sampler = Sampler(GenerationOptions(presence_penalty=0.5, frequency_penalty=0.25), seed=0, prompt=[1, 2, 3])
    sampler.accept(42)
    for t in range(100, 300):                 # 200 more tokens: far past llama.cpp's old 64-token window
        sampler.accept(t)
    sampler.accept(42)
    x = np.zeros(5000, dtype=np.float32)
    adjusted = sampler.adjusted(x)
    assert adjusted[42] == -(0.25 * 2 + 0.5)
    assert adjusted[150] == -(0.25 + 0.5)
    assert adjusted[1] == 0 and adjusted[4999] == 0          # prompt tokens and unseen ones are not penalised


def test_greedy_takes_the_argmax_after_penalties():
    x = np.zeros(10, dtype=np.float32)
    x[3], x[5] = 2.0, 1.5
    sampler = Sampler(GenerationOptions(temperature=0, frequency_penalty=1.0, presence_penalty=0))
    assert sampler.pick(x)[0] == 3
    sampler.accept(3)
    assert sampler.pick(x)[0] == 5


def test_nucleus_is_exactly_the_sorted_prefix():
    for scale in (1.0, 4.0, 12.0):
        x = row(int(scale), scale).astype(np.float64)
        p = np.exp(x - x.max())
        p /= p.sum()
        for top_p in (0.3, 0.9, 0.999):
            order = np.argsort(-p, kind="stable")
            cut = int(np.searchsorted(np.cumsum(p[order]), top_p)) + 1
            assert _nucleus(p, top_p).tolist() == order[:cut].tolist()


def test_same_seed_same_tokens_and_top_p_keeps_to_the_nucleus():
    options = GenerationOptions(temperature=1.0, top_p=0.5, frequency_penalty=0)
    x = row(3, 3.0)

    def draw(seed):
        sampler = Sampler(options, seed=seed)
        return [sampler.pick(x)[0] for _ in range(50)]

    assert draw(11) == draw(11)
    assert draw(11) != draw(12)
    p = np.exp(x - x.max())
    p /= p.sum()
    assert set(draw(11)) <= set(_nucleus(p, 0.5).tolist())


def test_no_repeat_ngram_bans_continuations_seen_in_prompt_and_reply():
    sampler = Sampler(GenerationOptions(temperature=0, frequency_penalty=0, no_repeat_ngram_size=2),
                      prompt=[7, 8, 9])
    sampler.accept(7)                         # context 7 8 9 7: after 7, 8 would repeat the 2-gram (7, 8)
    x = np.zeros(20, dtype=np.float32)
    x[8] = 5.0
    assert sampler.pick(x)[0] != 8


def test_logprobs_are_a_sorted_distribution_with_the_chosen_token():
    sampler = Sampler(GenerationOptions(temperature=0, frequency_penalty=0))
    x = row(5)
    token, (chosen, top) = sampler.pick(x, top=5)
    assert token == int(np.argmax(x)) and top[0][0] == token and abs(top[0][1] - chosen) < 1e-9
    values = [lp for _, lp in top]
    assert values == sorted(values, reverse=True) and all(v <= 0 for v in values)
    full = x.astype(np.float64) - x.max()
    assert abs(np.exp(full).sum() - np.exp(full[token] - chosen)) < 1e-6 * np.exp(full).sum()
