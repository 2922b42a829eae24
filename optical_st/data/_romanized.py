"""Romanized views of bitext and benchmarks: the native side written in Latin script, provenance kept.

A view never changes its source: the romanized text replaces the native side, the language becomes its
``_Latn`` variant (``npi_Deva`` -> ``npi_Latn``), and a benchmark's metadata gains ``romanizer``
(:meth:`Romanizer.to_dict`: back-end, library, version, options) beside the source's licence and
citations, which stay as they are: a romanized view is a derivative of the same data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optical_st.data._benchmark import CLIRBenchmark, column_values
from optical_st.data._builders import NATIVE_COLUMN
from optical_st.data._romanizer import Romanizer
from optical_st.languages import ENGLISH, get_language, romanized_code

if TYPE_CHECKING:
    from datasets import Dataset


def romanize_bitext(bitext: Dataset, romanizer: Romanizer | None = None) -> Dataset:
    """The bitext with its ``target`` side romanized and its ``native`` column keeping the original.

    Args:
        bitext: :func:`~optical_st.data.load_bitext` layout, native-script targets (any languages).
        romanizer: default :class:`Romanizer` (uroman, lowercase ASCII, no noise).

    Returns:
        The same rows and columns, ``language`` set to the ``_Latn`` codes, plus ``native``; the
        sentence and document builders then offer the direction ``xx_Latn->xx``.

    Raises:
        ValueError: a row is romanized already, or the romanizer cannot write one of its languages.

    Example::

        >>> from datasets import Dataset
        >>> bitext = Dataset.from_dict({"id": ["0"], "language": ["npi_Deva"], "english": ["My country is Nepal."],
        ...     "target": ["मेरो देश नेपाल हो।"], "doc_id": [""], "source": ["toy"]})
        >>> romanize_bitext(bitext)[0]
        {'id': '0', 'language': 'npi_Latn', 'english': 'My country is Nepal.', 'target': 'mero desh nepaal ho.', 'doc_id': '', 'source': 'toy', 'native': 'मेरो देश नेपाल हो।'}
    """
    romanizer = romanizer or Romanizer()
    languages = column_values(bitext, "language")
    targets = column_values(bitext, "target")
    romanized = list(targets)
    for language in dict.fromkeys(languages):
        if get_language(language).is_romanized:
            raise ValueError(f"the bitext's {language} side is romanized already")
        rows = [i for i, code in enumerate(languages) if code == language]
        for i, text in zip(rows, romanizer.romanize_all([targets[i] for i in rows], language), strict=True):
            romanized[i] = text
    view = bitext.remove_columns(
        [c for c in ("target", "language", NATIVE_COLUMN) if c in bitext.column_names]
    )
    return (
        view.add_column("language", [romanized_code(code) for code in languages])
        .add_column("target", romanized)
        .add_column(NATIVE_COLUMN, targets)
        .select_columns(
            [*bitext.column_names, *([] if NATIVE_COLUMN in bitext.column_names else [NATIVE_COLUMN])]
        )
    )


def mark_romanized(benchmark: CLIRBenchmark, romanizer: Romanizer) -> CLIRBenchmark:
    """Record ``romanizer`` in a benchmark built from romanized text: its metadata and its name."""
    benchmark.metadata["romanizer"] = romanizer.to_dict()
    benchmark.name = f"{benchmark.name}-{romanizer.name}"
    return benchmark


def romanize_benchmark(benchmark: CLIRBenchmark, romanizer: Romanizer | None = None) -> CLIRBenchmark:
    """The benchmark with its South Asian side(s) romanized (XQuAD-R, saved or Hub benchmarks).

    Ids and relevance judgements are unchanged; English stays as it is. For bitext sources prefer
    :func:`romanize_bitext` before building, which also offers the cross-script direction.

    Raises:
        ValueError: the benchmark has no native-script South Asian side.
    """
    romanizer = romanizer or Romanizer()
    sides = {"query": benchmark.query_language, "document": benchmark.document_language}
    native = {
        side: code for side, code in sides.items() if code != ENGLISH and not get_language(code).is_romanized
    }
    if not native:
        raise ValueError(f"{benchmark.name}: no native-script South Asian side to romanize ({sides})")
    queries = dict(
        zip(column_values(benchmark.queries, "_id"), column_values(benchmark.queries, "text"), strict=True)
    )
    corpus = dict(
        zip(column_values(benchmark.corpus, "_id"), column_values(benchmark.corpus, "text"), strict=True)
    )
    titles = dict(zip(corpus, column_values(benchmark.corpus, "title"), strict=True))
    for side, texts in (("query", queries), ("document", corpus), ("document", titles)):
        if side in native:
            romanized = romanizer.romanize_all(list(texts.values()), native[side])
            texts.update(zip(texts, romanized, strict=True))
    qrels: dict[str, dict[str, int]] = {}
    columns = (column_values(benchmark.qrels, column) for column in ("query-id", "corpus-id", "score"))
    for query_id, doc_id, score in zip(*columns, strict=True):
        qrels.setdefault(query_id, {})[doc_id] = score
    name = benchmark.name
    for code in native.values():
        name = name.replace(code, romanized_code(code))
    view = CLIRBenchmark.from_texts(
        name,
        queries,
        corpus,
        qrels,
        romanized_code(sides["query"]) if "query" in native else sides["query"],
        romanized_code(sides["document"]) if "document" in native else sides["document"],
        benchmark.metadata,
        titles=titles,
    )
    return mark_romanized(view, romanizer)
