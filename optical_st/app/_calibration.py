"""What a score means: a \"likely translation\" threshold and a \"no close match\" floor, per query script,
measured on known translation pairs."""

from __future__ import annotations

import dataclasses
import math
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from optical_st.search import CorpusIndex

from optical_st.app._corpus import Document

# The first word of a letter's Unicode name -> ISO 15924 code: the scripts of the demo's languages.
SCRIPTS = {
    "LATIN": "Latn",
    "DEVANAGARI": "Deva",
    "BENGALI": "Beng",
    "GURMUKHI": "Guru",
    "GUJARATI": "Gujr",
    "ORIYA": "Orya",
    "TAMIL": "Taml",
    "TELUGU": "Telu",
    "KANNADA": "Knda",
    "MALAYALAM": "Mlym",
    "SINHALA": "Sinh",
    "ARABIC": "Arab",
}
SCRIPT_NAMES = {
    "Latn": "Latin",
    "Deva": "Devanagari",
    "Beng": "Bengali-Assamese",
    "Guru": "Gurmukhi",
    "Gujr": "Gujarati",
    "Orya": "Odia",
    "Taml": "Tamil",
    "Telu": "Telugu",
    "Knda": "Kannada",
    "Mlym": "Malayalam",
    "Sinh": "Sinhala",
    "Arab": "Arabic",
}
MIN_SCRIPT_PAIRS = 30  # fewer known pairs with queries in a script: no marker for that script
MIN_LETTERS = 2  # a query with fewer letters (".", an emoji, a zero-width space, "क") has nothing to match
FLOOR_QUANTILE = 0.75
""""No close match" when the best hit scores below this quantile of the closest non-translations: lower
than a wrong top hit often scores. The two overlap, so this is a rule of thumb. With multilingual-e5-small
on the shipped corpus the 0.75 quantile (0.828-0.842 by script) flags "asdf qwerty" (best 0.818) and
"क्रिकेट" (cricket, 0.829: golf and rugby), and lets "Nepal" (0.899), "Delhi" (0.853), "Kathmandu"
(0.848) and "monsoon rains in Nepal" (0.852) through, whose hits are on topic. The 0.9 quantile
(0.84-0.86) flagged "Delhi", "Kathmandu" and "monsoon rains in Nepal" too: the calibration's queries are
whole sentences, which score higher than keywords. Errors remain both ways: "Colombo" (0.828) is flagged
though its top hit names Colombo, and "tea plantations in Sri Lanka" (0.846, Latin-script floor 0.842)
passes with unrelated hits; the marker, not the absence of this line, says a hit is a translation."""


def _letters(text: str) -> Counter[str]:
    """How many letters (and combining marks) of each known script ``text`` has."""
    counts: Counter[str] = Counter()
    for char in text:
        if unicodedata.category(char)[0] in "LM":
            script = SCRIPTS.get(unicodedata.name(char, "").split(" ", 1)[0])
            if script is not None:
                counts[script] += 1
    return counts


def text_script(text: str) -> str | None:
    """The ISO 15924 code of most of ``text``'s letters (``None``: no letter of a known script).

    Marks (vowel signs, viramas) count with their script, so "क" and "कि" are Devanagari; digits,
    punctuation, emoji and zero-width characters count for nothing.
    """
    counts = _letters(text)
    return counts.most_common(1)[0][0] if counts else None


@dataclass(frozen=True)
class ScoreCalibration:
    """What one model's scores mean for queries in one script, measured on known translation pairs.

    Attributes:
        threshold: scores at or above it are marked "likely translation".
        pair_rate: share of known translation pairs scoring at or above the threshold.
        impostor_rate: share of the closest non-translations (per query and language) scoring at or above it.
        n_pairs, n_impostors: how many scores each rate is measured on.
        n_sentences: sentences of the shipped corpus used (each in all its languages).
        floor: the best hit of a query below it is "no close match" (:data:`FLOOR_QUANTILE` of the
            impostor scores); ``None`` for a calibration made without it.
        script: the ISO 15924 code of the queries it was measured on (``None``: all queries).
        supported: whether the marker applies to the query it was chosen for (see
            :meth:`ScriptCalibrations.for_query`); ``False`` leaves every hit unmarked.
    """

    threshold: float
    pair_rate: float
    impostor_rate: float
    n_pairs: int
    n_impostors: int
    n_sentences: int
    floor: float | None = None
    script: str | None = None
    supported: bool = True

    @property
    def separates(self) -> bool:
        """Whether the marker means something: most pairs above, few non-translations above."""
        return self.pair_rate - self.impostor_rate >= 0.5

    def likely(self, score: float) -> bool:
        return self.supported and self.separates and score >= self.threshold

    def no_close_match(self, best_score: float) -> bool:
        """Whether a query's best hit scores below what an unrelated text often reaches.

        Never for a model whose scores do not separate translations from the rest (its floor says as
        little as its marker would), except for a query with too few letters (an infinite floor).
        """
        if self.floor is None or best_score >= self.floor:
            return False
        return self.separates or math.isinf(self.floor)

    def explain(self) -> str:
        """One paragraph for the page (plain text; escaped by the caller)."""
        queries = (
            f"with queries in {SCRIPT_NAMES.get(self.script, self.script)} script" if self.script else ""
        )
        measured = (
            f"Measured when the model was loaded, on {self.n_pairs:,} known translation pairs of the "
            f"shipped corpus ({self.n_sentences} sentences, each in its languages) {queries} and on the closest "
            f"non-translation in each language: {self.pair_rate:.0%} of the translations score "
            f"{self.threshold:.3f} or more, {self.impostor_rate:.0%} of the closest non-translations do."
        ).replace("  ", " ")
        if not self.supported:
            return (
                "No 'likely translation' marker for this query: the calibration has too few known pairs "
                "with queries in its script (or the query has no letters), so a score here cannot be "
                "compared with a translation's."
            )
        if not self.separates:
            return (
                f"No 'likely translation' marker for this model: its scores do not separate translations "
                f"from other sentences. {measured}"
            )
        return (
            f"✓ likely translation = score {self.threshold:.3f} or more. {measured} Scores are cosine "
            "similarities; their level depends on the model, so compare hits with the marker, not with "
            "a fixed number. On other corpora the marker says 'as close as a translation usually is'."
        )


@dataclass(frozen=True)
class KnownPairScores:
    """Scores of known translation pairs and of the closest non-translations, with each query's script."""

    pairs: np.ndarray
    pair_scripts: np.ndarray
    impostors: np.ndarray
    impostor_scripts: np.ndarray


@dataclass(frozen=True)
class ScriptCalibrations:
    """One model's calibration over all queries, and one per query script with enough known pairs."""

    overall: ScoreCalibration
    by_script: dict[str, ScoreCalibration] = field(default_factory=dict)

    def for_query(self, query: str, *, romanized: bool = False) -> ScoreCalibration:
        """The calibration that applies to ``query``: the one measured on queries of its script.

        A query in a script the calibration has too few pairs for gets the overall one with
        ``supported=False``: its "no close match" floor still applies, its marker not. So does a
        ``romanized`` query (South Asian text in Latin script): the Latin calibration was measured on
        English queries, whose scores mean something else. A query with fewer than :data:`MIN_LETTERS`
        letters gets no marker and an infinite floor: no close match.
        This is the one place that decides which marker applies to a query.
        """
        letters = _letters(query)
        if sum(letters.values()) < MIN_LETTERS:
            # every document scores alike for it (0.79-0.87 with e5): nothing can be a close match
            return dataclasses.replace(self.overall, supported=False, script=None, floor=math.inf)
        script = letters.most_common(1)[0][0]
        if script in self.by_script and not romanized:
            return self.by_script[script]
        return dataclasses.replace(self.by_script.get(script, self.overall), supported=False, script=script)


def known_pair_scores(
    groups: Sequence[Sequence[Document]],
    indexes: dict[str, CorpusIndex],
    encode_queries: Callable[[list[str]], np.ndarray],
) -> KnownPairScores:
    """Scores of known translation pairs, and of the closest non-translation, across languages.

    Every document of every group is a query (encoded with the query prompt, as a user's query is);
    for each other language it contributes its translation's score (a pair) and the best score of a
    document of that language outside its group (an impostor: what a wrong top hit scores).
    """
    queries = [document for group in groups for document in group]
    group_of = {document.id: number for number, group in enumerate(groups) for document in group}
    query_groups = np.array([group_of[document.id] for document in queries])
    query_languages = np.array([document.language for document in queries])
    scripts = np.array([text_script(document.text) or "" for document in queries])
    vectors = encode_queries([document.text for document in queries])
    pairs, pair_scripts, impostors, impostor_scripts = [], [], [], []
    for language, index in indexes.items():
        document_groups = np.array([group_of.get(doc_id, -1) for doc_id in index.ids])
        scores, rows = index.search_embeddings(vectors, len(index))  # every document, best first
        member = document_groups[rows] == query_groups[:, None]
        other = query_languages != language
        pairs.append(scores[other][member[other]])
        pair_scripts.append(np.broadcast_to(scripts[:, None], member.shape)[other][member[other]])
        first_outsider = np.argmax(~member, axis=1)
        chosen = other & (~member).any(axis=1)
        impostors.append(scores[chosen, first_outsider[chosen]])
        impostor_scripts.append(scripts[chosen])
    return KnownPairScores(*map(np.concatenate, (pairs, pair_scripts, impostors, impostor_scripts)))


def calibrate_by_script(scores: KnownPairScores, *, n_sentences: int = 0) -> ScriptCalibrations:
    """The overall calibration and one per query script with at least :data:`MIN_SCRIPT_PAIRS` pairs."""
    overall = calibrate_scores(scores.pairs, scores.impostors, n_sentences=n_sentences)
    by_script = {}
    for script in sorted(set(scores.pair_scripts) - {""}):
        pairs = scores.pairs[scores.pair_scripts == script]
        impostors = scores.impostors[scores.impostor_scripts == script]
        if len(pairs) >= MIN_SCRIPT_PAIRS and len(impostors):
            calibration = calibrate_scores(pairs, impostors, n_sentences=n_sentences)
            by_script[script] = dataclasses.replace(calibration, script=script)
    return ScriptCalibrations(overall, by_script)


def calibrate_scores(
    pair_scores: np.ndarray, impostor_scores: np.ndarray, *, n_sentences: int = 0
) -> ScoreCalibration:
    """The threshold that best separates pairs from impostors (max. pair rate minus impostor rate).

    Candidate thresholds lie halfway between consecutive observed scores, so a perfectly separating
    threshold sits in the middle of the gap between the two distributions.
    """
    pairs = np.sort(np.asarray(pair_scores, dtype=np.float64))
    impostors = np.sort(np.asarray(impostor_scores, dtype=np.float64))
    if not len(pairs) or not len(impostors):
        raise ValueError("calibration needs pair and impostor scores")
    values = np.unique(np.concatenate([pairs, impostors]))
    cuts = (values[:-1] + values[1:]) / 2 if len(values) > 1 else values
    pair_rate = 1 - np.searchsorted(pairs, cuts, side="left") / len(pairs)
    impostor_rate = 1 - np.searchsorted(impostors, cuts, side="left") / len(impostors)
    best = int(np.argmax(pair_rate - impostor_rate))
    return ScoreCalibration(
        floor=float(np.quantile(impostors, FLOOR_QUANTILE)),
        threshold=float(cuts[best]),
        pair_rate=float(pair_rate[best]),
        impostor_rate=float(impostor_rate[best]),
        n_pairs=len(pairs),
        n_impostors=len(impostors),
        n_sentences=n_sentences,
    )
