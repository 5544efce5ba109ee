"""Choosing the next token from a row of logits, in numpy: the one sampling implementation of the llama.cpp engine.

Every GenerationOptions field keeps the meaning it has in the transformers backend and in OpenAI's API:
- presence and frequency penalties over the whole reply (`logit[j] -= frequency * count[j] + presence * (count[j] > 0)`,
  counting generated tokens only);
- no_repeat_ngram_size over the prompt and the reply (transformers' definition);
- temperature 0 is greedy; otherwise softmax(logits / temperature) cut to the top_p nucleus;
- a per-sequence random generator seeded from the request, so the same seed gives the same reply whatever else runs;
- the copy bias (CopyBias, also the transformers backend's rule): with `copy_bias` and the token ids of the texts
  to copy from (the retrieved passages), a bonus for tokens that copy them.
Log-probabilities (OpenAI's `logprobs`) are those of the penalised distribution before temperature and top_p, so at
temperature 0 the chosen token is always the most likely one.

    sampler = Sampler(options, seed=7, prompt=prompt_ids, copy=[passage_ids])
    token, logprobs = sampler.pick(logits_row, top=3)      # logprobs: (chosen logprob, [(id, logprob), ...]) or None
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from ..config import GenerationOptions

LIKELY = 1e-4      # top_p first sorts only the tokens at least this likely: they hold the nucleus in most rows
WORD_SHARE = 0.5   # a passage's own words get this share of copy_bias; the token that continues it gets all of it


class CopyBias:
    """A logit bonus that makes a reply copy spans of some texts exactly (a name stays "Ottilie", not "Elena").

    Two parts, added together: `copy_bias` for every token that follows the reply's last token somewhere in the texts
    (so a multi-token name, once started, is copied whole), and WORD_SHARE of it for the texts' own words: tokens
    found no more often in the whole prompt than in the texts (the frame, the question and common words are in the
    prompt besides the passages, so they get nothing). Token ids are the backend's own.

        bias = CopyBias(2.0, [passage_ids], prompt_ids)
        bias.add(logits_row, last=reply_ids[-1] if reply_ids else None)
    """

    def __init__(self, bias: float, texts: Sequence[Sequence[int]], prompt: Sequence[int]):
        self.bias = bias
        in_texts = Counter(t for ids in texts for t in ids)
        in_prompt = Counter(prompt)
        self.words = np.array(sorted(t for t, n in in_texts.items() if in_prompt[t] <= n), dtype=np.int64)
        follows: dict[int, set[int]] = defaultdict(set)
        for ids in texts:
            for a, b in zip(ids, ids[1:]):
                follows[a].add(b)
        self.follows = {a: np.array(sorted(b), dtype=np.int64) for a, b in follows.items()}

    def add(self, x, last: int | None):
        """Add the bonus to one row of logits in place (a numpy array or a torch tensor); returns it."""
        if len(self.words):
            x[self.words] += WORD_SHARE * self.bias
        nexts = self.follows.get(last) if last is not None else None
        if nexts is not None:
            x[nexts] += self.bias
        return x


class Sampler:
    def __init__(self, options: GenerationOptions, seed: int | None = None, prompt: list[int] = (),
                 copy: Sequence[Sequence[int]] = ()):
        self.options = options
        self.copy = CopyBias(options.copy_bias, copy, prompt) if options.copy_bias and copy else None
        self.rng = np.random.default_rng(seed if seed is not None else random.getrandbits(63))
        self.counts: dict[int, int] = defaultdict(int)
        self.context = list(prompt)                     # prompt + reply: what no_repeat_ngram_size looks at
        self.banned: dict[tuple, set[int]] = defaultdict(set)
        n = options.no_repeat_ngram_size
        if n:
            for i in range(len(self.context) - n + 1):
                self._note_ngram(i)

    def _note_ngram(self, start: int) -> None:
        n = self.options.no_repeat_ngram_size
        gram = self.context[start:start + n]
        self.banned[tuple(gram[:-1])].add(gram[-1])

    def accept(self, token: int) -> None:
        """Record a generated token: it counts for the penalties and the n-grams from now on."""
        self.counts[token] += 1
        self.context.append(token)
        n = self.options.no_repeat_ngram_size
        if n and len(self.context) >= n:
            self._note_ngram(len(self.context) - n)

    def adjusted(self, logits: np.ndarray) -> np.ndarray:
        """The logits after the copy bias, the penalties and the n-gram ban (a float64 copy)."""
        x = np.array(logits, dtype=np.float64)
        o = self.options
        if self.copy is not None:
            self.copy.add(x, self.context[-1] if self.counts else None)
        if self.counts and (o.presence_penalty or o.frequency_penalty):
            ids = np.fromiter(self.counts.keys(), dtype=np.int64, count=len(self.counts))
            counts = np.fromiter(self.counts.values(), dtype=np.float64, count=len(self.counts))
            x[ids] -= o.frequency_penalty * counts + o.presence_penalty
        n = o.no_repeat_ngram_size
        if n and len(self.context) >= n - 1:
            prefix = tuple(self.context[len(self.context) - n + 1:]) if n > 1 else ()
            banned = self.banned.get(prefix)
            if banned:
                x[list(banned)] = -np.inf
        return x

    def pick(self, logits: np.ndarray, top: int | None = None) -> tuple[int, tuple | None]:
        """The next token, and when `top` is not None its logprob and the `top` most likely (id, logprob) pairs."""
        x = self.adjusted(logits)
        o = self.options
        if o.temperature == 0:
            token = int(np.argmax(x))
        else:
            token = self._sample(x / o.temperature, o.top_p)
        return token, (None if top is None else _logprobs(x, token, top))

    def _sample(self, z: np.ndarray, top_p: float) -> int:
        z = z - z.max()
        p = np.exp(z)
        p /= p.sum()
        if top_p < 1.0:
            ids = _nucleus(p, top_p)
            q = p[ids] / p[ids].sum()
        else:
            ids, q = None, p
        i = int(np.searchsorted(np.cumsum(q), self.rng.random() * q.sum(), side="right"))
        i = min(i, len(q) - 1)
        return int(ids[i]) if ids is not None else i


def _nucleus(p: np.ndarray, top_p: float) -> np.ndarray:
    """Token ids of the smallest most-likely set whose mass reaches top_p, most likely first (ties by id).
    Exact: the tokens above LIKELY are the top of the sorted row, so when their mass reaches top_p the cut is
    among them; only otherwise is the whole row sorted."""
    likely = np.flatnonzero(p >= LIKELY)
    if p[likely].sum() < top_p:
        likely = np.arange(len(p))
    order = likely[np.argsort(-p[likely], kind="stable")]
    cut = int(np.searchsorted(np.cumsum(p[order]), top_p)) + 1
    return order[:min(cut, len(order))]


def _logprobs(x: np.ndarray, token: int, top: int) -> tuple[float, list[tuple[int, float]]]:
    finite = np.isfinite(x)
    m = x[finite].max()
    logz = m + np.log(np.exp(x[finite] - m).sum())
    chosen = float(x[token] - logz)
    if top <= 0:
        return chosen, []
    k = min(top, len(x))
    ids = np.argpartition(-x, k - 1)[:k]
    ids = ids[np.lexsort((ids, -x[ids]))]
    return chosen, [(int(i), float(x[i] - logz)) for i in ids if np.isfinite(x[i])]
