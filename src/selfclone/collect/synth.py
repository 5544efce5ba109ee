"""Synthetic training examples from a template grid, written by a teacher model: `selfclone synth TEMPLATE.toml`.

A template names variables and their values; every combination, times `repeats`, becomes one cell. For each
cell the teacher (any Backend: the local model, or an OpenAI-compatible endpoint) gets the long `instruction`
with the values filled in, and the short `prompt` is stored with the teacher's answer as one training row:

    repeats = 2
    [variables]
    topic = ["weekend plans", "a late train"]
    [teacher]
    instruction = "Write the text message Sam sends about {topic} ..."
    [example]
    prompt = "What's up with {topic}?"

Rows are appended and fsync'ed one by one, each with its cell's key, so a stopped run resumes where it
stopped with no duplicates (a half-written last row is dropped). Output: chat JSONL (with the template's
`[example] system`) or a prompt/completion CSV, both ready for `selfclone prepare`.
See src/selfclone/resources/synth/example.toml.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import os
import string
import tomllib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..backends.base import Backend
from ..config import GenerationOptions
from ..errors import ConfigError, DataError
from ..fileio import atomic_open

KEY = "synth_key"
CSV_COLUMNS = ("prompt", "completion", KEY)
ATTEMPTS = 3
GENERATION_KEYS = ("max_tokens", "temperature", "top_p", "presence_penalty", "frequency_penalty", "seed")


@dataclass(frozen=True)
class Cell:
    key: str                 # "mood=tired|topic=a late train#2": stable across runs and value reordering
    values: dict[str, str]
    repeat: int
    index: int


@dataclass(frozen=True)
class Template:
    path: Path
    variables: dict[str, tuple[str, ...]]
    instruction: str
    prompt: str
    repeats: int = 1
    system: str | None = None              # stored in each example (JSONL output)
    teacher_system: str | None = None      # sent to the teacher only
    model: str | None = None
    backend: str | None = None
    generation: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> "Template":
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise DataError("template not found", "check the path (an example: selfclone synth example)",
                            path=path) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})", "fix the line it names") from exc
        unknown = set(data) - {"repeats", "variables", "teacher", "example"}
        if unknown:
            raise ConfigError(f"{path}: unknown section(s) {', '.join(sorted(unknown))}",
                              "a template has repeats, [variables], [teacher] and [example]")
        teacher, example = data.get("teacher", {}), data.get("example", {})
        variables = {}
        for name, values in data.get("variables", {}).items():
            if not isinstance(values, list) or not values or not all(isinstance(v, (str, int, float)) for v in values):
                raise ConfigError(f"{path}: variables.{name} must be a non-empty list of texts, got {values!r}")
            variables[name] = tuple(str(v) for v in values)
        if not isinstance(teacher.get("instruction"), str) or not teacher["instruction"].strip():
            raise ConfigError(f"{path}: [teacher] needs an `instruction` (the long request to the teacher model)")
        if not isinstance(example.get("prompt"), str) or not example["prompt"].strip():
            raise ConfigError(f"{path}: [example] needs a `prompt` (the short message stored for training)")
        repeats = data.get("repeats", 1)
        if not isinstance(repeats, int) or repeats < 1:
            raise ConfigError(f"{path}: repeats must be a whole number >= 1, got {repeats!r}")
        extra = set(teacher) - {"instruction", "system", "model", "backend", *GENERATION_KEYS}
        if extra:
            raise ConfigError(f"{path}: unknown [teacher] setting(s) {', '.join(sorted(extra))}",
                              f"[teacher] takes instruction, system, model, backend, {', '.join(GENERATION_KEYS)}")
        template = cls(path, variables, teacher["instruction"], example["prompt"], repeats, example.get("system"),
                       teacher.get("system"), teacher.get("model"), teacher.get("backend"),
                       {k: teacher[k] for k in GENERATION_KEYS if k in teacher})
        for where, text in (("teacher.instruction", template.instruction), ("example.prompt", template.prompt),
                            ("teacher.system", template.teacher_system or ""), ("example.system", template.system or "")):
            names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            missing = names - set(variables)
            if missing:
                raise ConfigError(f"{path}: {where} uses {{{sorted(missing)[0]}}}, which is not a variable",
                                  f"variables are: {', '.join(variables) or '(none)'}; write {{{{ and }}}} for braces")
        return template

    def cells(self) -> Iterator[Cell]:
        names = sorted(self.variables)
        index = 0
        for combo in itertools.product(*(self.variables[n] for n in names)):
            values = dict(zip(names, combo))
            for repeat in range(1, self.repeats + 1):
                key = "|".join(f"{n}={v}" for n, v in values.items()) + f"#{repeat}"
                yield Cell(key, values, repeat, index)
                index += 1

    def size(self) -> int:
        total = self.repeats
        for values in self.variables.values():
            total *= len(values)
        return total

    def messages(self, cell: Cell) -> list[dict]:
        system = [{"role": "system", "content": self.teacher_system.format(**cell.values)}] if self.teacher_system else []
        return system + [{"role": "user", "content": self.instruction.format(**cell.values)}]

    def options(self, base: GenerationOptions, cell: Cell, overrides: dict | None = None) -> GenerationOptions:
        """Defaults < the template's [teacher] settings < `overrides` (command-line flags)."""
        settings = {**self.generation, **{k: v for k, v in (overrides or {}).items() if v is not None}}
        seed = settings.pop("seed", base.seed)
        options = base.with_(**settings, n=1)
        # a seed per cell: repeats differ from each other, yet a rerun writes the same rows
        return options.with_(seed=None if seed is None else seed + zlib.crc32(cell.key.encode()) % 100003)


@dataclass
class SynthResult:
    total: int
    done_before: int
    written: int = 0
    empty: int = 0


class RowFile:
    """The output file: the keys already written, and one fsync'ed append per row."""

    def __init__(self, path: Path, template: Template):
        self.path, self.template = Path(path), template
        self.csv = self.path.suffix.lower() in (".csv", ".tsv")
        if self.path.suffix.lower() not in (".csv", ".tsv", ".jsonl"):
            raise DataError("the output must end in .jsonl (chat format) or .csv (prompt/completion)",
                            "pass --out NAME.jsonl or --out NAME.csv", path=self.path)
        self.keys = self._read_keys()

    def _read_keys(self) -> set[str]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return set()
        text = self.path.read_text(encoding="utf-8")
        rows = self._parse(text)
        if not text.endswith("\n") or (rows and not rows[-1].get(KEY)):   # stopped mid-row: drop the half row
            rows = rows[:-1]
            self._rewrite(rows)
        return {r[KEY] for r in rows}

    def _parse(self, text: str) -> list[dict]:
        if self.csv:
            reader = csv.DictReader(io.StringIO(text), delimiter="\t" if self.path.suffix == ".tsv" else ",")
            if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
                raise DataError(f"exists but is not a synth output (its columns: {reader.fieldnames})",
                                "choose another --out, or delete the file", path=self.path)
            return list(reader)
        rows = []
        for lineno, line in enumerate(text.splitlines(), 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                if not text.endswith("\n") and lineno == text.count("\n") + 1:    # only a cut-off last line
                    rows.append({KEY: None})
                    continue
                raise DataError(f"not valid JSON ({exc.msg})", "delete the line or choose another --out",
                                path=self.path, line=lineno) from exc
            if not isinstance(row, dict) or KEY not in row:
                raise DataError(f"exists but line {lineno} is not a synth row (no '{KEY}')",
                                "choose another --out, or delete the file", path=self.path, line=lineno)
            rows.append(row)
        return rows

    def _rewrite(self, rows: list[dict]) -> None:
        with atomic_open(self.path) as fh:
            if self.csv:
                fh.write(self._csv_line(CSV_COLUMNS))
            for row in rows:
                fh.write(self._csv_line([row[c] for c in CSV_COLUMNS]) if self.csv else
                         json.dumps(row, ensure_ascii=False) + "\n")

    def _csv_line(self, values) -> str:
        buf = io.StringIO()
        csv.writer(buf, delimiter="\t" if self.path.suffix == ".tsv" else ",", lineterminator="\n").writerow(values)
        return buf.getvalue()

    def line_for(self, cell: Cell, answer: str) -> str:
        prompt = self.template.prompt.format(**cell.values)
        if self.csv:
            return self._csv_line([prompt, answer, cell.key])
        system = self.template.system.format(**cell.values) if self.template.system else None
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        return json.dumps({"messages": messages, KEY: cell.key}, ensure_ascii=False) + "\n"

    def append(self, cell: Cell, answer: str) -> None:
        new = not self.path.exists() or self.path.stat().st_size == 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8", newline="") as fh:
            if new and self.csv:
                fh.write(self._csv_line(CSV_COLUMNS))
            fh.write(self.line_for(cell, answer))
            fh.flush()
            os.fsync(fh.fileno())
        self.keys.add(cell.key)


def run(template: Template, teacher: Backend, out: str | Path, options: GenerationOptions | None = None, *,
        overrides: dict | None = None, limit: int | None = None,
        on_row: Callable[[Cell, str, SynthResult], None] | None = None) -> SynthResult:
    """Ask the teacher for every cell not yet in `out`; append each answer as it arrives."""
    rows = RowFile(Path(out), template)
    result = SynthResult(total=template.size(), done_before=len(rows.keys))
    options = options or GenerationOptions(max_tokens=160, temperature=0.9)
    for cell in template.cells():
        if cell.key in rows.keys:
            continue
        if limit is not None and result.written >= limit:
            break
        answer = ""
        for attempt in range(ATTEMPTS):         # an empty answer is asked again with another seed
            cell_options = template.options(options, cell, overrides)
            if cell_options.seed is not None and attempt:
                cell_options = cell_options.with_(seed=cell_options.seed + 7919 * attempt)
            # a reply cut by max_tokens can end inside a multi-byte character, decoded as U+FFFD
            answer = teacher.candidates(template.messages(cell), cell_options)[0].strip().rstrip("\ufffd").strip()
            if answer:
                break
        if not answer:
            result.empty += 1           # left for the next run to retry
            continue
        rows.append(cell, answer)
        result.written += 1
        if on_row:
            on_row(cell, answer, result)
    return result
