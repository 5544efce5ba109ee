"""Golden privacy tests across the importers: the other person's name in every casing and in possessives, and
phone- and ID-shaped numbers that libphonenumber calls invalid, never reach a training example (issue 14).

Each case takes a real fixture export, renames the other person to "Bruno Costa" and puts LEAK into one of their
messages, then runs the real import pipeline into SQLite.
"""
from __future__ import annotations

import json
import re
import shutil

import pytest
from golden import FIXTURES

LEAK = ("bruno here! tell mr costa that BRUNO COSTA and costa's mum said: call +44 7700 900123, (555) 123-4567 "
        "or 555-987-6543; ssn 123-45-6789")
SECRETS = ("7700 900123", "123-4567", "987-6543", "123-45-6789")

# format, fixture, the other person's message to replace, --me, how the fixture spells the other person
CASES = [
    ("whatsapp", "whatsapp/android_12h_us.txt", "bring the blue tent", ["maggie"], ["Ana Souza"]),
    ("telegram", "telegram/ChatExport_2023-12-03/result.json", "did you read", ["user1000"], ["Ana Souza"]),
    ("discord", "discord/Direct Messages - ana.souza [998877].json", "are you on tonight?", ["maggie_l"],
     ["ana.souza", "Ana"]),
    ("messenger", "messenger/inbox/anasouza_10158/message_1.json", r"perfeito, \u00c3\u00a0s 10h ent\u00c3\u00a3o",
     ["Maggie Lee"], ["Ana Souza"]),
    ("sms", "sms/sms-20231204.xml", "running late, 10 min", [], ["Ana Souza"]),
    ("email", "email/gmail.mbox", "are you free on Saturday for the market?", [], ["Ana Souza"]),
]


def leaked(examples) -> list[str]:
    text = "\n".join(m["content"] for e in examples for m in e["messages"])
    found = [w for w in re.findall(r"\w+", text) if w.casefold() in ("bruno", "costa")]
    return found + [s for s in SECRETS if s in text]


@pytest.mark.parametrize(("fmt", "fixture", "message", "me", "spellings"), CASES, ids=[c[0] for c in CASES])
def test_no_name_in_any_casing_and_no_phone_shaped_number_reaches_training(
        fmt, fixture, message, me, spellings, imported, tmp_path):
    source = FIXTURES / fixture
    work = tmp_path / "export"
    shutil.copytree(source.parent, work)
    path = work / source.name
    text = path.read_text(encoding="utf-8")
    assert message in text
    leak = json.dumps(LEAK)[1:-1] if path.suffix == ".json" else LEAK
    text = text.replace(message, leak, 1)
    for spelling in spellings:
        text = text.replace(spelling, "bruno.costa" if "." in spelling else "Bruno Costa")
    path.write_text(text, encoding="utf-8")
    _, examples, _ = imported(fmt, path, me=me)
    everything = json.dumps(examples)
    assert "<ID>" in everything and "<PHONE>" in everything       # the message did reach an example, scrubbed
    assert leaked(examples) == []


def test_data_export_is_scrubbed_too(tmp_path, monkeypatch, capsys):
    from selfclone.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["init", "ws", "--person", "Maggie"]) == 0
    monkeypatch.chdir(tmp_path / "ws")
    chat = tmp_path / "chat.txt"
    chat.write_text("12/3/23, 9:41 PM - Bruno Costa: " + LEAK + "\n12/3/23, 9:45 PM - Maggie: ok, will pass it on\n",
                    encoding="utf-8")
    assert main(["import", "whatsapp", str(chat), "--me", "Maggie"]) == 0
    assert main(["data", "export", "--out", str(tmp_path / "out.jsonl")]) == 0
    examples = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert examples and leaked(examples) == []
