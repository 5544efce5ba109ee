"""The models a server keeps loaded: opened lazily on first request, the least recently used unloaded when more than
`serve.max_models` are loaded or their weights pass `serve.max_memory_gb`.

    pool = ModelPool(ServeSettings(), backend="transformers", workspace_runs=ws.runs_dir)
    loaded = pool.get("ft:smollm2-135m:maggie:RUN")     # Loaded(name, backend, context)
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ... import models
from ...backends.base import Backend
from ...backends.registry import LOCAL_BACKENDS, open_backend
from ...config import ServeSettings


@dataclass
class Loaded:
    name: str
    backend: Backend
    context: str | None            # the system prompt a clone was trained with
    ref: models.ModelRef | None
    loaded_at: int = field(default_factory=lambda: int(time.time()))

    @property
    def memory_gb(self) -> float:
        model = getattr(self.backend, "model", None)
        if model is None or not hasattr(model, "parameters"):
            return 0.0
        return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**30

    @property
    def tokenizer(self):
        return getattr(self.backend, "tokenizer", None)


class ModelPool:
    def __init__(self, settings: ServeSettings | None = None, *, backend: str = "transformers",
                 backend_options: list[str] | dict | None = None, workspace_runs: Path | None = None,
                 served: tuple[str, ...] = (), system: str | None = None):
        self.settings = settings or ServeSettings()
        self.backend_name, self.backend_options = backend, backend_options
        self.workspace_runs, self.served, self.system = workspace_runs, tuple(served), system or None
        self._loaded: OrderedDict[str, Loaded] = OrderedDict()
        self._lock = threading.Lock()

    def resolve(self, name: str) -> models.ModelRef | None:
        """The ModelRef of a name (raises ModelNotFound), or None for a remote or plugin backend's own names."""
        if self.backend_name in LOCAL_BACKENDS:
            return models.resolve(name, self.workspace_runs)
        return None

    def get(self, name: str) -> Loaded:
        with self._lock:               # one load at a time: two first requests for a model load it once
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return self._loaded[name]
            ref = self.resolve(name)
            engine = open_backend(ref or name, self.backend_name, self.backend_options,
                                  workspace_runs=self.workspace_runs)
            context = models.trained_context(ref or name, self.workspace_runs)
            self._loaded[name] = Loaded(name, engine, context or self.system, ref)
            self._evict(keep=name)
            return self._loaded[name]

    def _evict(self, keep: str) -> None:
        def over() -> bool:
            memory = sum(entry.memory_gb for entry in self._loaded.values())
            return len(self._loaded) > self.settings.max_models or memory > self.settings.max_memory_gb

        while len(self._loaded) > 1 and over():
            oldest = next(iter(self._loaded))
            if oldest == keep:
                break
            del self._loaded[oldest]

    def unload(self, name: str) -> None:
        with self._lock:
            self._loaded.pop(name, None)

    def loaded(self) -> list[str]:
        return list(self._loaded)

    def listing(self) -> list[dict]:
        """OpenAI model objects: the served names, the base models present here and every clone of the workspace."""
        rows: dict[str, dict] = {}
        for name in self.served:
            rows[name] = {"id": name, "object": "model", "created": 0, "owned_by": "selfclone"}
        if self.backend_name in LOCAL_BACKENDS:
            for name in models.EMBEDDED:
                try:
                    created = int(models.embedded_path(name).stat().st_mtime)
                except models.ModelNotFound:
                    continue
                rows[name] = {"id": name, "object": "model", "created": created, "owned_by": "selfclone"}
            for clone in models.list_clones(self.workspace_runs):
                if clone.get("status") == "finished" and clone.get("name"):
                    rows[clone["name"]] = {"id": clone["name"], "object": "model", "created": _epoch(clone),
                                           "owned_by": "user", "parent": clone.get("base_model")}
        return list(rows.values())


def _epoch(run: dict) -> int:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(run.get("created", "")).timestamp())
    except ValueError:
        return 0
