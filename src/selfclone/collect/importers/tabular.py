"""Generic tables (CSV, TSV, XLSX, JSON, JSONL, Parquet) -> examples, with a column mapping.

    selfclone import tabular answers.csv --columns prompt=question,completion=answer
    selfclone import tabular qa.xlsx --columns prompt=Q,completion=A,system=Context -o sheet=Sheet2

The rows are read by dataset.tables (the same reader as `selfclone prepare`). `--columns` maps the roles
`prompt`, `completion` and optional `system` to column names. Without it the usual pairs are tried:
prompt/completion, question/answer, input/output, instruction/response, context/response. Rows already in
chat format (a `messages` list) are taken as they are, and prompt/completion rows go through the legacy
converter (separators such as "->" and "###" removed). Rows whose prompt or completion is empty are skipped.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pydantic

from ...dataset.chat import Example, Turn, parse_record
from ...dataset.tables import detect_format, iter_rows
from ...errors import DataError

ROLES = ("prompt", "completion", "system")
USUAL = (("prompt", "completion"), ("question", "answer"), ("input", "output"), ("instruction", "response"),
         ("context", "response"), ("prompt", "response"))


def parse_columns(text: str) -> dict[str, str]:
    """'prompt=question,completion=answer' -> {'prompt': 'question', 'completion': 'answer'}."""
    mapping: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        role, sep, column = pair.partition("=")
        role = role.strip().lower()
        if not sep or role not in ROLES or not column.strip():
            raise DataError(f"bad column mapping {pair!r}", "write --columns prompt=COLUMN,completion=COLUMN"
                            "[,system=COLUMN]", field="columns")
        mapping[role] = column.strip()
    if mapping and not {"prompt", "completion"} <= set(mapping):
        raise DataError(f"--columns {text!r} names no {'prompt' if 'prompt' not in mapping else 'completion'} column",
                        "map both: --columns prompt=COLUMN,completion=COLUMN", field="columns")
    return mapping


class TabularImporter:
    name = "tabular"
    title = "CSV, TSV, XLSX, JSON, JSONL or Parquet with prompt/completion columns"
    produces = "examples"
    marks_owner = True

    class Options(pydantic.BaseModel):
        columns: str = ""
        sheet: str | None = None
        delimiter: str | None = pydantic.Field(None, description="CSV delimiter: , ; | or tab (default: sniffed)")

    def detect(self, path: Path) -> bool:
        path = Path(path)
        if not path.is_file() or path.suffix.lower() not in (".csv", ".tsv", ".xlsx", ".json", ".jsonl", ".ndjson",
                                                               ".parquet"):
            return False
        try:
            detect_format(path, notice=lambda _: None)
        except DataError:
            return False
        return True

    def read(self, path: Path, options: Options) -> Iterator[Example]:
        path = Path(path)
        mapping = parse_columns(options.columns)
        count = 0
        for line, record in iter_rows(path, sheet=options.sheet, notice=lambda _: None,
                                      delimiter=options.delimiter):
            if not isinstance(record, dict):
                raise DataError(f"a row is {type(record).__name__}, expected an object with columns",
                                path=path, line=line)
            if not mapping and ("messages" in record or {"prompt", "completion"} <= set(record)):
                if "messages" not in record and not (_cell(record["prompt"]) and _cell(record["completion"])):
                    continue
                parsed = parse_record(record, path=path, line=line)
                count += 1
                yield Example(parsed.messages, {"source": "tabular", "chat": path.name, "line": line})
                continue
            roles = mapping or _usual(record, path, line)
            for role, column in roles.items():
                if column not in record:
                    raise DataError(f"no column {column!r} (mapped to {role})",
                                    f"the columns are: {', '.join(map(str, record))}; fix --columns",
                                    path=path, line=line, field=column)
            prompt, completion = _cell(record[roles["prompt"]]), _cell(record[roles["completion"]])
            if not prompt or not completion:
                continue
            system = _cell(record.get(roles["system"], "")) if "system" in roles else ""
            turns = (Turn("user", prompt), Turn("assistant", completion))
            if system:
                turns = (Turn("system", system), *turns)
            count += 1
            yield Example(turns, {"source": "tabular", "chat": path.name, "line": line})
        if count == 0:
            raise DataError("no rows with both a prompt and a completion", "check the file and --columns", path=path)


def _cell(value) -> str:
    return "" if value is None else str(value).strip()


def _usual(record: dict, path: Path, line: int) -> dict[str, str]:
    lower = {str(k).strip().lower(): k for k in record}
    for prompt, completion in USUAL:
        if prompt in lower and completion in lower:
            return {"prompt": lower[prompt], "completion": lower[completion]}
    raise DataError(f"which columns hold the prompt and the reply? The columns are: {', '.join(map(str, record))}",
                    "pass --columns prompt=COLUMN,completion=COLUMN", path=path, line=line)
