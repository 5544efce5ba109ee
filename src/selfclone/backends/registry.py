"""Open a Backend by name: `open_backend("smollm2-135m")`, `open_backend("gpt-4o", "openai", {...})`.

`choose_backend("auto", ref)` is what every conversation starts with: llama.cpp when llama-cpp-python is installed
and the model is something it loads (embedded, a .gguf, a clone), else transformers with a note on the fast path.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import SelfcloneError
from ..plugins import backends, parse_options
from .base import Backend

AUTO = "auto"
FAST_PATH_NOTE = ("talking through transformers; for about 5x faster replies install llama.cpp: "
                  'make setup, or CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=ON" pip install llama-cpp-python==0.3.36')


def choose_backend(name: str, ref=None) -> tuple[str, str | None]:
    """(backend name, a note for the user or None). `auto` picks llamacpp whenever it can run the model."""
    if name != AUTO:
        return name, None
    from .llamacpp_backend import available

    if getattr(ref, "kind", None) not in ("embedded", "gguf", "clone"):
        return "transformers", None
    if not available():
        return "transformers", FAST_PATH_NOTE
    run_dir = getattr(ref, "run_dir", None)
    if ref.kind == "clone" and (run_dir is None or not (Path(run_dir) / "data" / "valid.jsonl").exists()):
        # its GGUF is exported on first use only after the fidelity check, which needs the run's held-out data
        return "transformers", ("this clone has no validation data to check a GGUF export against: talking through "
                                "transformers (`selfclone export CLONE --check DATA` makes the fast path)")
    return "llamacpp", None


def open_backend(model, backend: str = "transformers", options: list[str] | dict | None = None, *,
                 workspace_runs: Path | None = None) -> Backend:
    if backend == AUTO:           # servers and bots pass the flag on as given: choose here, for this model
        from .. import models

        try:
            ref = models.as_ref(model, workspace_runs)
        except SelfcloneError:
            ref = None            # not a local model (a remote name): the chosen backend says what is wrong
        backend, _ = choose_backend(backend, ref)
    available = backends()
    if backend not in available:
        raise SelfcloneError(f"unknown backend '{backend}'", f"choose one of: auto, {', '.join(sorted(available))}")
    cls = available[backend]
    return cls(model, parse_options(cls.Options, options, f"backend '{backend}'"), workspace_runs=workspace_runs)
