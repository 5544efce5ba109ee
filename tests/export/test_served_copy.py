"""The embedded model served by llama.cpp from a re-typed copy: made once by llama.cpp's quantizer, fidelity-checked
against the transformers model, cached; a copy that loses the model is refused and the shipped file is loaded."""
import importlib.util
import json
from pathlib import Path

import pytest

from selfclone import models
from selfclone.backends.registry import open_backend
from selfclone.config import GenerationOptions
from selfclone.export import gguf
from selfclone.export.served import served_gguf, served_path

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                reason="llama-cpp-python is not installed (make setup installs it)")


def test_the_embedded_model_is_served_from_a_checked_bf16_copy():
    ref = models.resolve("smollm2-135m")
    path, report = served_gguf(ref, "bf16")
    assert path == served_path(ref, "bf16") and path.exists()
    assert report["passed"] and report["gguf_loss"] <= report["limit"] == pytest.approx(report["merged_loss"] * 1.01)
    assert abs(report["gguf_loss"] - report["merged_loss"]) < 0.01 * report["merged_loss"]
    assert json.loads(path.with_suffix(".json").read_text())["passed"]
    assert served_gguf(ref, "bf16") == (path, report)                 # cached: the same file, no second check

    backend = open_backend("smollm2-135m", "llamacpp", {"slots": 1})
    assert backend.path == str(path) and backend.fidelity["passed"]
    reply = "".join(backend.chat([{"role": "user", "content": "How do you take your tea?"}],
                                 GenerationOptions(max_tokens=12, temperature=0)))
    assert reply.strip()
    shipped = open_backend("smollm2-135m", "llamacpp", {"slots": 1, "weights": "as-is"})
    assert shipped.path == ref.path and Path(shipped.path).name.endswith("Q4_1.gguf")


def test_a_copy_that_loses_the_model_is_refused_and_the_shipped_file_loads():
    ref = models.resolve("smollm2-135m")
    assert served_gguf(ref, "q4_k_m") is None          # re-quantized from Q4_1 it is > 1% worse than the model
    report = json.loads(served_path(ref, "q4_k_m").with_suffix(".json").read_text())
    assert not report["passed"] and report["gguf_loss"] > report["limit"]
    assert not served_path(ref, "q4_k_m").exists()     # nothing half-kept
    backend = open_backend("smollm2-135m", "llamacpp", {"slots": 1, "weights": "q4_k_m"})
    assert backend.path == ref.path


def test_q4_1_is_never_a_served_type():
    with pytest.raises(gguf.ExportError, match="never offered"):
        served_gguf(models.resolve("smollm2-135m"), "q4_1")
