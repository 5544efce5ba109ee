"""Settings: frozen dataclasses parsed once from a workspace's selfclone.toml, overridable from the CLI.

This is the only module that reads settings from files or the environment. Everything else receives
these objects explicitly.

    cfg = load(Path("selfclone.toml"), {"generation.temperature": 0.7})
"""
from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from .errors import ConfigError

DEFAULT_MODEL = "smollm2-135m"


MAX_N = 128            # OpenAI's cap on candidates per request
MAX_TOKENS = 131072    # longer than any local model's context: a typo, not a request
MAX_COPY_BIAS = 20.0   # logits: past this the passages are all a reply can say


@dataclass(frozen=True)
class GenerationOptions:
    """How a reply is sampled: the one options type of every backend and entry point. The workspace's [generation]
    section holds its defaults; a command's flags and an API request override them field by field."""

    max_tokens: int = 96
    temperature: float = field(default=0.7, metadata={"help": "0 = greedy; 0-2 as in OpenAI's API"})
    top_p: float = 0.9
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.3
    stop: tuple[str, ...] = ()
    n: int = 1
    no_repeat_ngram_size: int = 0
    seed: int | None = None
    copy_bias: float = field(default=0.0, metadata={"help": "with notes' passages in the prompt, a logit bonus for "
                                                     "tokens that copy them (names, numbers); 0 = off"})
    copy_from: tuple[str, ...] = field(default=(), metadata={"per_reply": True, "help": "the texts the copy bias "
                                                             "copies from; set per reply by ChatSession, not a file"})

    def __post_init__(self):
        def bad(name, rule):
            raise ConfigError(f"{name} must be {rule}, got {getattr(self, name)!r}")

        for name in ("max_tokens", "n", "no_repeat_ngram_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                bad(name, "a whole number")
        for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty", "copy_bias"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                bad(name, "a finite number")
        if not 1 <= self.max_tokens <= MAX_TOKENS:
            bad("max_tokens", f"between 1 and {MAX_TOKENS}")
        if not 0.0 <= self.temperature <= 2.0:
            bad("temperature", "in [0, 2] as in OpenAI's API")
        if not 0.0 < self.top_p <= 1.0:
            bad("top_p", "in (0, 1]")
        if not 1 <= self.n <= MAX_N:
            bad("n", f"between 1 and {MAX_N} (OpenAI's limit)")
        if self.no_repeat_ngram_size < 0:
            bad("no_repeat_ngram_size", ">= 0 (0 turns it off)")
        for name in ("presence_penalty", "frequency_penalty"):
            if not -2.0 <= getattr(self, name) <= 2.0:
                bad(name, "in [-2, 2] as in OpenAI's API")
        if not 0.0 <= self.copy_bias <= MAX_COPY_BIAS:
            bad("copy_bias", f"in [0, {MAX_COPY_BIAS:g}] (0 turns it off)")
        if not isinstance(self.copy_from, tuple) or not all(isinstance(t, str) for t in self.copy_from):
            bad("copy_from", "a tuple of texts")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def with_(self, **changes) -> "GenerationOptions":
        """A copy with the given fields changed; None means: keep this one's value."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "stop" in changes:
            changes["stop"] = tuple(changes["stop"])
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class ChatSettings:
    memory: int = field(default=4, metadata={"help": "previous exchanges kept in a conversation"})

    def __post_init__(self):
        if not isinstance(self.memory, int) or self.memory < 0:
            raise ConfigError(f"chat.memory must be a whole number >= 0, got {self.memory!r}")


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


def _check_bot(section: str, allow, idle_reset_minutes, context_chars) -> None:
    if any(not isinstance(a, str) or not a.strip() for a in allow):
        raise ConfigError(f"{section}.allow must list user ids or @usernames as strings, got {list(allow)!r}")
    if not isinstance(idle_reset_minutes, (int, float)) or idle_reset_minutes < 0:
        raise ConfigError(f"{section}.idle_reset_minutes must be a number >= 0 (0: never), got {idle_reset_minutes!r}")
    if not isinstance(context_chars, int) or context_chars < 200:
        raise ConfigError(f"{section}.context_chars must be a whole number >= 200, got {context_chars!r}")


@dataclass(frozen=True)
class TelegramSettings:
    """`selfclone serve telegram`: who may talk to the clone, and when a user's context starts afresh."""

    allow: tuple[str, ...] = field(default=(), metadata={"help": "numeric user ids or @usernames; empty: nobody"})
    idle_reset_minutes: float = field(default=10.0, metadata={"help": "silence after which a user's context resets"})
    context_chars: int = field(default=12000, metadata={"help": "prompt budget; the oldest turns are dropped first"})

    def __post_init__(self):
        _check_bot("telegram", self.allow, self.idle_reset_minutes, self.context_chars)


@dataclass(frozen=True)
class DiscordSettings:
    """`selfclone serve discord`: as [telegram], with Discord user ids."""

    allow: tuple[str, ...] = field(default=(), metadata={"help": "numeric Discord user ids; empty: nobody"})
    idle_reset_minutes: float = 10.0
    context_chars: int = 12000

    def __post_init__(self):
        _check_bot("discord", self.allow, self.idle_reset_minutes, self.context_chars)


@dataclass(frozen=True)
class TranslateSettings:
    """`--translate LANG`: the language the clone was trained in, and the translator plugin that bridges to it."""

    clone_language: str = field(default="English", metadata={"help": "the language of the clone's training data"})
    translator: str = field(default="backend", metadata={"help": "a registered translator (register_translators)"})


@dataclass(frozen=True)
class ServeSettings:
    """[serve]: how many models `selfclone serve api` keeps loaded (least recently used ones are unloaded)."""

    max_models: int = field(default=2, metadata={"help": "models kept loaded at once"})
    max_memory_gb: float = field(default=8.0, metadata={"help": "unload models while their weights exceed this"})

    def __post_init__(self):
        if not isinstance(self.max_models, int) or self.max_models < 1:
            raise ConfigError(f"serve.max_models must be a whole number >= 1, got {self.max_models!r}")
        if not isinstance(self.max_memory_gb, (int, float)) or self.max_memory_gb <= 0:
            raise ConfigError(f"serve.max_memory_gb must be a number > 0, got {self.max_memory_gb!r}")


@dataclass(frozen=True)
class NotesSettings:
    """[notes]: retrieval over the person's notes and own messages at talk time (persona/retrieval.py)."""

    retrieve: int = field(default=1, metadata={"help": "passages put in the prompt when the workspace has notes; 0 = off "
                                                        "(1 measured best on the 135M model: docs/BENCHMARKS.md)"})
    hybrid: bool = field(default=True, metadata={"help": "fuse vector neighbours with BM25 (FTS5) by reciprocal rank"})
    drill: int = field(default=200, metadata={"help": "notes-drill examples `selfclone train` adds when the workspace "
                                                      "has notes, with the person's examples framed with their notes "
                                                      "too (facts from notes 88% vs 60%: docs/BENCHMARKS.md); 0 = off"})

    def __post_init__(self):
        if not isinstance(self.retrieve, int) or isinstance(self.retrieve, bool) or not 0 <= self.retrieve <= 20:
            raise ConfigError(f"notes.retrieve must be a whole number from 0 to 20, got {self.retrieve!r}")
        if not isinstance(self.drill, int) or isinstance(self.drill, bool) or not 0 <= self.drill <= 100_000:
            raise ConfigError(f"notes.drill must be a whole number from 0 to 100000, got {self.drill!r}",
                              "set [notes] drill = 200 (the default), or 0 to train without notes")


@dataclass(frozen=True)
class MemorySettings:
    """[memory]: what happens to exchanges beyond chat.memory, and long-term memory per contact."""

    summarise: bool = field(default=True, metadata={"help": "fold exchanges leaving the window into a summary"})
    remember: bool = field(default=True, metadata={"help": "keep a conversation's summary per contact (--with)"})


@dataclass(frozen=True)
class JobSettings:
    """[jobs]: how the fine-tuning worker runs the queue (each job in its own process; train/worker.py)."""

    concurrency: int = field(default=1, metadata={"help": "jobs trained at once, each in its own process"})
    retries: int = field(default=2, metadata={"help": "times a job whose process dies is resumed before it fails"})

    def __post_init__(self):
        for name, low in (("concurrency", 1), ("retries", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"jobs.{name} must be a whole number >= {low}, got {value!r}")


@dataclass(frozen=True)
class WorkspaceConfig:
    name: str = "my-clone"
    person: str = "me"
    description: str = ""
    system: str = ""
    model: str = DEFAULT_MODEL
    generation: GenerationOptions = GenerationOptions()
    chat: ChatSettings = ChatSettings()
    collect: CollectSettings = CollectSettings()
    notes: NotesSettings = NotesSettings()
    memory: MemorySettings = MemorySettings()
    telegram: TelegramSettings = TelegramSettings()
    discord: DiscordSettings = DiscordSettings()
    translate: TranslateSettings = TranslateSettings()
    serve: ServeSettings = ServeSettings()
    jobs: JobSettings = JobSettings()

    def to_toml(self) -> str:
        def plain(value):
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items() if v is not None}   # TOML has no null
            return list(value) if isinstance(value, tuple) else value

        import tomli_w        # lazily: training on a bare GPU machine never writes a config (scripts/gpu-check.sh)

        data = dataclasses.asdict(self)
        for f in dataclasses.fields(GenerationOptions):        # per-reply fields are not settings
            if f.metadata.get("per_reply"):
                del data["generation"][f.name]
        return tomli_w.dumps(plain(data))


_SECTIONS = {"generation": GenerationOptions, "chat": ChatSettings, "collect": CollectSettings,
             "notes": NotesSettings, "memory": MemorySettings,
             "telegram": TelegramSettings, "discord": DiscordSettings, "translate": TranslateSettings,
             "serve": ServeSettings, "jobs": JobSettings}


def _build(cls, data: dict[str, Any], where: str):
    known = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("per_reply")]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}",
                          f"valid settings: {', '.join(known)}")
    kwargs = {}
    if cls is WorkspaceConfig and isinstance(data.get("generation"), dict) and "memory" in data["generation"]:
        # workspaces made before [chat] existed kept memory under [generation]
        data = dict(data, generation=dict(data["generation"]), chat=dict(data.get("chat", {})))
        data["chat"].setdefault("memory", data["generation"].pop("memory"))
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
