"""Generic tables with a column mapping, through dataset.tables (CSV, TSV, JSON, JSONL, XLSX)."""
from __future__ import annotations

import pytest
from golden import FIXTURES

from selfclone.collect.importers.tabular import TabularImporter, parse_columns
from selfclone.errors import DataError

TAB = FIXTURES / "tabular"


def read(name, columns="", **options):
    return [e.to_dict() for e in TabularImporter().read(TAB / name if isinstance(name, str) else name,
                                                        TabularImporter.Options(columns=columns, **options))]


def test_csv_usual_columns_and_empty_rows_skipped():
    assert read("qa.csv") == [
        {"messages": [{"role": "user", "content": "What do you do on weekends?"},
                      {"role": "assistant", "content": "Mostly hiking, and too much coffee."}]},
        {"messages": [{"role": "user", "content": "Favourite food?"},
                      {"role": "assistant", "content": "My mum's feijoada, no contest."}]},
    ]


def test_mappings():
    assert read("qa.tsv", "prompt=Q,completion=A") == [{"messages": [
        {"role": "user", "content": "Cats or dogs?"},
        {"role": "assistant", "content": "Dogs, but do not tell my cat."}]}]
    assert read("custom.json", "prompt=ask,completion=said,system=ctx") == [{"messages": [
        {"role": "system", "content": "at a party"}, {"role": "user", "content": "Where did you grow up?"},
        {"role": "assistant", "content": "In a small town by the sea."}]}]


def test_chat_and_legacy_rows():
    assert read("mixed.jsonl") == [
        {"messages": [{"role": "user", "content": "Best advice you got?"},
                      {"role": "assistant", "content": "Sleep on it."}]},
        {"messages": [{"role": "user", "content": "Coffee or tea?"},
                      {"role": "assistant", "content": "Coffee, always."}]},
    ]


def test_xlsx(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Question", "Answer"])
    sheet.append(["Morning or night?", "Night owl, always."])
    book.save(tmp_path / "qa.xlsx")
    assert read(tmp_path / "qa.xlsx") == [{"messages": [
        {"role": "user", "content": "Morning or night?"}, {"role": "assistant", "content": "Night owl, always."}]}]


@pytest.mark.parametrize("name, columns, line, words", [
    ("broken.jsonl", "", 2, "not valid JSON"),
    ("qa.csv", "prompt=nope,completion=answer", 2, "no column 'nope'"),
    ("custom.json", "", 2, "which columns hold the prompt"),
])
def test_bad_input(name, columns, line, words):
    with pytest.raises(DataError) as err:
        read(name, columns)
    assert err.value.line == line and words in str(err.value) and str(err.value.path).endswith(name)


def test_parse_columns():
    assert parse_columns("prompt=q, completion=a") == {"prompt": "q", "completion": "a"}
    with pytest.raises(DataError):
        parse_columns("prompt=q")
    with pytest.raises(DataError):
        parse_columns("answer=a,prompt=q")
