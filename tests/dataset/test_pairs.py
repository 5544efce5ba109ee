"""Conversations -> examples: merge window, sessions, context of K turns, openers, drops, group names."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from selfclone.config import CollectSettings
from selfclone.dataset.messages import Conversation, Message
from selfclone.dataset.pairs import conversation_examples

START = datetime(2024, 3, 1, 10, 0)
SETTINGS = CollectSettings()


def msg(sender, text, minute, kind="text", seconds=0):
    return Message("test", "o", "c", sender, text, START + timedelta(minutes=minute, seconds=seconds),
                   sender == "me", kind)


def dialog(messages, settings=SETTINGS):
    return [[(t.role, t.content, t.weight) for t in e.messages]
            for e in conversation_examples(Conversation("test", "c", messages), settings)]


def test_merge_within_window_and_reply():
    got = dialog([msg("ana", "hi", 0), msg("ana", "you there?", 1), msg("me", "yes", 2), msg("me", "what's up", 3)])
    assert got == [[("user", "hi\nyou there?", None), ("assistant", "yes\nwhat's up", None)]]


def test_beyond_the_window_is_a_follow_up_not_an_example():
    got = dialog([msg("ana", "hi", 0), msg("me", "hey", 1), msg("me", "sorry, was driving", 10)])
    assert got == [[("user", "hi", None), ("assistant", "hey", None)]]
    wide = replace(SETTINGS, merge_window_s=15 * 60)
    assert dialog([msg("ana", "hi", 0), msg("me", "hey", 1), msg("me", "sorry, was driving", 10)], wide) == [
        [("user", "hi", None), ("assistant", "hey\nsorry, was driving", None)]]


def test_session_gap_cuts_the_context():
    got = dialog([msg("ana", "lunch?", 0), msg("me", "sure", 1), msg("ana", "how was it", 180),
                  msg("me", "great", 181)])
    assert got == [[("user", "lunch?", None), ("assistant", "sure", None)],
                   [("user", "how was it", None), ("assistant", "great", None)]]


def test_context_keeps_k_turns_my_earlier_turns_unweighted():
    messages = []
    for i in range(4):
        messages += [msg("ana", f"q{i}", 2 * i * 3), msg("me", f"a{i}", (2 * i + 1) * 3)]
    got = dialog(messages, replace(SETTINGS, context_turns=3))
    assert got[-1] == [("user", "q2", None), ("assistant", "a2", 0), ("user", "q3", None), ("assistant", "a3", None)]
    assert got[1] == [("user", "q0", None), ("assistant", "a0", 0), ("user", "q1", None), ("assistant", "a1", None)]
    assert dialog(messages, replace(SETTINGS, context_turns=0))[-1] == [("user", "q3", None), ("assistant", "a3", None)]


def test_openers_are_optional():
    messages = [msg("me", "guess what", 0), msg("ana", "what", 1), msg("me", "I got the job", 2)]
    assert dialog(messages) == [[("user", "what", None), ("assistant", "I got the job", None)]]
    assert dialog(messages, replace(SETTINGS, include_openers=True)) == [
        [("assistant", "guess what", None)],
        [("user", "what", None), ("assistant", "I got the job", None)]]


def test_media_system_empty_and_short_replies_dropped():
    messages = [msg("ana", "look", 0), msg("ana", "<Media omitted>", 0, "media", 30), msg("ana", "  ", 1),
                msg("ana", "joined", 1, "system", 10), msg("me", "k", 2), msg("ana", "??", 3),
                msg("me", "nice pic", 4)]
    assert dialog(messages) == [[("user", "look", None), ("assistant", "k", 0), ("user", "??", None),
                                 ("assistant", "nice pic", None)]]
    assert dialog(messages, replace(SETTINGS, min_reply_chars=1))[0] == [("user", "look", None),
                                                                        ("assistant", "k", None)]


def test_group_chat_names_the_speakers():
    messages = [msg("ana", "who books?", 0), msg("ana", "anyone?", 0, seconds=20), msg("bob", "not me", 1),
                msg("me", "I will", 2)]
    assert dialog(messages) == [[("user", "ana: who books?\nanyone?\nbob: not me", None),
                                 ("assistant", "I will", None)]]


def test_unknown_times_never_split():
    messages = [Message("t", "o", "c", "ana", "hi", None, False), Message("t", "o", "c", "me", "yo", None, True)]
    assert dialog(messages) == [[("user", "hi", None), ("assistant", "yo", None)]]


def test_streams_a_lazy_conversation():
    consumed = []

    def endless():
        for i in range(10**9):
            consumed.append(i)
            yield msg("ana" if i % 2 == 0 else "me", f"m{i}", i)

    examples = conversation_examples(Conversation("test", "c", endless(), group=False), SETTINGS)
    first = [next(examples) for _ in range(3)]
    assert [e.reply() for e in first] == ["m1", "m3", "m5"]
    assert len(consumed) < 10                  # read as far as needed, not to the end
    assert first[0].meta == {"source": "test", "chat": "c", "sent_at": "2024-03-01T10:01:00"}
