"""Files as people really have them (issue 14): Excel's CSV with a BOM and semicolons, other delimiters."""
from __future__ import annotations

import json

from selfclone.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, " ".join((out.out + out.err).split())


def test_excel_csv_with_bom_and_semicolons_is_sniffed(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "excel.csv"
    data.write_bytes("question;answer\nhow are you, really?;fine, thanks. and you?\n".encode("utf-8-sig"))
    code, output = run(capsys, "import", "tabular", data, "--out", tmp_path / "out.jsonl")
    assert code == 0, output
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert rows == [{"messages": [{"role": "user", "content": "how are you, really?"},
                                  {"role": "assistant", "content": "fine, thanks. and you?"}]}]


def test_delimiter_option(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "bars.csv"
    data.write_text("question|answer\nhi; there|yo, you\n")
    code, output = run(capsys, "import", "tabular", data, "-o", "delimiter=|", "--out", tmp_path / "out.jsonl")
    assert code == 0, output
    assert json.loads((tmp_path / "out.jsonl").read_text())["messages"][1]["content"] == "yo, you"
    code, output = run(capsys, "import", "tabular", data, "-o", "delimiter=ab", "--out", tmp_path / "out.jsonl")
    assert code == 2 and "delimiter must be one character" in output


def test_an_unquoted_semicolon_names_the_delimiter_option(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "semi.csv"
    data.write_text("question;answer\nhi;fine; you?\n")
    code, output = run(capsys, "import", "tabular", data, "--out", tmp_path / "out.jsonl")
    assert code == 2 and "semicolon inside a text must be quoted" in output and "-o delimiter=" in output
