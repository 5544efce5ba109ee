"""Email: Gmail mbox (Sent label marks mine), .eml folders, quotes and signatures cut, HTML-only mail."""
from __future__ import annotations

from golden import FIXTURES

from selfclone.collect.importers.email import EmailImporter, strip_quotes

MAIL = FIXTURES / "email"


def read(path):
    return list(EmailImporter().read(path, EmailImporter.Options()))


def test_gmail_mbox():
    messages = read(MAIL / "gmail.mbox")
    assert [(m.sender, m.sender_id, m.is_me, m.kind, m.text) for m in messages] == [
        ("Ana Souza", "ana.souza@example.com", False, "text",
         "Hi Maggie,\n\nare you free on Saturday for the market? Call me on +1 415 555 0132."),
        ("Maggie Lee", "maggie@example.com", True, "text",            # quoted reply and signature cut
         "Yes! Let's meet at 10 by the fountain. I'll bring coffee ☕"),
        ("Ana Souza", "ana.souza@example.com", False, "text", "Perfect, see you there!\n\nAna"),    # HTML only
    ]                                                                  # the draft is skipped
    assert {m.chat for m in messages} == {"thread 1783920000000000001"}
    assert [m.sent_at.isoformat() for m in messages][0] == "2023-12-03T21:41:00+00:00"
    assert (messages[1].uid, messages[1].reply_to) == ("<m1@mail.example.com>", "<a1@mail.example.com>")


def test_gmail_examples_need_no_me(imported):
    _, examples, _ = imported("email", MAIL / "gmail.mbox")
    assert examples == [{"messages": [
        {"role": "user", "content": "Hi Maggie,\n\nare you free on Saturday for the market? Call me on <PHONE>."},
        {"role": "assistant", "content": "Yes! Let's meet at 10 by the fountain. I'll bring coffee ☕"}]}]


def test_eml_folder_threads_by_references(imported):
    messages = read(MAIL / "eml")
    assert [(m.chat, m.sender, m.is_me, m.text) for m in messages] == [
        ("thread <q1@work.example.org>", "Bob Lee", None, "Hi Maggie, can you send the report by Friday?\nThanks, Bob"),
        ("thread <q1@work.example.org>", "Maggie Lee", None, "Sure, Thursday evening at the latest."),
    ]
    _, examples, _ = imported("email", MAIL / "eml", me=["maggie@example.com"])
    assert examples == [{"messages": [
        {"role": "user", "content": "Hi Maggie, can you send the report by Friday?\nThanks, Gideon"},
        {"role": "assistant", "content": "Sure, Thursday evening at the latest."}]}]


def test_quotes_and_signatures():
    text = ("Sounds good.\n\nOn Mon, Dec 4, 2023 at 9:41 AM Ana Souza <\nana@example.com> wrote:\n> earlier\n")
    assert strip_quotes(text) == "Sounds good."
    assert strip_quotes("Ja.\n\nAm 04.12.2023 um 09:41 schrieb Ana:\n> alt") == "Ja."
    assert strip_quotes("ok\n> quoted\nmine again\n-- \nMaggie\nPhone 555") == "ok\nmine again"
    assert strip_quotes("Fine.\n\nFrom: Bob <b@x.org>\nSent: Monday\nSubject: x\n\nold") == "Fine."


def test_detect():
    importer = EmailImporter()
    assert importer.detect(MAIL / "gmail.mbox") and importer.detect(MAIL / "eml")
    assert importer.detect(MAIL / "eml" / "02-answer.eml")
    assert not importer.detect(FIXTURES / "whatsapp" / "android_12h_us.txt")
