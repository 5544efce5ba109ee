"""Facebook Messenger and Instagram: several files per thread, newest first, mojibake repaired."""
from __future__ import annotations

import json

import pytest
from golden import FIXTURES, rows

from selfclone.collect.importers.messenger import MessengerImporter, repair
from selfclone.errors import DataError

FB = FIXTURES / "messenger"


def read(path, **options):
    return list(MessengerImporter().read(path, MessengerImporter.Options(**options)))


def test_thread_over_two_files_oldest_first_and_repaired():
    assert rows(read(FB / "inbox")) == [
        ("Ana Souza", "2023-12-03T21:41:00+00:00", None, "text", "Olá! Vens ao café no sábado?"),
        ("Ana Souza", "2023-12-03T21:42:00+00:00", None, "media", ""),
        ("Maggie Lee", "2023-12-03T21:43:00+00:00", None, "text", "sim! vou levar o bolo 🎂"),
        ("Ana Souza", "2023-12-03T21:44:00+00:00", None, "text", "perfeito, às 10h então"),
        ("Ana Souza", "2023-12-03T21:45:00+00:00", None, "system", "Ana Souza started a call."),
        ("Ana Souza", "2023-12-03T21:46:00+00:00", None, "system", "Liked a message"),
        ("Maggie Lee", "2023-12-03T21:47:00+00:00", None, "text", "até já 👋"),
    ]


def test_mojibake_can_be_left_alone():
    assert read(FB / "inbox", fix_mojibake=False)[0].text == "OlÃ¡! Vens ao cafÃ© no sÃ¡bado?"
    assert repair("already fine ✓") == "already fine ✓"


def test_examples(imported):
    _, examples, _ = imported("messenger", FB / "inbox" / "anasouza_10158", me=["Maggie Lee"])
    assert examples == [
        {"messages": [{"role": "user", "content": "Olá! Vens ao café no sábado?"},
                      {"role": "assistant", "content": "sim! vou levar o bolo 🎂"}]},
        {"messages": [{"role": "user", "content": "Olá! Vens ao café no sábado?"},
                      {"role": "assistant", "content": "sim! vou levar o bolo 🎂", "weight": 0},
                      {"role": "user", "content": "perfeito, às 10h então"},
                      {"role": "assistant", "content": "até já 👋"}]},
    ]


def test_instagram(imported):
    path = FB / "instagram" / "bob_lee_123" / "message_1.json"
    assert [(m.sender, m.kind) for m in read(path)] == [("bob.lee", "text"), ("maggie.lee", "text"),
                                                          ("bob.lee", "system")]
    _, examples, _ = imported("messenger", path, me=["maggie.lee"])
    assert examples == [{"messages": [{"role": "user", "content": "que foto incrível"},
                                      {"role": "assistant", "content": "ahah obrigada!"}]}]


def test_detect_and_bad_file(tmp_path):
    assert MessengerImporter().detect(FB / "inbox")
    assert not MessengerImporter().detect(FIXTURES / "telegram" / "account.json")
    broken = tmp_path / "t" / "message_1.json"
    broken.parent.mkdir()
    broken.write_text(json.dumps({"participants": [], "messages": [{"sender_name": "A"}]}, indent=1)[:-10])
    with pytest.raises(DataError) as err:
        read(broken.parent)
    assert err.value.line is not None and "not valid JSON" in str(err.value)
