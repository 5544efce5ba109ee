"""The dataset doctor behind `selfclone prepare`: read any table, find what hurts fine-tuning, fix it, split it.

    prep = prepare(Path("pairs.csv"), PrepareSettings(model="smollm2-135m"), decide=accept_all)
    paths = write_prepared(prep, "pairs")      # pairs_prepared_train.jsonl, pairs_prepared_valid.jsonl

Checks run in order and each fix is applied before the next check sees the data, as in OpenAI's legacy
`fine_tunes.prepare_data`: first the format checks (checks_legacy.py for prompt/completion tables,
checks_chat.py for chat JSONL), which end by converting every row to a chat Example; then the quality
checks on the examples (checks_quality.py). Each check yields Findings; a Finding may carry a Fix:
  necessary   applied without asking (lower-casing a column name, numbers read as text ...)
  lossless    changes no word the person wrote (removing a separator, renaming role 'human' to 'user')
  otherwise   removes or rewrites data; asked about interactively, accepted by `-q`
`decide(finding) -> bool` makes the choice: `accept_all` (-q), `accept_lossless` (no terminal to ask),
or a prompt (the CLI). An error Finding whose fix is declined stops the checks, and `write_prepared`
refuses to write anything while one stands.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import config as config_mod
from ..errors import ConfigError, DataError
from .chat import Example, write_examples
from .tables import detect_format, iter_rows

SEVERITIES = ("info", "warning", "error")


@dataclass
class Fix:
    description: str
    apply: Callable[[], None]
    necessary: bool = False
    lossless: bool = False


@dataclass
class Finding:
    check: str
    severity: str                   # info, warning or error (an error blocks writing unless its fix is applied)
    message: str
    rows: list[int] = field(default_factory=list)        # the input's line or row numbers
    fix: Fix | None = None
    applied: bool | None = None     # None: no fix offered
    samples: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def __post_init__(self):
        assert self.severity in SEVERITIES, self.severity

    @property
    def blocking(self) -> bool:
        return self.severity == "error" and not self.applied


@dataclass
class Row:
    line: int
    record: Any


@dataclass(frozen=True)
class PrepareSettings:
    model: str = config_mod.DEFAULT_MODEL
    max_length: int | None = None          # default: the model's context length
    seed: int = 42
    valid_fraction: float = 0.1
    epochs: int | None = None              # default: what `selfclone train` does (TRAIN_EPOCHS)
    near_dup_threshold: float = 0.8
    sheet: str | None = None
    throughput_file: Path | None = None    # default: config.cache_dir() / "bench-train.json"
    workspace_runs: Path | None = None

    def __post_init__(self):
        if not 0 <= self.valid_fraction < 1:
            raise ConfigError(f"valid_fraction must be in [0, 1), got {self.valid_fraction}")
        if not 0 < self.near_dup_threshold <= 1:
            raise ConfigError(f"near_dup_threshold must be in (0, 1], got {self.near_dup_threshold}")
        if self.max_length is not None and self.max_length < 8:
            raise ConfigError(f"max_length must be at least 8 tokens, got {self.max_length}")


@dataclass
class Preparation:
    path: Path
    settings: PrepareSettings
    format: str = ""
    shape: str = ""                        # "chat" or "legacy"
    rows: list[Row] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    train: list[Example] = field(default_factory=list)
    valid: list[Example] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    n_read: int = 0
    complete: bool = False                 # every check ran

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    def drop_rows(self, lines) -> None:
        lines = set(lines)
        self.rows = [r for r in self.rows if r.line not in lines]

    def drop_examples(self, indexes) -> None:
        indexes = set(indexes)
        self.examples = [e for i, e in enumerate(self.examples) if i not in indexes]


def accept_all(finding: Finding) -> bool:
    return True


def accept_lossless(finding: Finding) -> bool:
    return finding.fix is not None and finding.fix.lossless


def line_of(example: Example) -> int:
    return example.meta.get("line", 0)


def load(prep: Preparation, on_notice: Callable[[str], None] | None = None) -> None:
    """Read every row; decide between the chat and the legacy prompt/completion shape."""
    def notice(text: str) -> None:
        prep.notices.append(text)
        if on_notice:
            on_notice(text)
    rows = [Row(n, rec) for n, rec in iter_rows(prep.path, sheet=prep.settings.sheet, notice=notice)]
    prep.format = detect_format(prep.path, lambda _text: None)
    if not rows:
        raise DataError("the file has no rows", "add examples (see `selfclone help prepare`)", path=prep.path)
    if prep.format == "txt":
        notice(f"{prep.path.name}: a text file; each line becomes a completion with an empty prompt "
               "(open-ended generation)")
        rows = [Row(r.line, {"prompt": "", "completion": r.record["text"]}) for r in rows]
    dicts = [r.record for r in rows if isinstance(r.record, dict)]
    prep.shape = "chat" if any(any(str(k).strip().lower() == "messages" for k in d) for d in dicts) else "legacy"
    prep.rows, prep.n_read = rows, len(rows)


def run_checks(prep: Preparation, checks, decide, on_finding) -> bool:
    """Run checks in order, applying each accepted fix at once; False when an unfixed error stops them."""
    timings = prep.stats.setdefault("timings", {})
    for check in checks:
        start = time.perf_counter()
        found = check(prep)
        name = check.__name__.removeprefix("check_")
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
        for finding in ([found] if isinstance(found, Finding) else found or []):
            prep.findings.append(finding)
            if on_finding:
                on_finding(finding)
            if finding.fix is not None:
                finding.applied = bool(finding.fix.necessary or decide(finding))
                if finding.applied:
                    finding.fix.apply()
            if finding.blocking:
                return False
    return True


def prepare(path: str | Path, settings: PrepareSettings | None = None, *,
            decide: Callable[[Finding], bool] = accept_lossless,
            on_finding: Callable[[Finding], None] | None = None, on_notice: Callable[[str], None] | None = None,
            counter=None) -> Preparation:
    """Run every check on `path`; `on_finding` and `on_notice` see them as they come. `counter`: a
    token_stats.TokenCounter to reuse (default: the model's)."""
    from . import checks_chat, checks_legacy, checks_quality

    prep = Preparation(Path(path), settings or PrepareSettings())
    load(prep, on_notice)
    format_checks = checks_chat.CHECKS if prep.shape == "chat" else checks_legacy.CHECKS
    if run_checks(prep, format_checks, decide, on_finding):
        prep.rows = []            # the examples replace the raw rows; on big files this halves the memory
        prep.complete = run_checks(prep, checks_quality.checks(counter), decide, on_finding)
    return prep


def prefix_for(path: Path) -> Path:
    """The default output prefix: the input without its extension (pairs.csv -> pairs)."""
    return path.with_suffix("")


def output_paths(prefix: str | Path) -> tuple[Path, Path]:
    prefix = str(prefix)
    return Path(prefix + "_prepared_train.jsonl"), Path(prefix + "_prepared_valid.jsonl")


def write_prepared(prep: Preparation, prefix: str | Path | None = None) -> list[Path]:
    """Write the chat JSONL files; refuse while an error stands or when the checks did not all run."""
    blocking = prep.blocking
    if blocking or not prep.complete:
        first = blocking[0] if blocking else None
        where = f" (rows {_short_list(first.rows)})" if first and first.rows else ""
        raise DataError(f"nothing written: {first.message if first else 'the checks did not finish'}{where}",
                        "accept the suggested fix (run again with -q to accept every fix), "
                        "or correct the file and run `selfclone prepare` again", path=prep.path)
    if not prep.train:
        raise DataError("nothing written: no examples are left after the fixes", path=prep.path)
    train_path, valid_path = output_paths(prefix if prefix is not None else prefix_for(prep.path))
    write_examples(train_path, prep.train)
    written = [train_path]
    if prep.valid:
        write_examples(valid_path, prep.valid)
        written.append(valid_path)
    return written


def _short_list(rows: list[int], limit: int = 10) -> str:
    shown = ", ".join(map(str, rows[:limit]))
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")
