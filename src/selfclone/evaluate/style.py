"""Style metrics: an attribution classifier (does this read like the person?) and a style distance.

Attribution: a scikit-learn classifier over character n-grams (spelling, casing, punctuation, emoji) and
function-word rates (the words people use without thinking: "the", "just", "aye") learns three classes:
the person's training replies, other people's messages (the user turns of the same data) and a generic
assistant (a shipped set of chatbot-style replies). `attribution_rate` is the share of texts it gives to the
person; the real held-out replies' share is the ceiling a perfect clone would reach.

Style distance: for reply length (words), punctuation rate, emoji rate and casing (uppercase share of
letters), the two-sample Kolmogorov-Smirnov statistic between generated and real replies: 0 when the
distributions match, 1 when they do not overlap at all. `style_distance` is their mean.

    clf = AttributionClassifier.fit(person_replies, others, generic_assistant_replies())
    clf.attribution_rate(generated)        # e.g. 0.62, against clf.attribution_rate(real_heldout) = 0.81
    style_distance(generated, real)        # {"style_distance": 0.21, "length": 0.3, ...}
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from importlib import resources

from ..errors import DataError

PERSON, OTHERS, ASSISTANT = "person", "others", "assistant"
MIN_TEXTS = 5

# Closed-class English words (and a few chat fillers): frequent, topic-free, and personal in their rates.
FUNCTION_WORDS = tuple(sorted(set("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves
i'm i've i'd i'll don't can't won't isn't it's that's there's you're we're they're didn't doesn't
yes yeah yep no nope ok okay oh ah well right aye nah hmm haha lol like really actually maybe anyway
thee thou thy thine hath doth art shall shalt must may might upon whilst ere nay
""".split())))

EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F]|[:;=]-?[)(DPpO/\\\\]|<3")
FEATURES = ("length", "punctuation", "emoji", "casing")


def generic_assistant_replies() -> list[str]:
    """The shipped generic-assistant reference: chatbot-style replies written for this project."""
    text = (resources.files("selfclone") / "resources" / "generic_assistant.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


class AttributionClassifier:
    """Person vs other people vs a generic assistant, from character n-grams and function-word rates."""

    def __init__(self, pipeline):
        self.pipeline = pipeline

    @classmethod
    def fit(cls, person: Sequence[str], others: Sequence[str], assistant: Sequence[str], seed: int = 0):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline

        person, others = [t for t in person if t.strip()], [t for t in others if t.strip()]
        if len(person) < MIN_TEXTS:
            raise DataError(f"the attribution classifier needs at least {MIN_TEXTS} of the person's replies to "
                            f"learn from, got {len(person)}", "pass a larger --train file")
        if len(others) < MIN_TEXTS:
            raise DataError(f"the attribution classifier needs at least {MIN_TEXTS} messages from other people "
                            f"(the user turns of the training data), got {len(others)}",
                            "use training data with the messages the person replied to")
        texts = list(person) + list(others) + list(assistant)
        labels = [PERSON] * len(person) + [OTHERS] * len(others) + [ASSISTANT] * len(assistant)
        features = FeatureUnion([
            # lowercase=False: casing is part of a person's style; "char" (not "char_wb") sees punctuation runs
            ("characters", TfidfVectorizer(analyzer="char", ngram_range=(1, 4), lowercase=False, sublinear_tf=True,
                                           min_df=2 if len(texts) >= 100 else 1, max_features=60000)),
            ("function_words", TfidfVectorizer(vocabulary=FUNCTION_WORDS, token_pattern=r"(?u)\b\w[\w']*\b",
                                               use_idf=False, norm="l2")),
        ])
        model = LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000, random_state=seed)
        return cls(make_pipeline(features, model).fit(texts, labels))

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        labels = list(self.pipeline.predict(list(texts)))
        # A blank reply says nothing about anyone's style: never count it as the person.
        return [label if text.strip() else OTHERS for label, text in zip(labels, texts)]

    def attribution_rate(self, texts: Sequence[str]) -> float:
        """The share of `texts` attributed to the person."""
        labels = self.predict(texts)
        return sum(label == PERSON for label in labels) / len(labels) if labels else float("nan")


# --- style distance --------------------------------------------------------------------------------------
def style_features(text: str) -> dict[str, float]:
    """Length in words; punctuation and emoji per character; uppercase share of letters."""
    chars = max(len(text), 1)
    letters = [c for c in text if c.isalpha()]
    return {
        "length": float(len(text.split())),
        "punctuation": sum(unicodedata.category(c).startswith("P") for c in text) / chars,
        "emoji": len(EMOJI.findall(text)) / chars,
        "casing": sum(c.isupper() for c in letters) / len(letters) if letters else 0.0,
    }


def ks_statistic(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs."""
    import numpy as np

    a, b = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def style_distance(generated: Sequence[str], real: Sequence[str]) -> dict[str, float]:
    """Per-feature KS statistics and their mean (`style_distance`), generated against real replies."""
    if not generated or not real:
        raise ValueError("style_distance needs at least one generated and one real text")
    gen = [style_features(t) for t in generated]
    ref = [style_features(t) for t in real]
    out = {name: ks_statistic([f[name] for f in gen], [f[name] for f in ref]) for name in FEATURES}
    out["style_distance"] = sum(out[name] for name in FEATURES) / len(FEATURES)
    return out


def style_summary(texts: Sequence[str]) -> dict[str, float]:
    """Mean of each style feature: what the report prints next to the distance."""
    feats = [style_features(t) for t in texts]
    return {name: sum(f[name] for f in feats) / len(feats) for name in FEATURES} if feats else {}
