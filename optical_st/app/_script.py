"""Whether a Latin-script query is a romanized South Asian language (its script: ``_calibration.text_script``).

People type Nepali, Hindi or Sinhala in Latin script ("mero desh nepal ho"). The demo says so ("romanized
Nepali?") instead of treating the query as English. The guess is a unigram naive-Bayes model over
the words of the active corpus itself: its sentences in each language, romanized by both
:class:`~optical_st.data.Romanizer` back-ends (and with informal spelling), against its English sentences.
No language list is hard-coded: a corpus without Sinhala never guesses Sinhala.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from optical_st.app._calibration import text_script
from optical_st.data import Romanizer, informal_spelling
from optical_st.languages import ENGLISH, get_language, romanized_code

_WORD = re.compile(r"[a-z]+")
ROMANIZED_SAMPLE = 120
"""Sentences per language that the guesser romanizes (start-up time stays a few seconds)."""


@dataclass(frozen=True)
class RomanizedGuess:
    """A Latin-script query that reads as romanized South Asian text: the likeliest languages (``npi_Latn``
    first), those within reach of the best, and how much better than English the best reads (per word)."""

    codes: tuple[str, ...]
    margin: float

    @property
    def label(self) -> str:
        """``romanized Nepali`` or ``romanized Nepali or Hindi``."""
        names = [get_language(code).name.split(" (")[0] for code in self.codes]
        return "romanized " + (
            " or ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " or " + names[-1]
        )


class RomanizedQueryGuesser:
    """Guess the language of a Latin-script query from the corpus's own words (see the module docstring)."""

    def __init__(
        self, vocabularies: Mapping[str, Counter[str]], min_margin: float = 0.5, close: float = 0.3
    ) -> None:
        self.vocabularies = dict(vocabularies)
        self.totals = {code: sum(counts.values()) for code, counts in self.vocabularies.items()}
        self.size = len({word for counts in self.vocabularies.values() for word in counts}) or 1
        self.min_margin = min_margin  # per word, over English
        self.close = close  # per word: languages this near the best are named too

    @classmethod
    def from_texts(cls, texts_by_language: Mapping[str, Iterable[str]], per_language: int = ROMANIZED_SAMPLE):
        """Vocabularies from native-script sentences per language (``eng_Latn`` as they are)."""
        vocabularies: dict[str, Counter[str]] = {}
        for code, texts in texts_by_language.items():
            sample = list(texts)[:per_language]
            if code == ENGLISH:
                vocabularies[code] = Counter(_words(" ".join(sample)))
                continue
            clean = Romanizer().romanize_all(sample, code)
            # informal spellings of the same words, and the other scheme where it writes the script
            variants = [*clean, *(informal_spelling(text, 0.3, seed=text) for text in clean)]
            if Romanizer("indic").supports(code):
                variants += Romanizer("indic").romanize_all(sample, code)
            vocabularies[romanized_code(code)] = Counter(_words(" ".join(variants)))
        return cls(vocabularies)

    def guess(self, query: str) -> RomanizedGuess | None:
        """The romanized language a Latin-script query most likely is, or ``None`` (English, another
        script, or no clear winner)."""
        words = _words(query)
        if not words or text_script(query) != "Latn" or ENGLISH not in self.vocabularies:
            return None
        per_word = {code: self._log_likelihood(code, words) / len(words) for code in self.vocabularies}
        best = max(per_word, key=per_word.get)
        margin = per_word[best] - per_word[ENGLISH]
        if best == ENGLISH or margin < self.min_margin:
            return None
        near = sorted(
            (code for code in per_word if code != ENGLISH and per_word[best] - per_word[code] <= self.close),
            key=per_word.get,
            reverse=True,
        )
        return RomanizedGuess(tuple(near), round(margin, 3))

    def _log_likelihood(self, code: str, words: list[str]) -> float:
        counts, total = self.vocabularies[code], self.totals[code]
        return sum(math.log((counts[word] + 0.5) / (total + 0.5 * self.size)) for word in words)


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.lower())
    return _WORD.findall("".join(c for c in folded if c.isascii()))
