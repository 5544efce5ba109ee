"""tables.iter_rows on real files of every format, and the broken files people really have."""
from __future__ import annotations

import json

import pytest

from selfclone.dataset.tables import detect_format, iter_rows
from selfclone.errors import DataError

ROWS = [{"prompt": "Where are you?", "completion": "On the train, 10 min"},
        {"prompt": "Dinner?", "completion": "yes!! pizza, \"the usual\""}]


def read(path, **kw):
    notices = []
    rows = list(iter_rows(path, notice=notices.append, **kw))
    return rows, notices


def test_csv_keeps_quoted_newlines_and_names_start_lines(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text('prompt,completion\nhi,"hello\nthere"\n\nyo,"say ""hi"""\n', encoding="utf-8")
    rows, notices = read(path)
    assert rows == [(2, {"prompt": "hi", "completion": "hello\nthere"}),
                    (5, {"prompt": "yo", "completion": 'say "hi"'})]
    assert notices == []


def test_tsv_and_tab_separated_csv(tmp_path):
    (tmp_path / "a.tsv").write_text("prompt\tcompletion\nhi\tho\n")
    (tmp_path / "b.csv").write_text("prompt\tcompletion\nhi\tho\n")
    assert read(tmp_path / "a.tsv")[0] == [(2, {"prompt": "hi", "completion": "ho"})]
    rows, notices = read(tmp_path / "b.csv")
    assert rows == [(2, {"prompt": "hi", "completion": "ho"})]
    assert "tabs" in notices[0]


def test_broken_csv_quote_names_the_row(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text('prompt,completion\nok,fine\nhi,"never closed\nyo,sup\n')
    with pytest.raises(DataError) as exc:
        read(path)
    assert exc.value.line == 3
    assert "broken quote" in exc.value.message and '""' in exc.value.hint


def test_csv_row_with_too_many_fields(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text("prompt,completion\nhi,hello, there\n")
    with pytest.raises(DataError) as exc:
        read(path)
    assert exc.value.line == 2 and "3 fields" in exc.value.message


def test_xlsx_round_trip_and_first_sheet_notice(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "pairs"
    sheet.append(["Prompt", "Completion", "n"])
    for row in ROWS:
        sheet.append([row["prompt"], row["completion"], 7])
    sheet.append([None, None, None])          # an empty row is skipped
    sheet.append(["last", None, 1.5])
    other = book.create_sheet("notes")
    other.append(["ignored"])
    path = tmp_path / "pairs.xlsx"
    book.save(path)
    rows, notices = read(path)
    assert rows[:2] == [(n, {"Prompt": r["prompt"], "Completion": r["completion"], "n": 7})
                        for n, r in zip((2, 3), ROWS)]
    assert rows[2] == (5, {"Prompt": "last", "Completion": "", "n": 1.5})
    assert len(notices) == 1 and "2 sheets" in notices[0] and "'pairs'" in notices[0]
    assert read(path, sheet="notes")[0] == []          # only a header row
    with pytest.raises(DataError, match="no sheet named 'nope'"):
        read(path, sheet="nope")


def test_parquet_round_trip_with_nested_messages(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
                "source": "whatsapp"} for i in range(5000)]
    path = tmp_path / "chat.parquet"
    pq.write_table(pa.Table.from_pylist(records), path)
    rows, _ = read(path)
    assert [n for n, _ in rows] == list(range(1, 5001))
    assert [r for _, r in rows] == records


def test_json_array_keeps_start_lines(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text('[\n  {"prompt": "a",\n   "completion": "b"},\n\n  {"prompt": "c", "completion": "d"}\n]\n')
    rows, notices = read(path)
    assert rows == [(2, {"prompt": "a", "completion": "b"}), (5, {"prompt": "c", "completion": "d"})]
    assert notices == []


def test_json_object_with_a_list(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps({"title": "x", "examples": ROWS}))
    rows, notices = read(path)
    assert [r for _, r in rows] == ROWS and "'examples'" in notices[0]


def test_json_named_jsonl_and_the_reverse(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps(ROWS, indent=2))
    (tmp_path / "b.json").write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    rows, notices = read(tmp_path / "a.jsonl")
    assert [r for _, r in rows] == ROWS and "holds JSON;" in notices[0]
    rows, notices = read(tmp_path / "b.json")
    assert rows == [(1, ROWS[0]), (2, ROWS[1])] and "holds JSON Lines" in notices[0]
    (tmp_path / "one.jsonl").write_text(json.dumps(ROWS[0]) + "\n")      # one line fits both: no notice
    assert read(tmp_path / "one.jsonl") == ([(1, ROWS[0])], [])


def test_jsonl_bad_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n{oops\n")
    with pytest.raises(DataError) as exc:
        read(path)
    assert exc.value.line == 2


def test_txt_lines(tmp_path):
    path = tmp_path / "posts.txt"
    path.write_text("first post\n\nsecond post\n")
    assert read(path)[0] == [(1, {"text": "first post"}), (3, {"text": "second post"})]


@pytest.mark.parametrize("name,content,looks", [
    ("data.csv", b'{"prompt": "a", "completion": "b"}\n{"prompt": "c", "completion": "d"}\n', "JSON Lines"),
    ("data.xlsx", b"prompt,completion\nhi,ho\n", "plain text"),
    ("data.parquet", b"PK\x03\x04rest-of-a-zip", "Excel"),
    ("data.jsonl", b"prompt,completion\nhi,ho\n", "plain text"),
    ("data.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old", "old Excel"),
])
def test_content_that_contradicts_the_extension(tmp_path, name, content, looks):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as exc:
        detect_format(path)
    assert looks in exc.value.message and name in str(exc.value) and exc.value.hint


def test_unknown_extension_is_sniffed_or_refused(tmp_path):
    (tmp_path / "export.dat").write_text(json.dumps(ROWS))
    assert read(tmp_path / "export.dat")[0][0] == (1, ROWS[0])
    (tmp_path / "notes.md").write_text("hello")
    with pytest.raises(DataError, match="unsupported extension '.md'"):
        read(tmp_path / "notes.md")


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("prompt,completion\ncaf\xe9,ol\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8") as exc:
        read(path)
    assert "UTF-8" in exc.value.hint


def test_old_xls_workbook(tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old")
    with pytest.raises(DataError, match="old Excel") as exc:
        read(path)
    assert ".xlsx" in exc.value.hint
