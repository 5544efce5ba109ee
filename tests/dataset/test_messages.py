"""Message fingerprints and duplicate numbering: importing the same export twice must add nothing."""
from __future__ import annotations

from datetime import datetime

from selfclone.dataset.messages import Message, conversations, number_duplicates

T = datetime(2024, 1, 1, 12, 0)


def test_fingerprint_is_stable_and_content_based():
    a = Message("whatsapp", "/a/chat.txt", "chat", "Ana", "ok", T)
    b = Message("whatsapp", "/elsewhere/chat.txt", "chat", "Ana", "ok", T)       # same export, moved
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 32
    assert a.fingerprint != Message("whatsapp", "o", "chat", "Ana", "ok!", T).fingerprint
    assert a.fingerprint != Message("whatsapp", "o", "other", "Ana", "ok", T).fingerprint


def test_platform_id_wins_over_content():
    edited = Message("telegram", "o", "c", "Ana", "typo fixed", T, uid="42")
    assert edited.fingerprint == Message("telegram", "o", "c", "Ana", "typo", T, uid="42").fingerprint


def test_identical_messages_in_the_same_minute_are_kept_apart():
    same = [Message("whatsapp", "o", "c", "Ana", "ok", T) for _ in range(3)]
    other = Message("whatsapp", "o", "d", "Ana", "ok", T)
    numbered = list(number_duplicates([*same, other]))
    assert [m.dup for m in numbered] == [0, 1, 2, 0]
    assert len({m.fingerprint for m in numbered}) == 4
    again = list(number_duplicates([Message("whatsapp", "o", "c", "Ana", "ok", T) for _ in range(3)]))
    assert [m.fingerprint for m in again] == [m.fingerprint for m in numbered[:3]]


def test_conversations_group_consecutive_chats():
    messages = [Message("s", "o", chat, "Ana", str(i), T) for i, chat in enumerate("aabba")]
    assert [(c.chat, [m.text for m in c.messages]) for c in conversations(messages)] == [
        ("a", ["0", "1"]), ("b", ["2", "3"]), ("a", ["4"])]
