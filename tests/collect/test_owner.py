"""Who is me: several names or ids, any case; a --me that matches nobody fails only once all is read."""
from __future__ import annotations

import pytest

from selfclone.collect.owner import Owner, sender_counts, sender_list
from selfclone.dataset.messages import Message
from selfclone.errors import DataError


def messages():
    return [Message("t", "o", "c", "Ana", "hi", sender_id="user1"),
            Message("t", "o", "c", "Maggie L.", "yo", sender_id="user2"),
            Message("t", "o", "c", "", "Ana joined", kind="system"),
            Message("t", "o", "c", "me", "sent", is_me=True)]          # marked by the export itself


def test_names_and_ids_any_case():
    for me in (["maggie l."], ["USER2"], ["Nobody", "user2"]):
        owner = Owner(me)
        assert [m.is_me for m in owner.apply(messages())] == [False, True, False, True]
        owner.check("chat.txt")


def test_matching_nobody_lists_the_senders():
    owner = Owner(["Margaret"])
    list(owner.apply(messages()))
    with pytest.raises(DataError) as err:
        owner.check("chat.txt")
    assert "matches nobody" in str(err.value) and "'Ana' (1), 'Maggie L.' (1)" in err.value.hint
    assert err.value.path == "chat.txt"


def test_without_me_an_export_that_needs_it_fails():
    owner = Owner([])
    list(owner.apply(messages()))
    with pytest.raises(DataError, match="does not say which messages are yours"):
        owner.check()
    marked = Owner([])
    list(marked.apply([Message("t", "o", "c", "me", "x", is_me=True)]))
    marked.check()                                                   # nothing needed --me


def test_sender_counts_and_list():
    counts = sender_counts(messages())
    assert counts == {"Ana": 1, "Maggie L.": 1}
    assert sender_list(counts, limit=1) == "'Ana' (1) and 1 more"
