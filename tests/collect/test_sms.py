"""SMS Backup & Restore XML: sent type, MMS text parts and sender addr, surrogate-pair emoji, drafts."""
from __future__ import annotations

import pytest
from golden import FIXTURES

from selfclone.collect.importers.sms import SmsImporter
from selfclone.errors import DataError

SMS = FIXTURES / "sms"


def test_messages():
    messages = list(SmsImporter().read(SMS / "sms-20231204.xml", SmsImporter.Options()))
    assert [(m.chat, m.sender, m.is_me, m.kind, m.text) for m in messages] == [
        ("4155550132", "Ana Souza", False, "text", "running late, 10 min 😅"),
        ("4155550199", "+14155550199", False, "text", "Your code is 123456"),
        ("4155550132", "me", True, "text", "no rush, I'm at the bar 🍺"),
        ("4155550132", "Ana Souza", False, "text", "found parking!"),               # MMS: text part, picture left
        ("4155550132, 4155550177", "Bob Lee", False, "text", "Bob here, saving you seats"),   # addr type 137
        ("4155550132, 4155550177", "me", True, "text", "you two are the best"),
    ]                                                                                # the draft is skipped
    assert messages[0].sent_at.isoformat() == "2023-12-03T21:41:00+00:00"


def test_examples_need_no_me(imported):
    _, examples, _ = imported("sms", SMS / "sms-20231204.xml")
    assert examples == [
        {"messages": [{"role": "user", "content": "running late, 10 min 😅"},
                      {"role": "assistant", "content": "no rush, I'm at the bar 🍺"}]},
        {"messages": [{"role": "user", "content": "Gideon here, saving you seats"},
                      {"role": "assistant", "content": "you two are the best"}]},
    ]


def test_truncated_backup_names_the_line():
    with pytest.raises(DataError) as err:
        list(SmsImporter().read(SMS / "bad" / "truncated.xml", SmsImporter.Options()))
    assert err.value.line == 8 and "not valid XML" in str(err.value)


def test_detect():
    assert SmsImporter().detect(SMS / "sms-20231204.xml")
    assert not SmsImporter().detect(FIXTURES / "email" / "gmail.mbox")
