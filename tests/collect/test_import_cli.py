"""`selfclone import`, `selfclone data stats|pii|export` and `selfclone bench import` through the real CLI."""
from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pexpect
import pytest
from golden import FIXTURES

from selfclone.cli import main
from selfclone.dataset.chat import read_examples

ANDROID = str(FIXTURES / "whatsapp" / "android_12h_us.txt")


@pytest.fixture
def cli(ws, monkeypatch, capsys):
    """Run `selfclone ARGS` inside the workspace; returns (exit code, stdout, stderr)."""
    monkeypatch.chdir(ws.root)
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def counts(ws) -> tuple[int, int]:
    db = sqlite3.connect(ws.store_path)
    try:
        return db.execute("select count(*) from messages").fetchone()[0], db.execute(
            "select count(*) from examples").fetchone()[0]
    finally:
        db.close()


def test_import_twice_adds_nothing(cli, ws):
    code, out, _ = cli("import", "whatsapp", ANDROID, "--me", "Maggie")
    assert code == 0 and "3 new in the store" in out
    assert counts(ws) == (12, 3)
    code, out, _ = cli("import", "whatsapp", ANDROID, "--me", "Maggie")
    assert code == 0 and "0 new" in out
    assert counts(ws) == (12, 3)


def test_missing_me_lists_senders_and_changes_nothing(cli, ws):
    code, _, err = cli("import", "whatsapp", ANDROID)
    assert code == 2
    assert "which of the senders is you" in err and "'Ana Souza' (6)" in err and "'Maggie' (4)" in err
    assert counts(ws) == (0, 0)


def test_me_matching_nobody_fails_and_store_is_unchanged(cli, ws):
    assert cli("import", "whatsapp", ANDROID, "--me", "Maggie")[0] == 0
    code, _, err = cli("import", "whatsapp", str(FIXTURES / "whatsapp" / "ios_24h_de.txt"), "--me", "Margaret")
    assert code == 2 and "--me 'Margaret' matches nobody" in err and "'Ana Souza'" in err
    assert counts(ws) == (12, 3)


def test_a_bad_file_rolls_back_the_whole_import(cli, ws):
    code, _, err = cli("import", "whatsapp", ANDROID, str(FIXTURES / "whatsapp" / "bad" / "unknown_date.txt"),
                       "--me", "Maggie")
    assert code == 2 and "unknown_date.txt, line 1" in err and "date_order" in err
    assert counts(ws) == (0, 0)


def test_auto_detects_each_format(cli, ws, tmp_path):
    mixed = tmp_path / "exports"
    mixed.mkdir()
    shutil.copy(FIXTURES / "telegram" / "ChatExport_2023-12-03" / "result.json", mixed / "telegram.json")
    shutil.copy(FIXTURES / "sms" / "sms-20231204.xml", mixed / "backup.xml")
    shutil.copy(FIXTURES / "email" / "gmail.mbox", mixed / "mail")
    shutil.copy(ANDROID, mixed / "chat.txt")
    (mixed / "notes.bin").write_bytes(b"\x00\x01")
    code, out, err = cli("import", "auto", mixed, "--me", "Maggie")          # a folder, looked into file by file
    assert code == 0, err
    assert "backup.xml: sms" in err and "mail: email" in err and "skipped" in err and "notes.bin" in err
    db = sqlite3.connect(ws.store_path)
    sources = dict(db.execute("select source, count(*) from examples group by source").fetchall())
    db.close()
    assert sources == {"telegram": 2, "sms": 2, "email": 1, "whatsapp": 3}


def test_auto_names_what_it_cannot_tell(cli, tmp_path):
    strange = tmp_path / "blob.bin"
    strange.write_bytes(b"\x00\x01\x02")
    code, _, err = cli("import", "auto", strange)
    assert code == 2 and "could not tell which export this is" in err and "blob.bin" in err


def test_out_writes_training_jsonl_and_no_pii_keeps_data(cli, ws, tmp_path):
    out = tmp_path / "chat.jsonl"
    code, stdout, _ = cli("import", "whatsapp", ANDROID, "--me", "Maggie", "--out", out)
    assert code == 0 and "wrote 3 examples" in stdout
    examples = read_examples(out)                                # what `selfclone train` reads
    assert examples[1].messages[2].content == "call me at <PHONE> or mail <EMAIL>"
    assert counts(ws) == (0, 0)                                  # --out leaves the store alone
    code, _, err = cli("import", "whatsapp", ANDROID, "--me", "Maggie", "--out", out, "--no-pii")
    assert code == 0 and "personal data kept as written for: whatsapp" in err
    assert read_examples(out)[1].messages[2].content == "call me at +1 415 555 0132 or mail ana.souza@example.com"


def test_out_without_a_workspace(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "qa.jsonl"
    code = main(["import", "tabular", str(FIXTURES / "tabular" / "qa.tsv"), "--columns", "prompt=Q,completion=A",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert [e.reply() for e in read_examples(out)] == ["Dogs, but do not tell my cat."]


def test_options_are_checked(cli):
    code, _, err = cli("import", "whatsapp", ANDROID, "--me", "Maggie", "-o", "colour=blue")
    assert code == 2 and "unknown option(s) colour for whatsapp" in err and "date_order" in err
    code, _, err = cli("import", "whatsapp", ANDROID, "--me", "Maggie", "-o", "date_order=sideways")
    assert code == 2 and "bad options for importer whatsapp" in err
    code, _, err = cli("import", "fax", ANDROID)
    assert code == 2 and "unknown import format 'fax'" in err and "whatsapp" in err


def test_data_stats_pii_export(cli, ws, tmp_path):
    cli("import", "whatsapp", ANDROID, "--me", "Maggie")
    cli("import", "markdown", FIXTURES / "markdown" / "notes")
    code, out, _ = cli("data", "stats", "--json")
    stats = json.loads(out)
    assert code == 0 and (stats["messages"], stats["mine"], stats["examples"]) == (12, 5, 5)
    assert {s["source"]: s["examples"] for s in stats["sources"]} == {"whatsapp": 3, "markdown": 2}
    assert stats["contacts"][0] == {"source": "whatsapp", "chat": "android_12h_us", "messages": 9, "mine": 4}
    assert stats["my_lengths"]["max"] == 44 and stats["my_lengths"]["buckets"]["1-10"] == 1
    code, out, _ = cli("data", "stats")
    assert code == 0 and "whatsapp" in out and "yours" in out
    code, out, _ = cli("data", "pii", "--preview")
    assert code == 0 and "+ call me at <PHONE> or mail <EMAIL>" in out and "+ ok Edda, will do" in out
    assert "2 messages would change: 1 phone, 1 email, 1 name" in out
    target = tmp_path / "export.jsonl"
    code, out, _ = cli("data", "export", "--out", target, "--source", "whatsapp")
    assert code == 0 and "wrote 3 examples" in out
    assert len(read_examples(target)) == 3


def test_export_of_an_empty_store_fails(cli, tmp_path):
    code, _, err = cli("data", "export", "--out", tmp_path / "x.jsonl")
    assert code == 2 and "no examples" in err


def test_asks_who_is_me_at_a_terminal(ws):
    """A real pseudo-terminal: the senders are listed with counts and the answer picks one by number."""
    child = pexpect.spawn(str(Path(sys.executable).parent / "selfclone"), ["import", "whatsapp", ANDROID],
                          cwd=str(ws.root), encoding="utf-8", timeout=60, dimensions=(40, 160))
    child.expect("Which of these are you")
    assert "Ana Souza" in child.before and "Maggie" in child.before
    # the table lists the busiest sender first: Ana Souza (6), Maggie (4)
    child.sendline("2")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "3 new in the store" in child.before
    assert counts(ws) == (12, 3)


def test_bench_import_quick(cli):
    code, out, _ = cli("bench", "import", "--messages", "3000")
    assert code == 0
    assert "machine:" in out and "cores" in out
    lines = [line for line in out.splitlines() if line.startswith("| whatsapp") or line.startswith("| telegram")]
    assert len(lines) == 4 and all("3,000" in line for line in lines)
    assert "of read+split speed" in out and "peak RSS" in out
    figures = json.loads(out.strip().splitlines()[-1])
    assert [(r["export"], r["step"], r["messages"]) for r in figures["rows"]] == [
        ("whatsapp", "parse", 3000), ("whatsapp", "import", 3000), ("telegram", "parse", 3000),
        ("telegram", "import", 3000)]
    assert all(0 < r["speed_vs_read"] and r["peak_rss_mb"] > 0 for r in figures["rows"])


def test_auto_on_a_folder_of_mixed_exports(cli, ws, tmp_path):
    """A folder holding notes beside chats is not taken as one markdown folder: each file is detected."""
    mixed = tmp_path / "mixed"
    shutil.copytree(FIXTURES / "markdown" / "notes", mixed / "notes")
    shutil.copytree(FIXTURES / "email" / "eml", mixed / "mail")
    shutil.copy(FIXTURES / "discord" / "Direct Messages - ana.souza [998877].json", mixed / "dm.json")
    code, _, err = cli("import", "auto", mixed, "--me", "maggie_l", "--me", "maggie@example.com")
    assert code == 0, err
    db = sqlite3.connect(ws.store_path)
    sources = dict(db.execute("select source, count(*) from examples group by source").fetchall())
    db.close()
    assert sources == {"markdown": 2, "email": 1, "discord": 1}
