"""``CLIRBenchmark``: a cross-lingual retrieval benchmark in the Hub/MTEB layout, validated on construction."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset

from optical_st.data._errors import BenchmarkValidationError
from optical_st.data._lines import PathLike
from optical_st.languages import get_language

QUERY_COLUMNS = ("_id", "text", "language")
CORPUS_COLUMNS = ("_id", "title", "text", "language")
QRELS_COLUMNS = ("query-id", "corpus-id", "score")


@dataclass
class CLIRBenchmark:
    """A cross-lingual retrieval benchmark in the Hub/MTEB retrieval layout.

    Args:
        name: short identifier, e.g. ``flores200-sentence-npi_Deva-eng_Latn``.
        queries: columns ``_id, text, language``.
        corpus: columns ``_id, title, text, language``.
        qrels: columns ``query-id, corpus-id, score``; ``score > 0`` means relevant.
        query_language: FLORES code of the queries.
        document_language: FLORES code of the documents.
        metadata: ``source``, ``licence``, ``citation``, ``level`` (``sentence``, ``document`` or
            ``passage``) and how the benchmark was built (counts of merged duplicates, ...).

    The constructor validates: unique ids, non-empty texts, qrels that point at known ids, and at
    least one relevant document per query (:class:`BenchmarkValidationError` otherwise).

    Example::

        >>> from datasets import Dataset
        >>> benchmark = CLIRBenchmark(
        ...     name="toy",
        ...     queries=Dataset.from_dict({"_id": ["q1"], "text": ["नमस्ते"], "language": ["npi_Deva"]}),
        ...     corpus=Dataset.from_dict({"_id": ["d1", "d2"], "title": ["", ""], "text": ["Hello", "Bye"],
        ...                               "language": ["eng_Latn", "eng_Latn"]}),
        ...     qrels=Dataset.from_dict({"query-id": ["q1"], "corpus-id": ["d1"], "score": [1]}),
        ...     query_language="npi_Deva", document_language="eng_Latn", metadata={"level": "sentence"},
        ... )
        >>> benchmark.relevant_docs()
        {'q1': {'d1'}}
    """

    name: str
    queries: Dataset
    corpus: Dataset
    qrels: Dataset
    query_language: str
    document_language: str
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.query_language = get_language(self.query_language).code
        self.document_language = get_language(self.document_language).code
        self.validate()

    @classmethod
    def from_texts(
        cls,
        name: str,
        queries: Mapping[str, str],
        corpus: Mapping[str, str],
        qrels: Mapping[str, Iterable[str] | Mapping[str, int]],
        query_language: str,
        document_language: str,
        metadata: dict | None = None,
        titles: Mapping[str, str] | None = None,
    ) -> CLIRBenchmark:
        """A validated benchmark from ``{id: text}`` mappings (see :meth:`tables_from_texts` for the args).

        Example::

            >>> benchmark = CLIRBenchmark.from_texts(
            ...     "toy", {"q1": "नमस्ते"}, {"d1": "Hello", "d2": "Bye"}, {"q1": ["d1"]}, "ne", "en"
            ... )
            >>> benchmark.relevant_docs(), benchmark.query_language
            ({'q1': {'d1'}}, 'npi_Deva')
        """
        return cls(
            name=name,
            **cls.tables_from_texts(queries, corpus, qrels, query_language, document_language, titles),
            query_language=query_language,
            document_language=document_language,
            metadata=dict(metadata or {}),
        )

    @staticmethod
    def tables_from_texts(
        queries: Mapping[str, str],
        corpus: Mapping[str, str],
        qrels: Mapping[str, Iterable[str] | Mapping[str, int]],
        query_language: str,
        document_language: str,
        titles: Mapping[str, str] | None = None,
    ) -> dict[str, Dataset]:
        """The ``queries``, ``corpus`` and ``qrels`` tables, unvalidated, in id order of the mappings.

        Args:
            queries: ``{query_id: text}``.
            corpus: ``{document_id: text}``.
            qrels: ``{query_id: [document_id, ...]}`` (score 1 each) or, as in BEIR,
                ``{query_id: {document_id: score}}``.
            query_language, document_language: any spelling of a language (``ne``, ``npi_Deva``);
                stored as the FLORES code in the ``language`` columns.
            titles: ``{document_id: title}``; a missing title is ``""``.
        """
        query_language = get_language(query_language).code
        document_language = get_language(document_language).code
        titles = titles or {}
        return {
            "queries": Dataset.from_dict(
                {
                    "_id": list(queries),
                    "text": list(queries.values()),
                    "language": [query_language] * len(queries),
                }
            ),
            "corpus": Dataset.from_dict(
                {
                    "_id": list(corpus),
                    "title": [titles.get(doc_id, "") for doc_id in corpus],
                    "text": list(corpus.values()),
                    "language": [document_language] * len(corpus),
                }
            ),
            "qrels": _qrels_dataset(qrels),
        }

    def relevant_docs(self) -> dict[str, set[str]]:
        """``{query_id: {corpus_id, ...}}`` for the qrels with ``score > 0``."""
        return relevant_docs(self.qrels)

    def validate(self) -> None:
        """Raise :class:`BenchmarkValidationError` for any inconsistency (see the class docstring)."""
        validate_benchmark(self)

    def save(self, directory: PathLike) -> Path:
        """Write ``corpus/``, ``queries/``, ``qrels/`` (one ``test.parquet`` each) and ``metadata.json``.

        The folder can be read back with :func:`load_benchmark` and uploaded as a Hub dataset with
        configs ``corpus``, ``queries`` and ``qrels``.
        """
        import pyarrow.parquet as pq

        directory = Path(directory)
        for part, table in (("corpus", self.corpus), ("queries", self.queries), ("qrels", self.qrels)):
            (directory / part).mkdir(parents=True, exist_ok=True)
            pq.write_table(table.with_format("arrow")[:], directory / part / "test.parquet")
        info = {
            "name": self.name,
            "query_language": self.query_language,
            "document_language": self.document_language,
            "metadata": self.metadata,
        }
        (directory / "metadata.json").write_text(
            json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        return directory

    def __repr__(self) -> str:
        level = self.metadata.get("level", "?")
        return (
            f"CLIRBenchmark(name={self.name!r}, {self.query_language}->{self.document_language}, level={level}, "
            f"queries={len(self.queries)}, corpus={len(self.corpus)}, qrels={len(self.qrels)})"
        )


def column_values(table: Dataset, name: str) -> list:
    """A column as a Python list (``Dataset[name]`` iterates row by row, which is slow)."""
    return table.with_format("arrow")[name].to_pylist()


def _qrels_dataset(qrels: Mapping[str, Iterable[str] | Mapping[str, int]]) -> Dataset:
    rows = [
        (query_id, doc_id, docs[doc_id] if isinstance(docs, Mapping) else 1)
        for query_id, docs in qrels.items()
        for doc_id in docs
    ]
    return Dataset.from_dict(
        {
            "query-id": [q for q, _, _ in rows],
            "corpus-id": [d for _, d, _ in rows],
            "score": [score for _, _, score in rows],
        }
    )


def relevant_docs(qrels: Dataset) -> dict[str, set[str]]:
    """``{query_id: {corpus_id, ...}}`` for the qrels rows with ``score > 0``."""
    relevant: dict[str, set[str]] = defaultdict(set)
    for query_id, corpus_id, score in zip(
        column_values(qrels, "query-id"),
        column_values(qrels, "corpus-id"),
        column_values(qrels, "score"),
        strict=True,
    ):
        if score > 0:
            relevant[query_id].add(corpus_id)
    return dict(relevant)


def validate_benchmark(benchmark: Any) -> None:
    """Check a benchmark's tables: columns, unique ids, no empty text, qrels naming known ids, and a
    relevant document for every query. Any object with ``name``, ``queries``, ``corpus`` and ``qrels``
    (the evaluator checks benchmarks that are not :class:`CLIRBenchmark` this way).

    Raises:
        BenchmarkValidationError: naming the benchmark, the table and the first offending id or row.
    """
    for part, table, columns in (
        ("queries", benchmark.queries, QUERY_COLUMNS),
        ("corpus", benchmark.corpus, CORPUS_COLUMNS),
        ("qrels", benchmark.qrels, QRELS_COLUMNS),
    ):
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise BenchmarkValidationError(
                f"{benchmark.name}: {part} lacks column(s) {missing} (has {table.column_names})."
            )
    for part, table in (("queries", benchmark.queries), ("corpus", benchmark.corpus)):
        ids = column_values(table, "_id")
        if len(set(ids)) != len(ids):
            repeated = next(i for i, n in Counter(ids).items() if n > 1)
            raise BenchmarkValidationError(f"{benchmark.name}: {part} id {repeated!r} occurs more than once.")
        empty = [
            i
            for i, text in zip(ids, column_values(table, "text"), strict=True)
            if not text or not str(text).strip()
        ]
        if empty:
            raise BenchmarkValidationError(
                f"{benchmark.name}: {part} {empty[0]!r} has empty text ({len(empty)} in all)."
            )
    query_ids, corpus_ids = (
        set(column_values(benchmark.queries, "_id")),
        set(column_values(benchmark.corpus, "_id")),
    )
    bad_score = first_fractional_score(column_values(benchmark.qrels, "score"))
    if bad_score is not None:
        raise BenchmarkValidationError(f"{benchmark.name}: qrels {bad_score}")
    for row, (query_id, corpus_id) in enumerate(
        zip(
            column_values(benchmark.qrels, "query-id"),
            column_values(benchmark.qrels, "corpus-id"),
            strict=True,
        ),
        1,
    ):
        if query_id not in query_ids:
            raise BenchmarkValidationError(
                f"{benchmark.name}: qrels row {row} names unknown query id {query_id!r}."
            )
        if corpus_id not in corpus_ids:
            raise BenchmarkValidationError(
                f"{benchmark.name}: qrels row {row} names unknown corpus id {corpus_id!r}."
            )
    without = query_ids - set(relevant_docs(benchmark.qrels))
    if without:
        example = sorted(without)[0]
        raise BenchmarkValidationError(
            f"{benchmark.name}: {len(without)} queries have no relevant document (score > 0), e.g. {example!r}; "
            "remove them or add their qrels."
        )


def first_fractional_score(scores: Any) -> str | None:
    """``"row N has score 0.5; ..."`` for the first qrels score that is not a whole number, else ``None``.

    Scores are graded relevance (0 not relevant, 1, 2, ...); a fraction passed validation and then failed in
    the evaluator (which reads whole numbers) with no file or row.
    """
    for row, score in enumerate(scores, 1):
        try:
            whole = float(score).is_integer()
        except (TypeError, ValueError):
            whole = False
        if not whole:
            return f"row {row} has score {score!r}; scores are whole numbers (0 not relevant, 1, 2, ... relevant)"
    return None
