"""Open a Backend by name: `open_backend("smollm2-135m")`, `open_backend("gpt-4o", "openai", {...})`.

`choose_backend("auto", ref)` is what every conversation starts with: llama.cpp when llama-cpp-python is installed
and the model is something it loads (embedded, a .gguf, a clone), else transformers with a note on the fast path.
This module is the one place that decides: chat, ask, the servers, the bots, turing, probe and the benchmarks all
pass their `--backend` (default `auto`) to `open_backend`.

A backend that loads GGUF files (`loads = "gguf"`, the llama.cpp one) is handed a file, never a clone: the clone's
GGUF comes from the `clone_gguf` plugin hook, which the export area implements (exported and checked on first use,
then cached beside the run). So backends only load files and never import export or train.
"""
from __future__ import annotations

from pathlib import Path

from .. import models
from ..errors import BackendError, SelfcloneError
from ..plugins import backends, load_plugins, parse_options
from .base import Backend

AUTO = "auto"
AS_IS = "as-is"                # a backend's `weights` option: load the shipped file itself
DEFAULT = AUTO                 # the default of every `--backend` flag that talks to a model
LOCAL_BACKENDS = (AUTO, "transformers", "llamacpp")     # run a model of this machine: names resolve through models
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


def server_note(backend: str) -> str | None:
    """The note a server or bot prints once at start when `auto` cannot take the fast path on this machine."""
    if backend != AUTO:
        return None
    from .llamacpp_backend import available

    return None if available() else FAST_PATH_NOTE


def clone_gguf(ref: models.ModelRef, quantize: str | None = None) -> models.ModelRef:
    """A clone as the GGUF file a GGUF-loading backend opens (exported on first use by the `clone_gguf` hook)."""
    found = load_plugins().hook.clone_gguf(ref=ref, quantize=quantize)
    if found is None:
        raise BackendError(f"nothing here exports the clone {ref.name} to GGUF (no `clone_gguf` plugin)",
                           f"export it yourself (`selfclone export {ref.name} --out M.gguf`) and open M.gguf, "
                           "or use --backend transformers")
    path, report = found
    return models.ModelRef(ref.name, "gguf", str(path), ref.base, ref.run_dir, {**ref.info, "fidelity": report})


def served_gguf(ref: models.ModelRef, weights: str = AS_IS) -> models.ModelRef:
    """The embedded model as the GGUF a GGUF-loading backend opens: its re-typed, checked copy (the `served_gguf`
    hook, export/served.py) unless `weights` is "as-is" or the copy did not keep the model."""
    if weights == AS_IS:
        return ref
    found = load_plugins().hook.served_gguf(ref=ref, weights=weights)
    if found is None:
        return ref
    path, report = found
    return models.ModelRef(ref.name, "gguf", str(path), ref.base, ref.run_dir,
                           {**ref.info, "fidelity": report, "served_from": ref.path})


def open_backend(model, backend: str = "transformers", options: list[str] | dict | None = None, *,
                 workspace_runs: Path | None = None, users: int | None = None) -> Backend:
    """The Backend `backend` (or the one `auto` picks for this model) with `model` loaded, resolved once.
    `users`: how many conversations the caller holds at once (1 for the terminal); a batching backend then keeps
    that many slots unless `slots` was given (each slot holds its own KV cache: about 47 MB at 2,048 tokens)."""
    available = backends()
    ref = model if isinstance(model, models.ModelRef) else None
    if ref is None and (backend in LOCAL_BACKENDS or getattr(available.get(backend), "loads", None) == "gguf"):
        try:
            ref = models.as_ref(model, workspace_runs)
        except SelfcloneError:
            if backend != AUTO:
                raise
            ref = None            # not a local model (a remote name): the chosen backend says what is wrong
    if backend == AUTO:           # servers and bots pass the flag on as given: choose here, for this model
        backend, _ = choose_backend(backend, ref)
    if backend not in available:
        raise SelfcloneError(f"unknown backend '{backend}'", f"choose one of: auto, {', '.join(sorted(available))}")
    cls = available[backend]
    parsed = parse_options(cls.Options, options, f"backend '{backend}'")
    if users and "slots" in type(parsed).model_fields and "slots" not in parsed.model_fields_set:
        parsed = parsed.model_copy(update={"slots": users})
    if ref is not None and ref.kind == "clone" and getattr(cls, "loads", None) == "gguf":
        ref = clone_gguf(ref, getattr(parsed, "quantize", None))
    if ref is not None and ref.kind == "embedded" and getattr(cls, "loads", None) == "gguf":
        ref = served_gguf(ref, getattr(parsed, "weights", AS_IS))
    return cls(ref if ref is not None else model, parsed, workspace_runs=workspace_runs)
