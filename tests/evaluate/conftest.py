"""Fixtures for the evaluate tests: the demo persona's data and a tiny local model behind the real backend."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    from selfclone.demo import demo_files

    return demo_files()


@pytest.fixture(scope="session")
def demo_train(demo_dir):
    from selfclone.dataset.chat import read_examples

    return read_examples(demo_dir / "train.jsonl")


@pytest.fixture(scope="session")
def demo_heldout(demo_dir):
    from selfclone.dataset.chat import read_examples

    return read_examples(demo_dir / "heldout.jsonl")


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir):
    """The real transformers backend running the tiny random model (fast, gibberish replies)."""
    from selfclone.backends.transformers_backend import TransformersBackend

    return TransformersBackend(str(tiny_model_dir))


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The tiny model's ops are too small to share between threads; one thread is faster and steadier here."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
