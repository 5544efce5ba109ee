"""Files as people really have them (issue 14): Excel's CSV with a BOM and semicolons, other delimiters."""
from __future__ import annotations

import json

import pytest

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


def test_whatsapp_with_mixed_date_orders_is_read_date_by_date(tmp_path, capsys, monkeypatch):
    from selfclone.collect.importers.whatsapp import WhatsAppImporter

    monkeypatch.chdir(tmp_path)
    chat = tmp_path / "mixed.txt"
    chat.write_text("3/12/23, 9:41 PM - Bruno: hey there\n"
                    "13/12/23, 9:46 PM - Bruno: day first here\n"
                    "12/25/23, 9:47 PM - Maggie: month first there\n"
                    "4/1/24, 9:48 PM - Bruno: fits both\n")
    code, output = run(capsys, "import", "whatsapp", chat, "--me", "Maggie", "--out", tmp_path / "out.jsonl")
    assert code == 0, output
    assert "mixes date orders: 1 date(s) can only be month-first (from line 3)" in output
    assert "read as dmy (lines 1, 4)" in output
    with pytest.warns(UserWarning, match="mixes date orders"):
        days = [m.sent_at.date().isoformat() for m in WhatsAppImporter().read(chat, WhatsAppImporter.Options())]
    assert days == ["2023-12-03", "2023-12-13", "2023-12-25", "2024-01-04"]
