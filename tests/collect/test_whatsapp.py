"""WhatsApp: Android and iOS exports, both clocks, locales, UTF-16, iOS marks, media and system lines."""
from __future__ import annotations

import pytest
from golden import FIXTURES, rows

from selfclone.collect.importers.whatsapp import WhatsAppImporter, date_order
from selfclone.errors import DataError

WA = FIXTURES / "whatsapp"


def read(name, **options):
    return list(WhatsAppImporter().read(WA / name, WhatsAppImporter.Options(**options)))


def test_android_12h_us_messages():
    assert rows(read("android_12h_us.txt")) == [
        ("", "2023-12-03T21:41:00", None, "system", "Messages and calls are end-to-end encrypted. No one outside of "
         "this chat, not even WhatsApp, can read or listen to them. Tap to learn more."),
        ("Ana Souza", "2023-12-03T21:41:00", None, "text", "hey! are you coming on saturday?"),
        ("Ana Souza", "2023-12-03T21:42:00", None, "text", "bring the blue tent"),
        ("Maggie", "2023-12-03T21:45:00", None, "text", "yes!! wouldn't miss it\nalso I found the tent"),
        ("Ana Souza", "2023-12-03T21:46:00", None, "media", "<Media omitted>"),
        ("Ana Souza", "2023-12-03T21:47:00", None, "text", "call me at +1 415 555 0132 or mail ana.souza@example.com"),
        ("Maggie", "2023-12-03T21:48:00", None, "text", "ok Ana, will do"),
        ("Maggie", "2023-12-03T21:50:00", None, "system", "This message was deleted"),
        ("Ana Souza", "2023-12-13T08:05:00", None, "text", "morning! did you get home ok?"),
        ("Maggie", "2023-12-13T08:30:00", None, "text", "k"),
        ("Ana Souza", "2023-12-13T08:31:00", None, "text", "??"),
        ("Maggie", "2023-12-13T08:32:00", None, "text", "sorry, yes I did. long drive"),
    ]
    assert [m.line for m in read("android_12h_us.txt")][:5] == [1, 2, 3, 4, 6]


def test_ios_24h_german_with_bom_and_invisible_marks():
    assert rows(read("ios_24h_de.txt")) == [
        ("Ana Souza", "2023-12-03T21:41:07", None, "system", "Messages and calls are end-to-end encrypted. No one "
         "outside of this chat, not even WhatsApp, can read or listen to them."),
        ("Ana Souza", "2023-12-03T21:41:30", None, "text", "Hallo! Kommst du am Samstag?"),
        ("Ana Souza", "2023-12-03T21:42:02", None, "media", "image omitted"),
        ("Maggie", "2023-12-03T21:43:15", None, "text", "Ja klar\nich bringe Kuchen mit"),
        ("Maggie", "2023-12-03T21:44:00", None, "media", "<attached: 00000012-PHOTO-2023-12-03-21-44-00.jpg>"),
        ("Ana Souza", "2023-12-03T21:44:30", None, "system", "This message was deleted."),
        ("Ana Souza", "2023-12-04T09:00:00", None, "text", "Guten Morgen"),
        ("Maggie", "2023-12-04T09:01:00", None, "text", "Morgen!"),
    ]


def test_utf16_group_chat_with_system_lines():
    assert rows(read("group_utf16.txt")) == [
        ("", "2024-02-01T18:00:00", None, "system", "You created group “Trip: Lisbon”"),
        ("", "2024-02-01T18:00:00", None, "system", "You added Ana Souza and Bob Lee"),
        ("Ana Souza", "2024-02-01T18:01:00", None, "text", "who books the flights?"),
        ("Bob Lee", "2024-02-01T18:02:00", None, "text", "not me, I did it last time"),
        ("Maggie", "2024-02-01T18:05:00", None, "text", "I'll do it tonight"),
        ("Bob Lee", "2024-02-01T18:06:00", None, "text", "legend"),
        ("", "2024-02-01T18:10:00", None, "system", "Ana Souza left"),
    ]


def test_examples_android(imported):
    report, examples, _ = imported("whatsapp", WA / "android_12h_us.txt", me=["maggie"])
    assert (report.messages, report.mine, report.examples) == (12, 5, 3)
    assert examples == [
        {"messages": [{"role": "user", "content": "hey! are you coming on saturday?\nbring the blue tent"},
                      {"role": "assistant", "content": "yes!! wouldn't miss it\nalso I found the tent"}]},
        {"messages": [{"role": "user", "content": "hey! are you coming on saturday?\nbring the blue tent"},
                      {"role": "assistant", "content": "yes!! wouldn't miss it\nalso I found the tent", "weight": 0},
                      {"role": "user", "content": "call me at <PHONE> or mail <EMAIL>"},
                      {"role": "assistant", "content": "ok Edda, will do"}]},
        # a new session after the gap; "k" is too short to learn from but stays as context
        {"messages": [{"role": "user", "content": "morning! did you get home ok?"},
                      {"role": "assistant", "content": "k", "weight": 0},
                      {"role": "user", "content": "??"},
                      {"role": "assistant", "content": "sorry, yes I did. long drive"}]},
    ]


def test_examples_ios_and_group(imported):
    _, examples, _ = imported("whatsapp", WA / "ios_24h_de.txt", me=["Maggie"])
    assert examples == [
        {"messages": [{"role": "user", "content": "Hallo! Kommst du am Samstag?"},
                      {"role": "assistant", "content": "Ja klar\nich bringe Kuchen mit"}]},
        {"messages": [{"role": "user", "content": "Guten Morgen"}, {"role": "assistant", "content": "Morgen!"}]},
    ]
    _, examples, _ = imported("whatsapp", WA / "group_utf16.txt", me=["Maggie"])
    assert examples == [
        {"messages": [{"role": "user", "content": "Edda Ollivander: who books the flights?\n"
                                                  "Gideon Ellery: not me, I did it last time"},
                      {"role": "assistant", "content": "I'll do it tonight"}]},
    ]


def test_date_order_is_decided_by_the_dates_or_the_option(tmp_path):
    assert date_order(WA / "android_12h_us.txt") == "mdy"
    assert date_order(WA / "ios_24h_de.txt") == "dmy"
    ambiguous = tmp_path / "chat.txt"
    ambiguous.write_text("05/06/23, 21:41 - Ana: hi\n", encoding="utf-8")
    assert read_path(ambiguous)[0].sent_at.isoformat() == "2023-06-05T21:41:00"      # 24 h clock: day first
    assert read_path(ambiguous, date_order="mdy")[0].sent_at.isoformat() == "2023-05-06T21:41:00"
    spanish = tmp_path / "es.txt"
    spanish.write_text("5/6/23, 9:41\u202fp.\u00a0m. - Ana: hola\n2023-06-05, 10:00 - Ana: y esto\n", encoding="utf-8")
    assert [m.sent_at.isoformat() for m in read_path(spanish, date_order="dmy")] == [
        "2023-06-05T21:41:00", "2023-06-05T10:00:00"]


def read_path(path, **options):
    return list(WhatsAppImporter().read(path, WhatsAppImporter.Options(**options)))


def test_detect_from_content_not_extension(tmp_path):
    importer = WhatsAppImporter()
    assert importer.detect(WA / "group_utf16.txt")
    renamed = tmp_path / "export.log"
    renamed.write_bytes((WA / "ios_24h_de.txt").read_bytes())
    assert importer.detect(renamed)
    assert not importer.detect(WA / "bad" / "not_whatsapp.txt")
    assert not importer.detect(FIXTURES / "markdown" / "notes" / "tea.md")


@pytest.mark.parametrize("name, line, words", [
    ("unknown_date.txt", 1, "unknown date '13/13/23'"),
    ("cp1252.txt", 2, "not utf-8 text"),
    ("empty.txt", None, "no messages"),
    ("not_whatsapp.txt", 1, "does not start like a WhatsApp message"),
])
def test_bad_exports_name_file_and_line(name, line, words):
    with pytest.raises(DataError) as err:
        read(f"bad/{name}")
    assert err.value.line == line
    assert str(err.value.path).endswith(name)
    assert words in str(err.value) and err.value.hint


def test_wrong_encoding_can_be_named():
    messages = read("bad/cp1252.txt", encoding="cp1252")
    assert messages[1].text == "café olé"
