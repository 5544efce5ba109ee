"""DiscordChatExporter JSON: replies through `reference`, attachments, system message types."""
from __future__ import annotations

from golden import FIXTURES, rows

from selfclone.collect.importers.discord import DiscordImporter

DM = FIXTURES / "discord" / "Direct Messages - ana.souza [998877].json"


def test_messages():
    messages = list(DiscordImporter().read(DM, DiscordImporter.Options()))
    assert rows(messages) == [
        ("Ana", "2023-12-03T21:41:00.123000+00:00", None, "text", "are you on tonight?"),
        ("Maggie", "2023-12-03T21:42:10+00:00", None, "text", "after 9, need to finish dinner"),
        ("Ana", "2023-12-03T21:43:00+00:00", None, "media", ""),
        ("Maggie", "2023-12-03T21:44:00+00:00", None, "system", "Pinned a message."),
        ("Maggie", "2023-12-03T21:45:30+00:00", None, "text", "lol that meme. ok see you at 9"),
    ]
    assert [(m.uid, m.reply_to, m.sender_id) for m in messages][:2] == [
        ("5001", None, "ana.souza"), ("5002", "5001", "maggie_l")]
    assert {m.chat for m in messages} == {"Direct Messages / Private / ana.souza (998877)"}


def test_examples_by_username(imported):
    report, examples, _ = imported("discord", DM, me=["maggie_l"])       # the username, not the display name
    assert report.mine == 3
    # the last message follows my own turn (the meme in between is media): a follow-up, not a reply
    assert examples == [{"messages": [{"role": "user", "content": "are you on tonight?"},
                                      {"role": "assistant", "content": "after 9, need to finish dinner"}]}]


def test_detect():
    assert DiscordImporter().detect(DM)
    assert not DiscordImporter().detect(FIXTURES / "telegram" / "account.json")
