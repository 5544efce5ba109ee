"""Read rows from a tabular or JSON file, whatever its format: CSV, TSV, XLSX, JSON, JSONL, Parquet, TXT.

    for number, record in iter_rows(Path("pairs.xlsx")):
        ...            # number: the line (text formats) or row (sheets, Parquet) a DataError should name

The content is sniffed, not only the extension: a JSON array in a `.jsonl` file (or JSON Lines in a `.json`
file) is read as what it is, with a notice; a file whose content contradicts its extension (a zip in a
`.csv`, JSON Lines in a `.xlsx`) raises DataError naming what it looks like. Notices go to `notice`
(a callable taking one string) or, when none is given, to `warnings.warn(..., TableNotice)`.

Values: CSV, TSV and TXT give strings; XLSX cells keep their type (numbers, dates) with empty cells as "";
JSON, JSONL and Parquet values keep their types. TXT gives one {"text": line} per non-blank line.
CSV, TSV, JSONL, TXT, Parquet and XLSX (openpyxl read-only) stream; a JSON document is parsed whole.
"""
from __future__ import annotations

import csv
import json
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import DataError
from ..fileio import input_file

FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl", "parquet", "txt")
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".xlsx": "xlsx", ".json": "json", ".jsonl": "jsonl",
               ".ndjson": "jsonl", ".parquet": "parquet", ".txt": "txt"}
_JSON_ARRAY = re.compile(r'\[\s*([\[{"\]]|$)')
_SAVE_UTF8 = "save the file as UTF-8 (in Excel: 'CSV UTF-8'; in an editor: encoding UTF-8)"
_FIX_QUOTE = 'close the quote, or write a quote inside quoted text as two quotes ("")'


class TableNotice(UserWarning):
    """Something the reader did that the user should know (first sheet only, JSON read as JSONL...)."""


def check_text(path: Path, head: bytes | None = None) -> bytes:
    """The first 64 KB of `path`, unless the file is empty or UTF-16: then the one error every reader gives."""
    if head is None:
        with path.open("rb") as fh:
            head = fh.read(65536)
    if not head.strip():
        raise DataError("the file is empty: no examples or rows", "add one JSON object (or one row) per line (see "
                        "`selfclone help data`)", path=path)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) > 3 and head[1::2].count(0) > len(head) // 4):
        raise DataError("not UTF-8 text (it is UTF-16)", _SAVE_UTF8, path=path, line=1)
    return head


def _sniff(path: Path) -> str:
    """What the content looks like: xlsx, xls, parquet, binary, json, jsonl, json-line (one line) or text.
    Empty and UTF-16 files get the errors of `check_text`, as in every other reader (train's included)."""
    with path.open("rb") as fh:
        head = check_text(path, fh.read(65536))
        if head.startswith(b"PK\x03\x04"):
            return "xlsx"
        if head.startswith(b"PAR1"):
            return "parquet"
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            return "xls"
        if b"\x00" in head:
            return "binary"
        text = head.decode("utf-8-sig", errors="replace").lstrip()
        if _JSON_ARRAY.match(text):
            return "json"
        if not text.startswith("{"):
            return "text"
        fh.seek(len(head) - len(head.lstrip()))     # the first non-blank byte
        first = fh.readline().decode("utf-8-sig", errors="replace")
        try:
            json.loads(first)
        except json.JSONDecodeError:
            return "json"        # an object spread over several lines: one JSON document
        return "jsonl" if fh.read(65536).strip() else "json-line"


_LOOKS = {"xlsx": "an Excel (XLSX) or other zip file", "xls": "an old Excel (.xls) workbook",
          "parquet": "a Parquet file", "binary": "a binary file", "json": "JSON", "jsonl": "JSON Lines", "text": "plain text (CSV, TSV or TXT)"}
_RENAME = {"xlsx": ".xlsx", "parquet": ".parquet", "json": ".json", "jsonl": ".jsonl", "text": ".csv or .txt"}


def detect_format(path: Path, notice: Callable[[str], None] | None = None) -> str:
    """The format to read `path` as (one of FORMATS), from its extension checked against its content."""
    say = notice or (lambda text: warnings.warn(text, TableNotice, stacklevel=3))
    path = Path(path)
    input_file(path)
    declared = _EXTENSIONS.get(path.suffix.lower())
    looks = _sniff(path)
    if looks == "json-line":      # one complete object on one line: JSON and JSON Lines both fit
        looks = declared if declared in ("json", "jsonl") else "json"
    if declared is None:
        if looks == "xls":
            raise DataError("an old Excel (.xls) workbook", "open it in Excel or LibreOffice and save it as .xlsx",
                            path=path)
        if looks not in FORMATS:
            raise DataError(f"unsupported extension '{path.suffix or '(none)'}'",
                            f"use one of: {', '.join(sorted(_EXTENSIONS))}", path=path)
        say(f"{path.name}: no known extension; its content looks like {_LOOKS[looks]}, reading it as such")
        return looks
    if declared in ("json", "jsonl") and looks in ("json", "jsonl"):
        if declared != looks:
            say(f"{path.name} is named .{declared} but holds {_LOOKS[looks]}; reading it as {_LOOKS[looks]}")
        return looks
    if declared == looks or (declared in ("csv", "tsv", "txt") and looks == "text"):
        return declared
    raise DataError(f"the file is named .{declared} but its content looks like {_LOOKS[looks]}",
                    f"rename it to {_RENAME[looks]}" if looks in _RENAME
                    else f"open it in Excel or LibreOffice and save it as {declared.upper()}", path=path)


def iter_rows(path: str | Path, *, sheet: str | None = None, notice: Callable[[str], None] | None = None,
              delimiter: str | None = None) -> Iterator[tuple[int, dict]]:
    """Yield (line or row number, record) for every data row of `path`; raise DataError naming bad rows.
    CSV's delimiter is the one the header uses most of , ; TAB | (Excel writes ; in many locales) unless given."""
    path = Path(path)
    say = notice or (lambda text: warnings.warn(text, TableNotice, stacklevel=3))
    fmt = detect_format(path, say)
    if sheet is not None and fmt != "xlsx":
        raise DataError(f"a sheet was named ({sheet!r}) but the file is {fmt.upper()}, not XLSX", path=path)
    if delimiter is not None and fmt not in ("csv", "tsv", "txt"):
        raise DataError(f"a delimiter was given ({delimiter!r}) but the file is {fmt.upper()}", path=path)
    delimiter = parse_delimiter(delimiter)
    readers = {"csv": lambda p, f, s: _csv(p, f, s, delimiter), "tsv": lambda p, f, s: _csv(p, f, s, delimiter), "txt": _txt, "jsonl": _jsonl, "json": _json, "parquet": _parquet}
    if fmt == "xlsx":
        yield from _xlsx(path, sheet, say)
    else:
        yield from readers[fmt](path, fmt, say)


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        lineno = 0
        try:
            for lineno, text in enumerate(fh, 1):
                yield lineno, text
        except UnicodeDecodeError as exc:
            raise DataError(f"not UTF-8 text ({exc.reason} near line {lineno + 1})",
                            _SAVE_UTF8, path=path, line=lineno + 1) from exc


def parse_delimiter(text: str | None) -> str | None:
    """'-o delimiter=;' -> ';'; 'tab' or '\\t' -> TAB; anything longer than one character is refused."""
    if text is None:
        return None
    text = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}.get(text.lower(), text)
    if len(text) != 1 or text.isalnum() or text in "\"\r\n":
        raise DataError(f"delimiter must be one character such as , ; | or tab, got {text!r}", field="delimiter")
    return text


_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "bars"}


def _csv(path: Path, fmt: str, say, delimiter: str | None = None) -> Iterator[tuple[int, dict]]:
    lines = _text_lines(path)
    first = next(lines, None)
    if first is None:
        return
    if delimiter is None:
        expected = "\t" if fmt == "tsv" else ","
        counts = {d: first[1].count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=lambda d: (counts[d], d == expected))
        if counts[delimiter] == 0:
            delimiter = expected
        elif delimiter != expected:
            say(f"{path.name}: the header is separated by {_NAMES[delimiter]}, not {_NAMES[expected]}; reading it so "
                f"(-o delimiter=X to choose)")

    def chained():
        yield first[1]
        for _, text in lines:
            yield text

    reader = csv.reader(chained(), delimiter=delimiter, strict=True)
    start = 1
    try:
        header = next(reader)
        header = [h.strip() or f"column_{i + 1}" for i, h in enumerate(header)]
        start = reader.line_num + 1
        for values in reader:
            if any(v.strip() for v in values):
                if len(values) > len(header):
                    raise DataError(f"{len(values)} fields but the header has {len(header)}",
                                    f"a {_NAMES.get(delimiter, repr(delimiter))[:-1]} inside a text must be quoted "
                                    f"(\"a{delimiter} b\"), or choose the delimiter with -o delimiter=X; {_FIX_QUOTE}",
                                    path=path, line=start)
                values += [""] * (len(header) - len(values))
                yield start, dict(zip(header, values))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"broken quote in the row starting on line {start} ({exc})", _FIX_QUOTE,
                        path=path, line=start) from exc


def _txt(path: Path, fmt: str, say) -> Iterator[tuple[int, dict]]:
    for lineno, text in _text_lines(path):
        text = text.rstrip("\r\n")
        if text.strip():
            yield lineno, {"text": text}


def _jsonl(path: Path, fmt: str, say) -> Iterator[tuple[int, dict]]:
    return iter_jsonl(path)


def iter_jsonl(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) for each non-blank line of a JSONL file; bad JSON names its line."""
    check_text(Path(path))
    for lineno, text in _text_lines(path):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc.msg} at column {exc.colno})",
                            "each line must be one complete JSON object; fix or delete this line",
                            path=path, line=lineno) from exc
        yield lineno, record


def _json(path: Path, fmt: str, say) -> Iterator[tuple[int, dict]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason})", "save the file as UTF-8", path=path) from exc
    decoder = json.JSONDecoder()
    pos = len(text) - len(text.lstrip())
    if text[pos:pos + 1] == "[":
        yield from _json_array(path, text, pos, decoder)
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON ({exc.msg})", "fix the JSON at that line", path=path, line=exc.lineno) from exc
    if not isinstance(data, dict):
        raise DataError(f"the JSON document is a {type(data).__name__}, expected a list of rows", path=path)
    lists = [k for k, v in data.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
    if len(lists) == 1 and not {"messages", "prompt", "completion"} & set(data):
        say(f"{path.name}: reading the rows of its '{lists[0]}' list (row numbers count its items)")
        for i, record in enumerate(data[lists[0]], 1):
            yield i, record
    elif lists and not {"messages", "prompt", "completion"} & set(data):
        raise DataError(f"the JSON object holds several lists of rows ({', '.join(lists)})",
                        "keep one list, or save the rows as JSON Lines (one object per line)", path=path)
    else:
        say(f"{path.name}: the JSON document is one object; reading it as a single row")
        yield 1, data


def _json_array(path: Path, text: str, pos: int, decoder: json.JSONDecoder) -> Iterator[tuple[int, dict]]:
    """Walk a JSON array item by item so each row keeps the line it starts on."""
    pos += 1
    line = text.count("\n", 0, pos) + 1
    last = pos
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            raise DataError("the JSON array never closes (missing ']')", "fix the end of the file",
                            path=path, line=text.count("\n") + 1)
        if text[pos] == "]":
            return
        line += text.count("\n", last, pos)
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc.msg})", "fix the JSON at that line",
                            path=path, line=exc.lineno) from exc
        yield line, record
        last, pos = pos, end


def _xlsx(path: Path, sheet: str | None, say) -> Iterator[tuple[int, dict]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:       # openpyxl raises zipfile, KeyError and its own errors for broken files
        raise DataError(f"not a readable XLSX workbook ({type(exc).__name__}: {exc})",
                        "open it in a spreadsheet program and save it again as .xlsx", path=path) from exc
    try:
        names = book.sheetnames
        if sheet is not None and sheet not in names:
            raise DataError(f"no sheet named {sheet!r}", f"the sheets are: {', '.join(names)}", path=path)
        if sheet is None and len(names) > 1:
            say(f"{path.name} has {len(names)} sheets ({', '.join(names)}); reading only the first, "
                f"'{names[0]}'. Put all the data in the first sheet, or name the sheet to read")
        rows = book[sheet or names[0]].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return
        header = [str(h).strip() if h not in (None, "") else f"column_{i + 1}" for i, h in enumerate(header)]
        for number, values in enumerate(rows, 2):
            if all(v in (None, "") for v in values):
                continue
            cells = ["" if v is None else v for v in values]
            extra = [v for v in cells[len(header):] if v != ""]
            if extra:
                raise DataError(f"a value beyond the last header column ({extra[0]!r})",
                                "give that column a header in row 1 or delete the value", path=path, line=number)
            cells += [""] * (len(header) - len(cells))
            yield number, dict(zip(header, cells))
    finally:
        book.close()


def _parquet(path: Path, fmt: str, say) -> Iterator[tuple[int, dict]]:
    import pyarrow
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except pyarrow.ArrowException as exc:
        raise DataError(f"not a readable Parquet file ({exc})", "write it again with pyarrow or pandas", path=path) from exc
    number = 1
    for batch in table.iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            yield number, record
            number += 1
