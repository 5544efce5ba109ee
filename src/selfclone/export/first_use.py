"""The export done on a clone's first use by a backend that loads GGUF files (llama.cpp), as the `clone_gguf` plugin
hook: `backends/registry.open_backend` asks the hook for the file, so backends never import export or train.

`served_gguf` is the same for the embedded model: a copy re-typed for llama.cpp's fast kernels (export/served.py).

The work itself is `pipeline.cached_gguf` (exported and fidelity-checked once, cached as RUN/gguf/QUANT.gguf); it is
imported only when a clone is opened, so loading the plugins costs no torch import.
"""
from __future__ import annotations

from ..plugins import hookimpl


@hookimpl
def clone_gguf(ref, quantize):
    from .gguf import DEFAULT_QUANTIZATION
    from .pipeline import cached_gguf

    return cached_gguf(ref, quantize or DEFAULT_QUANTIZATION)


@hookimpl
def served_gguf(ref, weights):
    from .served import served_gguf as make

    return make(ref, weights)
