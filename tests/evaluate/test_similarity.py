"""Semantic similarity with the offline embedding model.

    /work/main/.venv/bin/pytest -q tests/evaluate/test_similarity.py
"""
from __future__ import annotations

import pytest

from selfclone.evaluate.similarity import embed, nearest, similarity


@pytest.mark.slow
def test_identical_texts_score_one_and_paraphrases_beat_unrelated_text():
    real = ["the bees are quiet today, the wind's from the north", "i take my tea stewed with the milk after"]
    assert similarity(real, real) == pytest.approx([1.0, 1.0], abs=1e-5)
    para = similarity(["the hives are calm, it's a northerly wind"], real[:1])[0]
    unrelated = similarity(["quarterly revenue exceeded analyst expectations"], real[:1])[0]
    assert para > unrelated + 0.3
    vectors = embed(real)
    assert vectors.shape == (2, 384)
    assert nearest(["tea with milk"], vectors, 1).tolist() == [[1]]
    assert embed([]).shape == (0, 384)
    with pytest.raises(ValueError):
        similarity(["a"], ["a", "b"])
