"""Benchmarks built from bitext: sentence retrieval (a translation) and document retrieval (its article)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Literal

from datasets import Dataset

from optical_st.data._benchmark import CLIRBenchmark, column_values
from optical_st.data._layouts import LAYOUTS_WITH_DOCUMENTS
from optical_st.data._rows import maybe_code
from optical_st.languages import ENGLISH, native_code
from optical_st.sources import source_metadata

Direction = Literal["xx->eng", "eng->xx", "xx_Latn->xx"]
CROSS_SCRIPT_DIRECTION = "xx_Latn->xx"
"""Romanized query -> its native-script original (same language); needs a romanized bitext's ``native`` column."""
NATIVE_COLUMN = "native"
"""The column of a romanized bitext (:func:`~optical_st.data.romanize_bitext`) that keeps the native text."""


def _sides(direction: str, language: str, columns: Sequence[str]) -> tuple[tuple[str, str], tuple[str, str]]:
    """(query language, its column), (document language, its column) of ``direction`` for this bitext."""
    compact = direction.replace(" ", "")
    english, target = (ENGLISH, "english"), (language, "target")
    if compact == "xx->eng":
        return target, english
    if compact == "eng->xx":
        return english, target
    if compact == CROSS_SCRIPT_DIRECTION:
        if NATIVE_COLUMN not in columns:
            raise ValueError(
                f"direction {CROSS_SCRIPT_DIRECTION} needs a romanized bitext (romanize_bitext) with its "
                f"{NATIVE_COLUMN!r} column; {language} has none"
            )
        return target, (native_code(language), NATIVE_COLUMN)
    parts = compact.split("->")
    if len(parts) == 2 and all(maybe_code(part) for part in parts):
        query, document = (maybe_code(part) for part in parts)
        named = {english[0]: english, target[0]: target}
        if NATIVE_COLUMN in columns:
            named[native_code(language)] = (native_code(language), NATIVE_COLUMN)
        if query in named and document in named and query != document:
            return named[query], named[document]
    raise ValueError(
        f"direction must be 'xx->eng', 'eng->xx' or '{CROSS_SCRIPT_DIRECTION}' (or e.g. '{language}->{ENGLISH}'), "
        f"got {direction!r}."
    )


def _single_language(bitext: Dataset) -> str:
    missing = [c for c in ("id", "language", "english", "target") if c not in bitext.column_names]
    if missing:
        raise ValueError(f"bitext lacks column(s) {missing}; load it with load_bitext().")
    languages = sorted(set(column_values(bitext, "language")))
    if len(languages) != 1:
        raise ValueError(
            f"bitext holds {len(languages)} languages ({', '.join(languages)}); build one benchmark per "
            "language, e.g. bitext.filter(lambda row: row['language'] == 'npi_Deva')."
        )
    return languages[0]


def sentence_retrieval_benchmark(
    bitext: Dataset, direction: Direction | str = "xx->eng", name: str | None = None
) -> CLIRBenchmark:
    """Bitext retrieval: each sentence must retrieve its translation among all translations.

    Identical texts are merged on both sides, so no correct answer is ever scored as a miss: a
    repeated English line becomes one document relevant to all its translations' queries, and a
    repeated query text becomes one query relevant to all its translations (the counts are in
    ``metadata["merged_duplicate_documents"]`` / ``["merged_duplicate_queries"]``). Ids are
    ``{language}:{bitext id}`` of the first pair with that text (``npi_Deva:12`` -> ``eng_Latn:12``), so
    a query never shares its id with its answer (BEIR-style evaluators drop such hits).

    Args:
        bitext: output of :func:`load_bitext` with a single language.
        direction: ``"xx->eng"`` (queries in the bitext language, English documents), ``"eng->xx"``, or
            for a romanized bitext ``"xx_Latn->xx"`` (romanized queries, their native-script originals).
        name: benchmark name; default ``{source}-sentence-{query_language}-{document_language}``.

    Example::

        >>> from datasets import Dataset
        >>> bitext = Dataset.from_dict({"id": ["0", "1"], "language": ["npi_Deva"] * 2,
        ...     "english": ["Hello", "Thanks"], "target": ["नमस्ते", "धन्यवाद"], "doc_id": ["", ""],
        ...     "source": ["toy", "toy"]})
        >>> sentence_retrieval_benchmark(bitext, "xx->eng").relevant_docs()
        {'npi_Deva:0': {'eng_Latn:0'}, 'npi_Deva:1': {'eng_Latn:1'}}
    """
    language = _single_language(bitext)
    (query_language, query_column), (document_language, document_column) = _sides(
        direction, language, bitext.column_names
    )
    queries, corpus, qrels = _group_pairs(
        column_values(bitext, "id"),
        column_values(bitext, query_column),
        column_values(bitext, document_column),
        query_language,
        document_language,
    )
    sources = column_values(bitext, "source") if "source" in bitext.column_names else ["unknown"]
    meta = source_metadata(sources)
    name = name or f"{meta['source'].replace(', ', '+')}-sentence-{query_language}-{document_language}"
    metadata = {
        **meta,
        "level": "sentence",
        "direction": f"{query_language}->{document_language}",
        "n_pairs": len(bitext),
        "merged_duplicate_queries": len(bitext) - len(queries),
        "merged_duplicate_documents": len(bitext) - len(corpus),
        "note": "identical texts are merged into one query / one document whose relevant set is the union.",
    }
    return CLIRBenchmark.from_texts(name, queries, corpus, qrels, query_language, document_language, metadata)


def _group_pairs(
    ids: Sequence[str],
    query_texts: Sequence[str],
    document_texts: Sequence[str],
    query_language: str,
    document_language: str,
):
    """Merge identical texts: ({query_id: text}, {doc_id: text}, {query_id: [doc_id, ...]}).

    Ids are ``{language}:{bitext id}``: a query and its translation must not share an id, because
    BEIR-style evaluators drop retrieved documents whose id equals the query id.
    """
    query_by_text: dict[str, str] = {}
    document_by_text: dict[str, str] = {}
    qrels: dict[str, list[str]] = defaultdict(list)
    for row_id, query, document in zip(ids, query_texts, document_texts, strict=True):
        query_id = query_by_text.setdefault(query, f"{query_language}:{row_id}")
        document_id = document_by_text.setdefault(document, f"{document_language}:{row_id}")
        if document_id not in qrels[query_id]:
            qrels[query_id].append(document_id)
    queries = {query_id: text for text, query_id in query_by_text.items()}
    corpus = {document_id: text for text, document_id in document_by_text.items()}
    return queries, corpus, qrels


def document_retrieval_benchmark(
    bitext: Dataset, direction: Direction | str = "xx->eng", name: str | None = None
) -> CLIRBenchmark:
    """Sentence -> document retrieval: each sentence must retrieve the article it comes from.

    The documents are the other-language side grouped by ``doc_id`` (FLORES URL, NTREX document,
    FLoRes v1 article title, TICO-19 tuid prefix): the sentences of one document joined by a space in
    bitext order, with exact repeats inside a document kept once. The document ``_id`` is the
    ``doc_id``; titles are left empty because some ``doc_id`` values (URLs, titles) would leak the answer.
    A query text occurring in several documents is one query relevant to all of them; query ids are
    ``{language}:{bitext id}`` as in :func:`sentence_retrieval_benchmark`.

    Args:
        bitext: output of :func:`load_bitext` with a single language and non-empty ``doc_id``.
        direction: ``"xx->eng"`` or ``"eng->xx"`` as in :func:`sentence_retrieval_benchmark`.
        name: default ``{source}-document-{query_language}-{document_language}``.

    Example::

        >>> from datasets import Dataset
        >>> bitext = Dataset.from_dict({"id": ["0", "1", "2"], "language": ["npi_Deva"] * 3,
        ...     "english": ["A cat.", "It sleeps.", "Rain."], "target": ["बिरालो।", "सुत्छ।", "पानी।"],
        ...     "doc_id": ["cats", "cats", "weather"], "source": ["toy"] * 3})
        >>> benchmark = document_retrieval_benchmark(bitext, "xx->eng")
        >>> benchmark.corpus["text"][:], benchmark.relevant_docs()["npi_Deva:1"]
        (['A cat. It sleeps.', 'Rain.'], {'cats'})
    """
    language = _single_language(bitext)
    if "doc_id" not in bitext.column_names:
        raise ValueError("bitext has no doc_id column; document retrieval needs documents.")
    doc_ids = column_values(bitext, "doc_id")
    without = [
        row_id for row_id, doc_id in zip(column_values(bitext, "id"), doc_ids, strict=True) if not doc_id
    ]
    if without:
        raise ValueError(
            f"{len(without)} bitext rows have no doc_id (e.g. id {without[0]!r}); document retrieval needs "
            f"a document for every sentence ({', '.join(LAYOUTS_WITH_DOCUMENTS)} have them)."
        )
    (query_language, query_column), (document_language, document_column) = _sides(
        direction, language, bitext.column_names
    )
    documents: dict[str, list[str]] = defaultdict(list)
    query_by_text: dict[str, str] = {}
    qrels: dict[str, list[str]] = defaultdict(list)
    for row_id, doc_id, query, sentence in zip(
        column_values(bitext, "id"),
        doc_ids,
        column_values(bitext, query_column),
        column_values(bitext, document_column),
        strict=True,
    ):
        if sentence not in documents[doc_id]:
            documents[doc_id].append(sentence)
        query_id = query_by_text.setdefault(query, f"{query_language}:{row_id}")
        if doc_id not in qrels[query_id]:
            qrels[query_id].append(doc_id)
    queries = {query_id: text for text, query_id in query_by_text.items()}
    meta = source_metadata(
        column_values(bitext, "source") if "source" in bitext.column_names else ["unknown"]
    )
    name = name or f"{meta['source'].replace(', ', '+')}-document-{query_language}-{document_language}"
    metadata = {
        **meta,
        "level": "document",
        "direction": f"{query_language}->{document_language}",
        "n_pairs": len(bitext),
        "n_documents": len(documents),
        "merged_duplicate_queries": len(bitext) - len(queries),
        "note": "documents = sentences grouped by doc_id in bitext order, joined by a space; "
        "a document holds only the sentences present in the loaded bitext.",
    }
    corpus = {doc_id: " ".join(sentences) for doc_id, sentences in documents.items()}
    return CLIRBenchmark.from_texts(name, queries, corpus, qrels, query_language, document_language, metadata)
