"""Fixtures of the dataset tests: the real SmolLM2 tokenizer's counter, loaded once."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def counter():
    from selfclone.dataset.token_stats import TokenCounter

    return TokenCounter.for_model("smollm2-135m")
