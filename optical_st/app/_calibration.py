"""What a score means: a \"likely translation\" threshold measured on known translation pairs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from optical_st.search import CorpusIndex

from optical_st.app._corpus import Document


@dataclass(frozen=True)
class ScoreCalibration:
    """A "likely translation" threshold for one model, measured on known translation pairs.

    Attributes:
        threshold: scores at or above it are marked "likely translation".
        pair_rate: share of known translation pairs scoring at or above the threshold.
        impostor_rate: share of the closest non-translations (per query and language) scoring at or above it.
        n_pairs, n_impostors: how many scores each rate is measured on.
        n_sentences: sentences of the shipped corpus used (each in all its languages).
    """

    threshold: float
    pair_rate: float
    impostor_rate: float
    n_pairs: int
    n_impostors: int
    n_sentences: int

    @property
    def separates(self) -> bool:
        """Whether the marker means something: most pairs above, few non-translations above."""
        return self.pair_rate - self.impostor_rate >= 0.5

    def likely(self, score: float) -> bool:
        return self.separates and score >= self.threshold

    def explain(self) -> str:
        """One paragraph for the page (plain text; escaped by the caller)."""
        measured = (
            f"Measured when the model was loaded, on {self.n_pairs:,} known translation pairs of the "
            f"shipped corpus ({self.n_sentences} sentences, each in its 7 languages) and on the closest "
            f"non-translation in each language: {self.pair_rate:.0%} of the translations score "
            f"{self.threshold:.3f} or more, {self.impostor_rate:.0%} of the closest non-translations do."
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


def known_pair_scores(
    groups: Sequence[Sequence[Document]],
    indexes: dict[str, CorpusIndex],
    encode_queries: Callable[[list[str]], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of known translation pairs, and of the closest non-translation, across languages.

    Every document of every group is a query (encoded with the query prompt, as a user's query is);
    for each other language it contributes its translation's score (a pair) and the best score of a
    document of that language outside its group (an impostor: what a wrong top hit scores).
    """
    queries = [document for group in groups for document in group]
    group_of = {document.id: number for number, group in enumerate(groups) for document in group}
    query_groups = np.array([group_of[document.id] for document in queries])
    query_languages = np.array([document.language for document in queries])
    vectors = encode_queries([document.text for document in queries])
    pairs, impostors = [], []
    for language, index in indexes.items():
        document_groups = np.array([group_of.get(doc_id, -1) for doc_id in index.ids])
        scores, rows = index.search_embeddings(vectors, len(index))  # every document, best first
        member = document_groups[rows] == query_groups[:, None]
        other = query_languages != language
        pairs.append(scores[other][member[other]])
        first_outsider = np.argmax(~member, axis=1)
        chosen = other & (~member).any(axis=1)
        impostors.append(scores[chosen, first_outsider[chosen]])
    return np.concatenate(pairs), np.concatenate(impostors)


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
        threshold=float(cuts[best]),
        pair_rate=float(pair_rate[best]),
        impostor_rate=float(impostor_rate[best]),
        n_pairs=len(pairs),
        n_impostors=len(impostors),
        n_sentences=n_sentences,
    )
