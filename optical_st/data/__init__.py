"""Bitext and CLIR benchmarks: loading, validation and benchmark builders.

Everything downstream (the loss, the evaluator, the demo) receives plain :class:`datasets.Dataset`
objects with fixed columns, so this module is the one place that knows file layouts.

Bitext (:func:`load_bitext`) has the columns

=========  =========================================================================
column     content
=========  =========================================================================
id         unique per language: FLORES SIB-200 id, ``split:line`` (FLoRes v1), ``split:tuid`` (TICO-19),
           0-based line (other files) or the file's own ``id`` column
language   FLORES-200 code of the non-English side, e.g. ``npi_Deva``
english    English sentence
target     its translation
doc_id     source document (FLORES URL, NTREX/FLoRes v1 document id, TICO-19 tuid prefix); ``""`` if unknown
source     dataset name, e.g. ``flores200`` (a key of :data:`SOURCES`) or the user file's name
=========  =========================================================================

A CLIR benchmark (:class:`CLIRBenchmark`) uses the Hub/MTEB retrieval layout: ``queries``
(``_id, text, language``), ``corpus`` (``_id, title, text, language``) and ``qrels``
(``query-id, corpus-id, score``).

Example::

    >>> from optical_st.data import load_bitext, sentence_retrieval_benchmark
    >>> bitext = load_bitext("../shared/data/flores200", "ne", split="dev")  # doctest: +SKIP
    >>> len(bitext)  # doctest: +SKIP
    509
    >>> benchmark = sentence_retrieval_benchmark(bitext, "xx->eng")  # doctest: +SKIP
    >>> benchmark.relevant_docs()["npi_Deva:0"]  # doctest: +SKIP
    {'eng_Latn:0'}
"""

from optical_st.data._benchmark import (
    CORPUS_COLUMNS,
    QRELS_COLUMNS,
    QUERY_COLUMNS,
    CLIRBenchmark,
    relevant_docs,
    validate_benchmark,
)
from optical_st.data._bitext import load_bitext
from optical_st.data._builders import Direction, document_retrieval_benchmark, sentence_retrieval_benchmark
from optical_st.data._errors import (
    BenchmarkValidationError,
    BitextValidationError,
    DuplicatePairsWarning,
    HeldOutDataWarning,
)
from optical_st.data._layouts import (
    LAYOUTS,
    LAYOUTS_WITH_DOCUMENTS,
    SPLITS,
    Layout,
    detect_layout,
    is_held_out_flores_article,
)
from optical_st.data._lines import read_lines
from optical_st.data._presets import DIRECTIONS, LEVELS, bitext_benchmarks, flores_benchmarks, load_benchmarks
from optical_st.data._romanized import romanize_benchmark, romanize_bitext
from optical_st.data._romanizer import ROMANIZER_BACKENDS, Romanizer
from optical_st.data._rows import BITEXT_COLUMNS
from optical_st.data._saved import is_saved_benchmark, load_benchmark
from optical_st.data._spelling import SPELLING_RULES, SpellingRule, informal_spelling
from optical_st.data._xquad import load_xquad_r
from optical_st.sources import SOURCES

__all__ = [
    "BITEXT_COLUMNS",
    "CORPUS_COLUMNS",
    "DIRECTIONS",
    "LAYOUTS",
    "LAYOUTS_WITH_DOCUMENTS",
    "LEVELS",
    "QRELS_COLUMNS",
    "QUERY_COLUMNS",
    "ROMANIZER_BACKENDS",
    "SOURCES",
    "SPELLING_RULES",
    "SPLITS",
    "BenchmarkValidationError",
    "BitextValidationError",
    "CLIRBenchmark",
    "Direction",
    "DuplicatePairsWarning",
    "HeldOutDataWarning",
    "Layout",
    "Romanizer",
    "SpellingRule",
    "bitext_benchmarks",
    "detect_layout",
    "document_retrieval_benchmark",
    "flores_benchmarks",
    "informal_spelling",
    "is_held_out_flores_article",
    "is_saved_benchmark",
    "load_benchmark",
    "load_benchmarks",
    "load_bitext",
    "load_xquad_r",
    "read_lines",
    "relevant_docs",
    "romanize_benchmark",
    "romanize_bitext",
    "sentence_retrieval_benchmark",
    "validate_benchmark",
]
