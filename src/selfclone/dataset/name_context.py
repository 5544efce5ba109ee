"""When a word that is someone's name is meant as the name: the context rules of privacy's name replacement.

    is_common_word("Will")                           # True: 'will' is an English word (Webster's word list)
    marks_a_name("see you, will!", 9, 13, {"will"})  # True: addressed
    marks_a_name("i will go", 2, 6, {"will"})        # False

A name part that is not a common word (Bruno, Costa as a surname is, see below) is replaced wherever it appears, in
any casing. One that is also a lowercase English word (Will, May, Mark, Grace, Rose...) is replaced only where the
context marks it as a name:
  capitalised      "Will", "WILL", also at a sentence's start (privacy first: "Will you?" loses a word, a
                   missed "Bob here" leaks a name); a month's or weekday's capital marks nothing where it reads as a date ("in May", "May 5",
                   "on Friday")
  next to its pair another part of the same people's names just before or after ("will smith", "MAY PARKER")
  a title before   mr, mrs, ms, miss, dr, prof, sir, aunt, uncle, ...
  addressed        after a greeting ("hi will", "thanks, may"), or set off by commas ("see you, will!", "will, look")
  possessive       "mark's", "grace’s"
The word list is Webster's Second (`english-words`, web2): its lowercase entries are the common words; entries it
spells only with a capital are names.
"""
from __future__ import annotations

import re
from functools import cache

_TITLES = frozenset("mr mrs ms miss mx dr prof sir madam dame lady lord aunt auntie uncle cousin grandma grandpa "
                    "sr sra srta dona dom herr frau".split())
_GREETINGS = frozenset("hi hey hello hiya yo dear thanks thank thx ty bye cheers morning evening night congrats "
                       "ok okay oi ola olá ciao love sorry".split())
_DATE_WORDS = frozenset("in on since until till by of from early late mid next last this every each".split())
_WORD_BEFORE = re.compile(r"([^\W\d_]+)\.?[ \t]*,?[ \t]*$")
_WORD_AFTER = re.compile(r"^[ \t]+([^\W\d_]+)")
# capitalised in English whatever they stand for: their capital marks nothing
_CAPITALISED_ANYWAY = frozenset("january february march april may june july august september october november "
                                "december monday tuesday wednesday thursday friday saturday sunday".split())


@cache
def _common_words() -> frozenset[str]:
    from english_words import get_english_words_set

    return frozenset(w for w in get_english_words_set(["web2"], lower=False, alpha=True) if w.islower())


def is_common_word(word: str) -> bool:
    """Whether `word` (any casing) is also an ordinary lowercase English word."""
    return word.casefold() in _common_words()


def marks_a_name(text: str, start: int, end: int, parts: frozenset[str]) -> bool:
    """Whether the common word text[start:end] stands for a person here; `parts` are every name part, casefolded."""
    word = text[start:end]
    before, after = text[max(0, start - 40):start], text[end:end + 40]     # the words around it are enough
    previous = _WORD_BEFORE.search(before)
    following = _WORD_AFTER.match(after)
    if previous and not before.rstrip().endswith(",") and previous.group(1).casefold() in parts:
        return True
    if following and following.group(1).casefold() in parts:
        return True
    as_date = word.casefold() in _CAPITALISED_ANYWAY and (
        previous and previous.group(1).casefold() in _DATE_WORDS or re.match(r"\s*\d", after)
        or re.search(r"\d\s*$", before))
    if word[0].isupper() and not as_date:
        return True
    if previous and previous.group(1).casefold() in _TITLES | _GREETINGS:
        return True
    if after[:2] in ("'s", "’s"):
        return True
    rest = after.lstrip(" \t")
    set_off_after = rest == "" or rest[:1] in ",!?" or (rest[:1] == "." and not rest[1:2].isalnum())
    return set_off_after and (before.rstrip(" \t").endswith(",") or start == 0 or not text[:start].strip())
