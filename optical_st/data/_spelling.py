"""Informal spelling: the variation of romanized South Asian text as people type it, seeded.

A romanizer writes one clean scheme ("bhaarat kii raajadhaanii"); people write "bharat ki rajdhani",
"bharath kee rajadhani". A model trained on one clean scheme learns that scheme. The rules below are the
variations that informal romanization of Indic languages is known for; each fires at each place it
applies with probability ``noise``, so a text gets a few of them, not all.

=====================  ============================================  =========================
rule                   what it does                                  example
=====================  ============================================  =========================
long vowels            a doubled vowel is written single              aa -> a, ii -> i, uu -> u
long i / u as ee / oo  long i and u written as in English spelling    ii -> ee, uu -> oo
ph as f                ph written f                                  phal -> fal
aspirates              the h of an aspirate dropped                  bh -> b, kh -> k, th -> t
sibilants              sh (and the retroflex ss) written s            desh -> des, ss -> s
w / v                  v and w swapped                               vikas -> wikas
doubled consonants     a geminate written single                     dilli -> dili
final schwa            a word-final inherent a dropped                nepala -> nepal
=====================  ============================================  =========================
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable
from typing import NamedTuple


class SpellingRule(NamedTuple):
    """One informal-spelling variation: where it applies (a regular expression) and what a match becomes."""

    name: str
    pattern: re.Pattern[str]
    replace: Callable[[str], str]


def _rule(name: str, pattern: str, replace: Callable[[str], str]) -> SpellingRule:
    return SpellingRule(name, re.compile(pattern), replace)


_CONSONANT = "[bcdfghjklmnprstvz]"
SPELLING_RULES: tuple[SpellingRule, ...] = (
    _rule("long i / u as ee / oo", r"ii|uu", {"ii": "ee", "uu": "oo"}.__getitem__),
    _rule("long vowels", r"aa|ii|uu|ee|oo", lambda found: found[0]),
    _rule("ph as f", r"ph", lambda found: "f"),
    _rule("aspirates", r"(?<=[bdgjkpt])h", lambda found: ""),
    _rule("sibilants", r"sh|ss", lambda found: "s"),
    _rule("w / v", r"[vw]", {"v": "w", "w": "v"}.__getitem__),
    _rule("doubled consonants", r"([bcdfgjklmnprstvz])\1", lambda found: found[0]),
    _rule("final schwa", rf"(?<={_CONSONANT}{_CONSONANT}|[aeiou]{_CONSONANT})a\b", lambda found: ""),
)
"""The informal-spelling rules, applied in this order (see the module docstring)."""


def informal_spelling(text: str, noise: float, *, seed: str | int) -> str:
    """``text`` with each :data:`SPELLING_RULES` rule applied at each match with probability ``noise``.

    The generator is seeded from ``seed`` alone (a string such as ``"0:npi_Deva:<the sentence>"``), so the
    same sentence is spelt the same way in every run and whatever it is romanized with.

    Example::

        >>> informal_spelling("bhaarat kii raajadhaanii dillii hai.", 1.0, seed=0)
        'barat ke rajadane dile hai.'
    """
    if not noise:
        return text
    digest = hashlib.sha256(str(seed).encode("utf-8")).digest()
    generator = random.Random(int.from_bytes(digest[:8], "big"))

    for rule in SPELLING_RULES:

        def vary(match: re.Match[str], rule: SpellingRule = rule) -> str:
            found = match.group(0)
            return rule.replace(found) if generator.random() < noise else found

        text = rule.pattern.sub(vary, text)
    return text
