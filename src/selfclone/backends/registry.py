"""Open a Backend by name: `open_backend("smollm2-135m")`, `open_backend("gpt-4o", "openai", {...})`."""
from __future__ import annotations

from pathlib import Path

from ..errors import SelfcloneError
from ..plugins import backends, parse_options
from .base import Backend


def open_backend(model: str, backend: str = "transformers", options: list[str] | dict | None = None, *,
                 workspace_runs: Path | None = None) -> Backend:
    available = backends()
    if backend not in available:
        raise SelfcloneError(f"unknown backend '{backend}'", f"choose one of: {', '.join(sorted(available))}")
    cls = available[backend]
    return cls(model, parse_options(cls.Options, options, f"backend '{backend}'"), workspace_runs=workspace_runs)
