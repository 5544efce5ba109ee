"""Privacy: other people's names become consistent pseudonyms, personal data becomes typed placeholders.

    scrubber = Scrubber(others=["Ana Souza", "Bob"], keep=["Maggie"])
    scrubber.scrub("Ana, mail bob@example.com or call +1 415 555 0132")
    # -> "Lowen, mail <EMAIL> or call <PHONE>"

What is replaced (and how it is found):
  name     the other participants' names, whole or by part, as whole words in any casing and in possessives
           ("bruno", "BRUNO COSTA", "costa's"): each real name part maps to one fake name, the same every run
           (chosen by a hash, collisions resolved in sorted order), written in the casing of what it replaces;
           parts that are also English words (Will, May, Mark) only where the context marks a name
           (dataset/name_context.py); the person's own names (`keep`) stay
  email    <EMAIL>    address pattern
  phone    <PHONE>    Google's libphonenumber (`phonenumbers`): valid numbers, international or national to `region`;
                      and phone-shaped numbers whether valid or not ("+44 7700 900123", "(555) 123-4567"),
                      but not dates, times or amounts
  id       <ID>       ID-shaped numbers: SSN-like 123-45-6789 and runs of 9 or more digits that are not amounts
  card     <CARD>     13 to 19 digits that pass the Luhn check (python-stdnum)
  iban     <IBAN>     IBANs whose country format and check digits are valid (python-stdnum)
  address  <ADDRESS>  house number + street name + street type ("12 Baker Street", "Hauptstraße 5",
                      "Rua Augusta 120"); not free-form addresses without a street word
  url      <URL>      links that carry a secret: a token-like query parameter, credentials, or a long random
                      path segment; plain links (https://example.com/blog/post) are kept
Presidio was considered: its analyzer downloads a spaCy model and the public-suffix list at start-up,
which fails offline; its phone recognizer is the same libphonenumber matcher used here.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn

from .chat import Example, Turn
from .name_context import is_common_word, marks_a_name

KINDS = ("name", "email", "phone", "card", "iban", "address", "url", "id")
PLACEHOLDERS = {"email": "<EMAIL>", "phone": "<PHONE>", "card": "<CARD>", "iban": "<IBAN>",
                "address": "<ADDRESS>", "url": "<URL>", "id": "<ID>"}
# earlier kinds win where two findings overlap
_PRIORITY = {kind: i for i, kind in enumerate(("email", "url", "iban", "card", "phone", "id", "address", "name"))}

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_SECRET_PARAM = re.compile(r"(?:^|[?&#;])(?:[\w.-]*(?:token|key|secret|sig|signature|auth|session|sid|pass|pwd|"
                           r"password|code|otp|ticket|invite|hash|credential)[\w.-]*)=([^&#;]+)", re.IGNORECASE)
_RANDOM = re.compile(r"^(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}$")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
_DIGITS = re.compile(r"\d(?:[\s().-]*\d){6,}")
_STREET_TYPES = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|"
                 r"Square|Sq|Crescent|Close|Highway|Hwy|Parkway|Pkwy")
_ADDRESS = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][\w'-]*\.?\s+){1,4}(?:" + _STREET_TYPES + r")\b\.?"
    r"|\b[A-ZÄÖÜ][\w'-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|damm|ring|laan|straat|gade|vej|gatan|vägen)"
    r"\s+\d{1,5}[a-z]?\b"
    r"|\b(?:Rua|Avenida|Av\.|Calle|Carrer|Via|Viale|Rue|Boulevard|Plaza|Praça)\s+(?:(?:d[aeio]s?|de la|del|du|des|"
    r"di|della)\s+)?(?:[A-ZÀ-Ý][\w'-]*\s*){1,4},?\s*(?:n[º°o.]\s*)?\d{1,5}\b")
_ANY_DIGIT = re.compile(r"\d")
_NUMBER_KINDS = frozenset({"card", "iban", "phone", "id"})
# phone-shaped: +CC and groups, (area) groups, or 3-3-4 style groups; at least 7 digits in all
_PHONE_SHAPE = re.compile(r"(?<![\w+/.:,])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,5}(?:[ .-]\d{2,6}){1,4}"
                          r"|\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}"
                          r"|\d{2,4}[ .-]\d{3,4}[ .-]\d{4})(?![\w/:]|[ .,-]\d)")
_ID_SHAPE = re.compile(r"(?<![\w.,/:-])(?:\d{3}-\d{2}-\d{4}|\d{9,})(?![\w/:-]|[.,]\d)")
# what a phone-shaped match must not be: a date (2024-01-15, 15.01.2024, 01-15-2024) or an amount ($ 1 234 567)
_DATE_SHAPE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$")
_CURRENCY_BEFORE = re.compile(r"(?:[$€£¥₹₩₽¢]|\b(?:USD|EUR|GBP|BRL|R\$|CHF|JPY))\s*$", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_][\w'’-]*")


@dataclass(frozen=True)
class Change:
    kind: str
    start: int
    end: int
    original: str
    replacement: str


@cache
def _names(kind: str) -> tuple[str, ...]:
    text = resources.files("selfclone").joinpath(f"resources/pseudonyms/{kind}_names.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.casefold().encode(), digest_size=8).digest(), "big")


def name_parts(name: str) -> list[str]:
    """The words of a display name that can stand for the person: 'Ana Souza 🌻' -> ['Ana', 'Souza'], 'mom' -> []."""
    # a capital marks a name in cased scripts; scripts without case (Chinese, Arabic...) count as written
    return [w for w in _WORD.findall(name) if len(w) >= 2 and (w[0].isupper() or not w[0].islower())]


class Scrubber:
    """Find and replace personal data in text; `others` are names to pseudonymise, `keep` names to leave."""

    def __init__(self, others: Iterable[str] = (), keep: Iterable[str] = (), *, region: str | None = "US",
                 kinds: Iterable[str] = KINDS):
        self.region = region
        self.kinds = frozenset(kinds)
        unknown = self.kinds - set(KINDS)
        if unknown:
            raise ValueError(f"unknown PII kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
        kept = {p for name in keep for p in [name, *name_parts(name)]}
        self.fakes: dict[str, str] = {}
        firsts, lasts = set(), set()
        for name in others:
            parts = [p for p in name_parts(name) if p not in kept]
            if parts:
                firsts.add(parts[0])
                lasts.update(parts[1:])
        real = firsts | lasts | kept
        taken: set[str] = set()
        for pool, words in ((_names("first"), sorted(firsts)), (_names("last"), sorted(lasts - firsts))):
            for word in words:
                index = _hash(word) % len(pool)
                for step in range(len(pool)):
                    fake = pool[(index + step) % len(pool)]
                    if fake not in taken and fake not in real:
                        break
                else:                       # more people than names in the pool: number them
                    number = 2
                    while f"{pool[index]}{number}" in taken:
                        number += 1
                    fake = f"{pool[index]}{number}"
                self.fakes[word] = fake
                taken.add(fake)
        words = sorted(self.fakes, key=len, reverse=True)
        cased = [w for w in words if w[0].isupper()]
        uncased = [w for w in words if not w[0].isupper()]       # scripts without spaces between words
        self._folded = {w.casefold(): w for w in words}
        self._parts = frozenset(self._folded)
        self._common = frozenset(w for w in self._parts if is_common_word(w))
        # whole words in any casing ("bruno", "COSTA", "costa's"); the `keep` names are never matched
        patterns = [r"(?<![\w@])(?:" + "|".join(map(re.escape, cased)) + r")(?![\w@])"] if cased else []
        patterns += ["|".join(map(re.escape, uncased))] if uncased else []
        self._name_re = re.compile("|".join(patterns), re.IGNORECASE) if patterns else None
        # the same words lowercased, matched in text.lower(): twice as fast as IGNORECASE (kept for the rare text
        # whose lowercase has another length, such as "İ")
        self._lower_re = re.compile("|".join(patterns).lower()) if patterns else None

    def pseudonym(self, name: str) -> str:
        """The fake name that stands for `name` (each known part replaced)."""
        return self.scrub(name, kinds=("name",))

    def find(self, text: str, kinds: Iterable[str] | None = None) -> list[Change]:
        """Every replacement `scrub` would make in `text`, in order, without overlaps."""
        kinds = self.kinds if kinds is None else frozenset(kinds) & self.kinds
        found: list[Change] = []
        add = found.append
        if "email" in kinds and "@" in text:
            for m in _EMAIL.finditer(text):
                add(_change("email", text, m.start(), m.end()))
        if "url" in kinds and ("http" in text or "www." in text or "WWW." in text):
            for m in _URL.finditer(text):
                url = m.group().rstrip(".,;:!?)]}")
                if _carries_secret(url):
                    add(_change("url", text, m.start(), m.start() + len(url)))
        digits = _ANY_DIGIT.search(text) is not None     # the cheap test before the costly ones
        if digits and kinds & _NUMBER_KINDS and _DIGITS.search(text):
            if "iban" in kinds:
                for m in _IBAN.finditer(text):
                    if stdnum_iban.is_valid(m.group()):
                        add(_change("iban", text, m.start(), m.end()))
            if "card" in kinds:
                for m in _CARD.finditer(text):
                    number = re.sub(r"\D", "", m.group())
                    if len(set(number)) > 1 and luhn.is_valid(number):
                        add(_change("card", text, m.start(), m.end()))
            if "phone" in kinds:
                matcher = phonenumbers.PhoneNumberMatcher(text, self.region, leniency=phonenumbers.Leniency.VALID)
                for match in matcher:
                    add(_change("phone", text, match.start, match.end))
                for m in _PHONE_SHAPE.finditer(text):
                    if not _DATE_SHAPE.match(m.group()) and not _CURRENCY_BEFORE.search(text, 0, m.start()):
                        add(_change("phone", text, m.start(), m.end()))
            if "id" in kinds:
                for m in _ID_SHAPE.finditer(text):
                    if not _CURRENCY_BEFORE.search(text, 0, m.start()):
                        add(_change("id", text, m.start(), m.end()))
        if digits and "address" in kinds:
            for m in _ADDRESS.finditer(text):
                add(_change("address", text, m.start(), m.end()))
        if "name" in kinds and self._name_re is not None:
            lower = text.lower()
            matches = (self._lower_re if len(lower) == len(text) else self._name_re).finditer(
                lower if len(lower) == len(text) else text)
            for m in matches:
                folded = text[m.start():m.end()].casefold()
                if folded in self._common and not marks_a_name(text, m.start(), m.end(), self._parts):
                    continue
                add(_change("name", text, m.start(), m.end(),
                            _cased_like(text[m.start():m.end()], self.fakes[self._folded[folded]])))
        if not found:
            return found
        found.sort(key=lambda c: (c.start, _PRIORITY[c.kind], -c.end))
        out: list[Change] = []
        for change in found:
            if out and change.start < out[-1].end:
                continue
            out.append(change)
        return out

    def scrub(self, text: str, kinds: Iterable[str] | None = None) -> str:
        changes = self.find(text, kinds)
        if not changes:
            return text
        pieces, last = [], 0
        for c in changes:
            pieces += [text[last:c.start], c.replacement]
            last = c.end
        pieces.append(text[last:])
        return "".join(pieces)

    def scrub_example(self, example: Example) -> Example:
        turns = tuple(Turn(t.role, self.scrub(t.content), t.weight) for t in example.messages)
        return Example(turns, example.meta)


def _cased_like(original: str, fake: str) -> str:
    """'lowen' for 'bruno', 'LOWEN' for 'BRUNO', 'Lowen' for 'Bruno': a pseudonym does not stand out by its case."""
    if len(original) > 1 and original.isupper():
        return fake.upper()
    if original.islower():
        return fake.lower()
    return fake


def _change(kind: str, text: str, start: int, end: int, replacement: str | None = None) -> Change:
    return Change(kind, start, end, text[start:end], replacement or PLACEHOLDERS[kind])


def _carries_secret(url: str) -> bool:
    if "@" in url.split("/", 3)[2 if "://" in url else 0]:
        return True                           # user:password@host
    if _SECRET_PARAM.search(url):
        return True
    path = re.split(r"[?#]", url.split("://", 1)[-1], maxsplit=1)[0]
    query = url[len(url.split("?", 1)[0]):]
    segments = path.split("/")[1:] + re.split(r"[?&#=]", query)
    return any(_RANDOM.match(s) for s in segments)
