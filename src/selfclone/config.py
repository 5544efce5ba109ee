"""Settings: frozen dataclasses parsed once from a workspace's selfclone.toml, overridable from the CLI.

This is the only module that reads settings from files or the environment. Everything else receives
these objects explicitly.

    cfg = load(Path("selfclone.toml"), {"generation.temperature": 0.7})
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from .errors import ConfigError

DEFAULT_MODEL = "smollm2-135m"


@dataclass(frozen=True)
class GenerationDefaults:
    max_tokens: int = 96
    temperature: float = 0.7
    top_p: float = 0.9
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.3
    no_repeat_ngram_size: int = 0
    memory: int = field(default=4, metadata={"help": "previous turns kept in chat"})

    def __post_init__(self):
        if self.max_tokens < 1:
            raise ConfigError(f"generation.max_tokens must be >= 1, got {self.max_tokens}")
        if not 0.0 <= self.temperature <= 5.0:
            raise ConfigError(f"generation.temperature must be in [0, 5], got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"generation.top_p must be in (0, 1], got {self.top_p}")
        for name in ("presence_penalty", "frequency_penalty"):
            value = getattr(self, name)
            if not -2.0 <= value <= 2.0:
                raise ConfigError(f"generation.{name} must be in [-2, 2] as in OpenAI's API, got {value}")
        if self.memory < 0:
            raise ConfigError(f"generation.memory must be >= 0, got {self.memory}")


@dataclass(frozen=True)
class CollectSettings:
    me: tuple[str, ...] = ()
    merge_window_s: int = 120
    session_gap_s: int = 3600
    context_turns: int = 6
    min_reply_chars: int = 2
    include_openers: bool = False
    pii: bool = True
    pii_off: tuple[str, ...] = field(default=(), metadata={"help": "sources (importer names) whose examples keep personal data"})
    pii_region: str = field(default="US", metadata={"help": "country whose national phone numbers are recognised"})

    def __post_init__(self):
        if self.context_turns < 0:
            raise ConfigError(f"collect.context_turns must be >= 0, got {self.context_turns}")
        for name in ("merge_window_s", "session_gap_s", "min_reply_chars"):
            if getattr(self, name) < 0:
                raise ConfigError(f"collect.{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class WorkspaceConfig:
    name: str = "my-clone"
    person: str = "me"
    description: str = ""
    system: str = ""
    model: str = DEFAULT_MODEL
    generation: GenerationDefaults = GenerationDefaults()
    collect: CollectSettings = CollectSettings()

    def to_toml(self) -> str:
        data = dataclasses.asdict(self)
        data["collect"]["me"] = list(data["collect"]["me"])
        data["collect"]["pii_off"] = list(data["collect"]["pii_off"])
        return tomli_w.dumps(data)


_SECTIONS = {"generation": GenerationDefaults, "collect": CollectSettings}


def _build(cls, data: dict[str, Any], where: str):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}",
                          f"valid settings: {', '.join(known)}")
    kwargs = {}
    for key, value in data.items():
        if key in _SECTIONS and cls is WorkspaceConfig:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{key}] must be a table, got {value!r}")
            value = _build(_SECTIONS[key], value, f"{where} [{key}]")
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def load(path: Path | None, overrides: dict[str, Any] | None = None) -> WorkspaceConfig:
    """Parse selfclone.toml (or defaults when path is None), then apply dotted overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})", "fix the line it names, or run `selfclone init` again") from exc
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        target = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return _build(WorkspaceConfig, data, str(path or "settings"))


def home() -> Path:
    """Where selfclone keeps what spans workspaces (the clone index). SELFCLONE_HOME overrides."""
    env = os.environ.get("SELFCLONE_HOME")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "selfclone"


def cache_dir() -> Path:
    """Where converted models are cached (safe to delete). SELFCLONE_CACHE overrides."""
    env = os.environ.get("SELFCLONE_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "selfclone"


def offline() -> bool:
    """True unless the user allowed the Hugging Face Hub (HF_HUB_OFFLINE=0)."""
    return os.environ.get("HF_HUB_OFFLINE", "1") != "0"
