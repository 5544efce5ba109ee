"""Format checks for prompt/completion tables: those of OpenAI's legacy `fine_tunes.prepare_data`, adapted.

Run by validate.prepare for rows without a `messages` key. In order: required columns (case fixed, known
aliases such as question/answer offered), extra columns dropped, cell types, empty completions removed,
the prompt separator, common prompt and completion prefixes, the completion ending, a leading space on
completions, and the conversion to chat examples (dataset/legacy.py).

Two pieces of legacy advice are turned round for the chat format that selfclone trains on: the chat
template marks where a reply starts and ends, so a common separator or end token is removed rather than
added, and a completion's leading space (good for GPT-3's tokenizer) is removed rather than added.
"""
from __future__ import annotations

import datetime as dt
import os

from .chat import Example, Turn
from .legacy import END_MARKERS, from_prompt_completion
from .validate import Finding, Fix, Preparation
from ..errors import DataError

FIELDS = ("prompt", "completion")
ALIASES = {"prompt": ("question", "input", "instruction", "query", "message"),
           "completion": ("answer", "output", "response", "reply", "text")}
KEPT_META = ("source", "contact", "chat")
MAX_PROMPT_PREFIX = 12          # legacy thresholds
MIN_COMPLETION_PREFIX = 5
PROMPT_SEPARATORS = (" ->", "\n\n###\n\n", "\n\n===\n\n", "\n\n---\n\n", "\n\n===>\n\n", "\n\n--->\n\n")
SEPARATOR_CHARS = set("#-=>*+&$@%|~_<[]")
END_TOKENS = tuple({m.strip() for m in END_MARKERS} | {"[END]"})
COMPLETION_ENDINGS = ("\n", ".", " END", "***", "+++", "&&&", "$$$", "@@@", "%%%")


def show(text: str) -> str:
    return text.replace("\n", "\\n")


def common_affix(texts: list[str], suffix: bool = False) -> str:
    if not texts:
        return ""
    if suffix:
        return os.path.commonprefix([t[::-1] for t in texts])[::-1]
    return os.path.commonprefix(texts)


def infer_task_type(prompts: list[str], completions: list[str]) -> str:
    """Legacy rule: empty prompts -> open-ended; fewer unique completions than n/3 -> classification."""
    if not any(prompts):
        return "open-ended generation"
    if len(set(completions)) < len(completions) / 3:
        return "classification"
    return "conditional generation"


def _values(prep: Preparation, name: str) -> list[str]:
    return [r.record[name] for r in prep.rows]


def _columns(prep: Preparation) -> list[str]:
    seen: dict[str, None] = {}
    for row in prep.rows:
        for key in row.record if isinstance(row.record, dict) else ():
            seen.setdefault(key, None)
    return list(seen)


def _rename(prep: Preparation, old: str, new: str) -> None:
    for row in prep.rows:
        if isinstance(row.record, dict) and old in row.record:
            row.record[new] = row.record.pop(old)


def check_records(prep: Preparation):
    bad = [r.line for r in prep.rows if not isinstance(r.record, dict)]
    if bad:
        return Finding("record_type", "error", f"{len(bad)} rows are not objects with prompt and completion",
                       bad, Fix(f"Remove {len(bad)} rows that are not objects", lambda: prep.drop_rows(bad)))


def _column_check(need: str):
    def check(prep: Preparation):
        columns = _columns(prep)
        if need in columns:
            return None
        same = [c for c in columns if str(c).strip().lower() == need]
        alias = [c for c in columns if str(c).strip().lower() in ALIASES[need]]
        if same:
            return Finding("required_columns", "warning", f"The `{need}` column/key should be lowercase",
                           fix=Fix(f"Lower case column name to `{need}`", lambda: _rename(prep, same[0], need),
                                   necessary=True))
        if alias:
            return Finding("required_columns", "error", f"No `{need}` column/key, but `{alias[0]}` looks like it",
                           fix=Fix(f"Use column `{alias[0]}` as `{need}`", lambda: _rename(prep, alias[0], need),
                                   lossless=True))
        return Finding("required_columns", "error", f"`{need}` column/key is missing (columns found: "
                       f"{', '.join(map(str, columns))}). Name your columns prompt and completion, "
                       "or give each row a `messages` list (chat format)")
    check.__name__ = f"check_{need}_column"
    return check


def check_extra_columns(prep: Preparation):
    extra = [c for c in _columns(prep) if c not in FIELDS]
    if not extra:
        return None
    warn = [c for c in extra if any(f in str(c).lower() for f in FIELDS)]
    message = f"The file should contain exactly two columns/keys per row. Additional columns/keys: {extra}"
    if warn:
        message += f". WARNING: {warn} contain `prompt` or `completion` in their names; they are ignored"
    kept = [c for c in extra if str(c).lower() in KEPT_META]
    if kept:
        message += f". {kept} are kept aside for the balance check, not written"

    def drop():
        for row in prep.rows:
            meta = {k.lower(): str(row.record[k]) for k in kept if row.record.get(k) not in (None, "")}
            row.record = {f: row.record.get(f) for f in FIELDS} | ({"_meta": meta} if meta else {})

    return Finding("extra_columns", "info", message, fix=Fix(f"Remove additional columns/keys: {extra}", drop,
                                                              necessary=True))


def check_types(prep: Preparation):
    to_text, broken, fields = [], set(), set()
    for row in prep.rows:
        for name in FIELDS:
            value = row.record.get(name)
            if isinstance(value, str):
                continue
            if value is None or isinstance(value, (int, float, bool, dt.date, dt.time)):
                to_text.append((row, name))
            else:
                broken.add(row.line)
                fields.add(name)
    found = []
    if broken:
        lines = sorted(broken)
        found.append(Finding("value_types", "error", f"{len(lines)} rows hold a list or an object in "
                             f"{' and '.join(sorted(fields))}, where text belongs", lines,
                             Fix(f"Remove {len(lines)} rows with non-text values", lambda lines=lines: prep.drop_rows(lines))))
    if to_text:
        def convert():
            for row, name in to_text:
                value = row.record.get(name)
                row.record[name] = "" if value is None else str(value)
        found.append(Finding("value_types", "info", f"{len(to_text)} cells are empty or numbers: read as text",
                             sorted({r.line for r, _ in to_text}), Fix("Convert them to text", convert, necessary=True)))
    return found


def check_empty_completions(prep: Preparation):
    empty = [r.line for r in prep.rows if not r.record["completion"].strip()]
    if empty:
        return Finding("empty_completions", "warning",
                       f"`completion` column/key should not contain empty strings. These are rows: {empty[:20]}",
                       empty, Fix(f"Remove {len(empty)} rows with empty completions", lambda: prep.drop_rows(empty),
                                  necessary=True))


def _task(prep: Preparation) -> str:
    return infer_task_type(_values(prep, "prompt"), _values(prep, "completion"))


def _separator_like(text: str) -> bool:
    """'->', '###', '\n\n===\n\n': symbols, not words, and not plain punctuation ('!!' or '?' is style)."""
    core = text.strip()
    return len(core) >= 2 and not any(c.isalnum() for c in core) and any(c in SEPARATOR_CHARS for c in core)


def _strip_suffix(prep: Preparation, name: str, suffix: str) -> None:
    for row in prep.rows:
        if row.record[name].endswith(suffix):
            row.record[name] = row.record[name][: -len(suffix)]


def check_prompt_separator(prep: Preparation):
    if len(prep.rows) < 2 or _task(prep) == "open-ended generation":      # one row shares everything
        return None
    prompts = _values(prep, "prompt")
    suggested = next((s for s in PROMPT_SEPARATORS if not (s == " ->" and any("\n" in p for p in prompts))
                      and not any(s in p for p in prompts)), "\n\n### =>\n\n")
    suffix = common_affix(prompts, suffix=True)
    if all(p == suffix for p in prompts):
        def clear():
            for row in prep.rows:
                row.record["prompt"] = ""
        return Finding("prompt_separator", "error",
                       f"All prompts are identical: `{show(suffix)}`. Leave the prompts blank for open-ended "
                       "generation, otherwise make the prompts different", fix=Fix("Blank every prompt", clear))
    if not suffix:
        return Finding("prompt_separator", "info",
                       "Your prompts have no common separator at their end. The chat format needs none: the chat "
                       f"template marks where a reply starts (for legacy prompt/completion training elsewhere, "
                       f"add `{show(suggested)}` to every prompt)", data={"suggested": suggested})
    message = f"All prompts end with suffix `{show(suffix)}`"
    if len(suffix) > 10:
        message += f". This suffix seems very long; a short one such as `{show(suggested)}` does the job"
    if any(p[: -len(suffix)].count(suffix) for p in prompts):
        message += f". WARNING: some prompts contain `{show(suffix)}` more than once; review them"
    separator = _separator_part(suffix)
    if not separator:
        return Finding("prompt_separator", "info", message)
    return Finding("prompt_separator", "info",
                   message + f". `{show(separator)}` is a separator: the chat template marks where the reply "
                   "starts, so it goes", fix=Fix(f"Remove the separator `{show(separator)}` from all prompts",
                                                 lambda: _strip_suffix(prep, "prompt", separator), lossless=True))


def _separator_part(suffix: str, markers: tuple[str, ...] = ()) -> str:
    """The separator or end marker closing a common suffix ('? ->' ends with ' ->'), or '' when there is none."""
    tail = suffix
    if not suffix[:1].isspace():
        cut = next((i for i, c in enumerate(suffix) if c.isspace()), None)
        tail = suffix if cut is None else suffix[cut:]
    for candidate in (suffix, tail):
        if candidate.strip() and candidate.strip() in markers:
            return candidate
    glued = [m for m in markers if suffix.endswith(m) and not m.isalpha()]     # 'thanks<|endoftext|>'
    if glued:
        return glued[0]
    return tail if _separator_like(tail) else ""


def check_prompt_prefix(prep: Preparation):
    prompts = _values(prep, "prompt")
    prefix = common_affix(prompts)
    if len(prompts) < 2 or not prefix or all(p == prefix for p in prompts):
        return None
    if prefix.startswith("Context:"):
        return Finding("prompt_prefix", "info", f"All prompts start with `{show(prefix)}`: the context becomes "
                       "each example's system message")
    message = f"All prompts start with prefix `{show(prefix)}`"
    if len(prefix) <= MAX_PROMPT_PREFIX:
        return Finding("prompt_prefix", "info", message)

    def strip():
        for row in prep.rows:
            row.record["prompt"] = row.record["prompt"][len(prefix):]
    return Finding("prompt_prefix", "warning", message + ". Fine-tuning doesn't need an instruction that specifies "
                   "the task, or a few-shot scenario: put only the input in the prompt",
                   fix=Fix(f"Remove prefix `{show(prefix)}` from all prompts", strip))


def check_completion_prefix(prep: Preparation):
    completions = _values(prep, "completion")
    prefix = common_affix(completions)
    if len(completions) < 2 or len(prefix.strip()) < MIN_COMPLETION_PREFIX or all(c == prefix for c in completions):
        return None

    def strip():
        for row in prep.rows:
            row.record["completion"] = row.record["completion"][len(prefix):]
    return Finding("completion_prefix", "warning", f"All completions start with prefix `{show(prefix)}`. Most of "
                   "the time a completion should hold only the output, without any prefix",
                   fix=Fix(f"Remove prefix `{show(prefix)}` from all completions", strip))


def check_completion_ending(prep: Preparation):
    task = _task(prep)
    if len(prep.rows) < 2 or task in ("open-ended generation", "classification"):
        return None
    completions = _values(prep, "completion")
    suffix = common_affix(completions, suffix=True)
    if all(c == suffix for c in completions):
        return Finding("completion_ending", "error", f"All completions are identical: `{show(suffix)}`. Make them "
                       f"different, otherwise the model will just repeat `{show(suffix)}`")
    suggested = next((s for s in COMPLETION_ENDINGS if not any(s in c for c in completions)), " [END]")
    if not suffix:
        return Finding("completion_ending", "info", "Your completions have no common ending. The chat format needs "
                       "none: the template ends every reply with its end-of-turn token (for legacy training "
                       f"elsewhere, add `{show(suggested)}`)", data={"suggested": suggested})
    message = f"All completions end with suffix `{show(suffix)}`"
    if any(c[: -len(suffix)].count(suffix) for c in completions if suffix.strip()):
        message += f". WARNING: some completions contain `{show(suffix)}` more than once"
    ending = _separator_part(suffix, END_TOKENS) if suffix.strip() else suffix
    if not ending:
        return Finding("completion_ending", "info", message)
    return Finding("completion_ending", "info", message + f". `{show(ending)}` is an end token: the chat template "
                   "ends each reply with its own, so it goes",
                   fix=Fix(f"Remove the ending `{show(ending)}` from all completions",
                           lambda: _strip_suffix(prep, "completion", ending), lossless=True))


def check_leading_space(prep: Preparation):
    spaced = [r.line for r in prep.rows if r.record["completion"][:1].isspace()]
    if not spaced:
        return None

    def strip():
        for row in prep.rows:
            row.record["completion"] = row.record["completion"].lstrip()
    return Finding("leading_space", "info", f"{len(spaced)} completions start with whitespace. Legacy GPT-3 "
                   "advice was to start completions with a space; in the chat format the reply is its own turn "
                   "and the space would be learned as part of every reply", spaced,
                   Fix("Remove the whitespace at the start of completions", strip, lossless=True))


def _to_example(row) -> Example:
    record = row.record
    meta = {"line": row.line, **record.get("_meta", {})}
    if not record["prompt"].strip():        # open-ended generation: the text alone, as the assistant
        return Example((Turn("assistant", record["completion"].strip()),), meta)
    return Example(from_prompt_completion(record, line=row.line).messages, meta)


def check_convert(prep: Preparation):
    examples, failed = [], []
    for row in prep.rows:
        try:
            examples.append(_to_example(row))
        except DataError as exc:
            failed.append((row.line, exc.message))
    found = []
    if failed:
        lines = [n for n, _ in failed]
        found.append(Finding("convert", "error", f"{len(failed)} rows cannot become chat examples "
                             f"(first: row {failed[0][0]}: {failed[0][1]})", lines,
                             Fix(f"Remove {len(failed)} rows", lambda lines=lines: prep.drop_rows(lines)),
                             samples=[f"row {n}: {m}" for n, m in failed[:5]]))

    def convert():
        bad = {n for n, _ in failed}
        prep.examples = [e for e in examples if e.meta["line"] not in bad]
    found.append(Finding("convert", "info", f"{len(examples)} prompt/completion rows become chat examples "
                         "(prompt -> user, completion -> assistant, a `Context:` -> system)",
                         fix=Fix("Convert to the chat format", convert, necessary=True)))
    return found


CHECKS = [check_records, _column_check("prompt"), _column_check("completion"), check_extra_columns, check_types, check_empty_completions,
          check_prompt_separator, check_prompt_prefix, check_completion_prefix, check_completion_ending,
          check_leading_space, check_convert]
