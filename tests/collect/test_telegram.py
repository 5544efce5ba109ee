"""Telegram Desktop JSON: one chat, the whole-account export, text as entity lists, service and media."""
from __future__ import annotations

import pytest
from golden import FIXTURES, rows

from selfclone.collect.importers.telegram import TelegramImporter, plain_text
from selfclone.errors import DataError

TG = FIXTURES / "telegram"


def read(path, **options):
    return list(TelegramImporter().read(path, TelegramImporter.Options(**options)))


def test_single_chat_export_folder():
    messages = read(TG / "ChatExport_2023-12-03")
    assert rows(messages) == [
        ("Ana Souza", "2023-12-03T21:40:00+00:00", None, "system", "phone_call"),
        ("Ana Souza", "2023-12-03T21:41:00+00:00", None, "text",
         "did you read https://example.com/post yet? it's so good"),
        ("Maggie", "2023-12-03T21:42:00+00:00", None, "text", "not yet, tonight"),
        ("Maggie", "2023-12-03T21:43:00+00:00", None, "media", ""),
        ("Ana Souza", "2023-12-03T21:44:00+00:00", None, "media", "Breaking: cats rule"),     # forwarded
        ("Ana Souza", "2023-12-03T21:45:00+00:00", None, "text", "look at this view"),       # a photo's caption
        ("Maggie", "2023-12-03T21:46:00+00:00", None, "text", "wow, jealous"),
        ("Ana Souza", "2023-12-03T21:47:00+00:00", None, "media", ""),                      # a sticker
    ]
    assert {m.chat for m in messages} == {"Ana Souza (4815162342)"}
    assert (messages[2].uid, messages[2].reply_to, messages[2].sender_id) == ("103", "102", "user1000")


def test_whole_account_export_knows_its_owner(imported):
    messages = read(TG / "account.json")
    assert [(m.chat, m.sender, m.is_me, m.kind, m.text) for m in messages] == [
        ("Bob Lee (77)", "Bob Lee", False, "text", "lunch friday?"),
        ("Bob Lee (77)", "Mags", True, "text", "friday works, noon?"),
        ("Hiking club (88)", "Ana Souza", False, "system", "create_group"),
        ("Hiking club (88)", "Ana Souza", False, "text", "sunday at 8?"),
        ("Hiking club (88)", "Bob Lee", False, "text", "too early"),
        ("Hiking club (88)", "Mags", True, "text", "8 is fine by me"),
    ]
    report, examples, _ = imported("telegram", TG / "account.json")       # no --me needed
    assert report.mine == 2
    assert examples == [
        {"messages": [{"role": "user", "content": "lunch friday?"},
                      {"role": "assistant", "content": "friday works, noon?"}]},
        {"messages": [{"role": "user", "content": "Edda Ollivander: sunday at 8?\nGideon Ellery: too early"},
                      {"role": "assistant", "content": "8 is fine by me"}]},
    ]


def test_examples_single_chat(imported):
    _, examples, _ = imported("telegram", TG / "ChatExport_2023-12-03" / "result.json", me=["user1000"])
    assert examples == [
        {"messages": [{"role": "user", "content": "did you read https://example.com/post yet? it's so good"},
                      {"role": "assistant", "content": "not yet, tonight"}]},
        {"messages": [{"role": "user", "content": "did you read https://example.com/post yet? it's so good"},
                      {"role": "assistant", "content": "not yet, tonight", "weight": 0},
                      {"role": "user", "content": "look at this view"},
                      {"role": "assistant", "content": "wow, jealous"}]},
    ]


def test_text_as_list_of_strings_and_entities():
    assert plain_text(["a ", {"type": "mention", "text": "@bob"}, " b"]) == "a @bob b"
    assert plain_text("plain") == "plain"
    assert plain_text(None) == ""


def test_detect():
    importer = TelegramImporter()
    assert importer.detect(TG / "ChatExport_2023-12-03")
    assert importer.detect(TG / "account.json")
    assert not importer.detect(FIXTURES / "discord" / "Direct Messages - ana.souza [998877].json")
    assert not importer.detect(FIXTURES / "tabular" / "custom.json")


@pytest.mark.parametrize("name, line, words", [
    ("truncated.json", 70, "not valid JSON"),
    ("unknown_date.json", 6, "unknown date 'yesterday'"),
    ("empty.json", None, "no messages"),
])
def test_bad_exports(name, line, words):
    with pytest.raises(DataError) as err:
        read(TG / "bad" / name)
    assert err.value.line == line and words in str(err.value) and str(err.value.path).endswith(name)
