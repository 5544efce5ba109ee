"""Exports as the apps hand them over: a zipped WhatsApp chat imports like the bare .txt, folders are looked into,
and a file that is no export of the named kind gets a clear error (issue 14)."""
from __future__ import annotations

import json
import shutil
import zipfile

import pytest
from golden import FIXTURES

from selfclone.cli import main

CHAT = FIXTURES / "whatsapp" / "android_12h_us.txt"


def imported(capsys, tmp_path, *argv):
    out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}.jsonl"
    code = main(["import", *map(str, argv), "--me", "Maggie", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.mark.parametrize("fmt", ["whatsapp", "auto"])
def test_a_zipped_whatsapp_export_imports_like_the_bare_txt(fmt, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    archive = tmp_path / "WhatsApp Chat with Ana Souza.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(CHAT, "WhatsApp Chat with Ana Souza.txt")
        zf.writestr("IMG-20231203-WA0001.jpg", b"\xff\xd8\xff\xe0 not really a photo")
    bare = imported(capsys, tmp_path, "whatsapp", CHAT)
    assert bare and imported(capsys, tmp_path, fmt, archive) == bare


def test_a_folder_given_to_a_named_format_is_looked_into(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "export"
    (folder / "media").mkdir(parents=True)
    shutil.copy(CHAT, folder / "chat.txt")
    assert imported(capsys, tmp_path, "whatsapp", folder) == imported(capsys, tmp_path, "whatsapp", CHAT)


@pytest.mark.parametrize("fmt", ["whatsapp", "telegram", "discord", "sms", "imessage", "tabular", "email"])
def test_an_empty_folder_says_so(fmt, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    code = main(["import", fmt, "empty", "--me", "Maggie", "--out", "o.jsonl"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and f"no {fmt} export in this folder" in err and "Traceback" not in err


def test_a_picture_given_to_import_email(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    code = main(["import", "email", "x.png", "--out", "o.jsonl"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "binary or empty file" in err
