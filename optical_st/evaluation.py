"""Cross-lingual retrieval evaluation: recall@k, MRR@10 and nDCG@10 per language and direction.

:class:`CLIREvaluator` is a sentence-transformers evaluator (pass it as ``evaluator=`` to
``SentenceTransformerTrainer`` or call it on a model) over one or many :class:`~optical_st.data.CLIRBenchmark`
objects, each a (query language -> document language) retrieval task: FLORES / NTREX / Tatoeba
sentence retrieval, document-level CLIR, or XQuAD-R question -> answer sentence.

How a number is made:

1. Each benchmark's corpus is encoded once through :class:`optical_st.search.CorpusIndex`, its queries
   with the query prompt. The prompts depend on the task (:func:`task_prompts`): translation retrieval
   (``sentence`` and ``document`` level) encodes both sides with the query prompt (e5's ``"query: "``),
   question -> passage retrieval (XQuAD-R) uses the query and document prompts (``"query: "`` /
   ``"passage: "``). The resolved prompts and the encoder of each side are recorded in every result row.
   A text shared by several benchmarks (the English side of FLORES) is encoded once per call.
2. The top ``max(k)`` documents of every query are ranked by exact inner product (FAISS for large corpora).
3. The metric arithmetic is trec_eval's, through ``pytrec_eval`` (the implementation BEIR and MTEB use),
   per query: ``recall@k``, ``mrr@10`` (reciprocal rank within the top 10) and ``ndcg@10``.
4. Means per benchmark, macro averages over all benchmarks and over the low-resource ones
   (:data:`optical_st.languages.LOW_RESOURCE` on either side), and percentile-bootstrap 95% confidence
   intervals over queries (``scipy.stats.bootstrap``; a macro interval averages the benchmarks' bootstrap
   replicates). :func:`paired_test` compares two models on the same queries (paired randomization test,
   ``scipy.stats.permutation_test``) from the per-query values the evaluator keeps.

Example::

    >>> from sentence_transformers import SentenceTransformer
    >>> from optical_st.evaluation import CLIREvaluator, flores_benchmarks
    >>> benchmarks = flores_benchmarks("shared/data/flores200", ["npi", "sin"])  # doctest: +SKIP
    >>> evaluator = CLIREvaluator(benchmarks, k_values=(1, 10))  # doctest: +SKIP
    >>> metrics = evaluator(SentenceTransformer("intfloat/multilingual-e5-small"))  # doctest: +SKIP
    >>> metrics["clir_npi_Deva->eng_Latn_recall@10"]  # doctest: +SKIP
    0.93...
    >>> print(evaluator.to_markdown())  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator
from tqdm.auto import tqdm

from optical_st.languages import ENGLISH, LOW_RESOURCE, normalize_code, parse_languages
from optical_st.search import Backend, CorpusIndex, encode_texts, model_fingerprint, resolve_prompt

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from optical_st.data import CLIRBenchmark

logger = logging.getLogger(__name__)

DEFAULT_K_VALUES: tuple[int, ...] = (1, 5, 10, 100)
DIRECTIONS: tuple[str, ...] = ("xx->eng", "eng->xx")
LEVELS: tuple[str, ...] = ("sentence", "document")
SYMMETRIC_LEVELS: tuple[str, ...] = ("sentence", "document")
"""Levels that are translation retrieval (a text finds its translation, or the article it comes from).
Both sides get the query prompt there, e5's guidance for symmetric tasks such as bitext mining; the
query/passage pair costs multilingual-e5-small 18-29 points of document-level recall@1 on Nepali
FLORES. Other levels (XQuAD-R's ``passage``: a question finds the sentence that answers it) are
query -> passage tasks and use the model's query and document prompts."""
PROMPT_FIELDS: tuple[str, ...] = ("query_prompt", "document_prompt", "query_encoder", "document_encoder")
"""Fields of every benchmark's result rows that say how its numbers were made: the prompt strings as
resolved, and who encoded each side (``"model"``, the evaluated model, or a fixed encoder's name)."""


# --------------------------------------------------------------------------------------------------
# Metric arithmetic (pytrec_eval), confidence intervals and the paired test (scipy)
# --------------------------------------------------------------------------------------------------


def metric_names(k_values: Sequence[int], mrr_at_k: int = 10, ndcg_at_k: int = 10) -> list[str]:
    """The per-query metric names the evaluator reports, e.g. ``["recall@1", ..., "mrr@10", "ndcg@10"]``."""
    return [*(f"recall@{k}" for k in k_values), f"mrr@{mrr_at_k}", f"ndcg@{ndcg_at_k}"]


def per_query_metrics(
    rankings: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    k_values: Sequence[int] = DEFAULT_K_VALUES,
    *,
    mrr_at_k: int = 10,
    ndcg_at_k: int = 10,
) -> dict[str, np.ndarray]:
    """Recall@k, MRR@``mrr_at_k`` and nDCG@``ndcg_at_k`` of every query, computed by trec_eval (pytrec_eval).

    Args:
        rankings: ``{query_id: [doc_id, ...]}``, best first (at least ``max(k_values)`` long to be exact).
        qrels: ``{query_id: {doc_id: relevance}}``, relevance > 0 for relevant documents; every query in
            ``rankings`` needs at least one relevant document.
        k_values: cut-offs for recall.
        mrr_at_k: cut-off for the reciprocal rank (0 when no relevant document is in the top ``mrr_at_k``).
        ndcg_at_k: cut-off for nDCG (graded by the qrels relevance).

    Returns:
        ``{metric_name: np.ndarray of shape (n_queries,)}`` in the order of ``rankings``.

    Example::

        >>> per_query_metrics({"q1": ["b", "a"], "q2": ["c", "d"]}, {"q1": {"a": 1}, "q2": {"c": 1}}, [1, 2],
        ...                   mrr_at_k=2, ndcg_at_k=2)["mrr@2"]
        array([0.5, 1. ])
    """
    import pytrec_eval

    query_ids = list(rankings)
    missing = [q for q in query_ids if not any(rel > 0 for rel in qrels.get(q, {}).values())]
    if missing:
        raise ValueError(
            f"{len(missing)} queries have no relevant document in the qrels, e.g. {missing[:5]}."
        )
    judged = {q: {d: int(r) for d, r in qrels[q].items()} for q in query_ids}
    # trec_eval re-sorts a run by score (ties by doc id); scores that fall with the rank keep our order.
    run = {
        q: {d: float(len(ranked) - rank) for rank, d in enumerate(ranked)} for q, ranked in rankings.items()
    }
    top_mrr = {
        q: {d: s for d, s in docs.items() if s > len(rankings[q]) - mrr_at_k} for q, docs in run.items()
    }
    ks = ",".join(str(k) for k in sorted(set(k_values)))
    main = pytrec_eval.RelevanceEvaluator(judged, {f"recall.{ks}", f"ndcg_cut.{ndcg_at_k}"}).evaluate(run)
    mrr = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"}).evaluate(top_mrr)
    values: dict[str, np.ndarray] = {}
    for k in k_values:
        values[f"recall@{k}"] = np.array([main[q][f"recall_{k}"] for q in query_ids], dtype=np.float64)
    # trec_eval leaves out queries whose run is empty; such a query scores 0.
    values[f"mrr@{mrr_at_k}"] = np.array([mrr.get(q, {}).get("recip_rank", 0.0) for q in query_ids])
    values[f"ndcg@{ndcg_at_k}"] = np.array([main[q][f"ndcg_cut_{ndcg_at_k}"] for q in query_ids])
    return values


def _rng_kwargs(function: Any, seed: int | np.random.Generator) -> dict[str, Any]:
    # scipy >= 1.15 takes ``rng``; older releases only ``random_state``.
    generator = np.random.default_rng(seed)
    name = "rng" if "rng" in inspect.signature(function).parameters else "random_state"
    return {name: generator}


def bootstrap_ci(
    values: np.ndarray, *, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile-bootstrap confidence interval of the mean over the last axis (queries).

    Args:
        values: ``(n_queries,)`` or ``(n_metrics, n_queries)`` per-query values; the same resamples of
            queries are used for every metric.
        n_resamples: bootstrap replicates.
        confidence: e.g. 0.95.
        seed: seed of the resampling.

    Returns:
        ``(low, high, replicates)`` with ``low``/``high`` shaped like ``values.mean(-1)`` and
        ``replicates`` of shape ``values.shape[:-1] + (n_resamples,)``.
    """
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    if values.shape[-1] < 2:
        mean = values.mean(-1)
        return mean, mean, np.repeat(mean[..., None], n_resamples, axis=-1)
    result = stats.bootstrap(
        (values,),
        np.mean,
        vectorized=True,
        axis=-1,
        method="percentile",
        n_resamples=n_resamples,
        confidence_level=confidence,
        **_rng_kwargs(stats.bootstrap, seed),
    )
    return (
        np.asarray(result.confidence_interval.low),
        np.asarray(result.confidence_interval.high),
        np.asarray(result.bootstrap_distribution),
    )


@dataclass
class PairedTestResult:
    """Outcome of :func:`paired_test`: model A minus model B on the same queries."""

    metric: str
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n_queries: int
    n_resamples: int
    benchmark: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_test(
    values_a: Sequence[float] | Mapping[str, Sequence[float]],
    values_b: Sequence[float] | Mapping[str, Sequence[float]],
    *,
    metric: str = "",
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedTestResult:
    """Paired randomization test (and bootstrap CI of the difference) between two models on the same queries.

    The statistic is the mean per-query difference A - B; under the null hypothesis the two models are
    exchangeable on each query, so the test flips A and B per query (``scipy.stats.permutation_test``
    with ``permutation_type="samples"``). Passing ``{benchmark: values}`` mappings tests the macro
    average instead: every benchmark weighs the same whatever its number of queries.

    Args:
        values_a: per-query values of model A (e.g. ``evaluator.per_query[key]["recall@10"]``), or
            ``{benchmark_key: values}``.
        values_b: the same for model B, same queries in the same order.
        metric: name recorded in the result.
        n_resamples: random sign flips (and bootstrap replicates).
        confidence: level of the difference's bootstrap interval.
        seed: seed of both resamplings.

    Returns:
        :class:`PairedTestResult` with a two-sided p-value.

    Example::

        >>> result = paired_test([1, 1, 1, 0, 1, 1, 1, 1], [0, 1, 0, 0, 0, 1, 0, 0], n_resamples=2000)
        >>> round(result.difference, 3), result.p_value < 0.1
        (0.625, True)
    """
    from scipy import stats

    if isinstance(values_a, Mapping) != isinstance(values_b, Mapping):
        raise TypeError("Pass both models' values as sequences, or both as {benchmark: values} mappings.")
    if isinstance(values_a, Mapping):
        if set(values_a) != set(values_b):
            raise ValueError(
                f"The two runs cover different benchmarks: {sorted(set(values_a) ^ set(values_b))}."
            )
        keys = sorted(values_a)
        a = np.concatenate([np.asarray(values_a[key], dtype=np.float64) for key in keys])
        b = np.concatenate([np.asarray(values_b[key], dtype=np.float64) for key in keys])
        sizes = [len(values_a[key]) for key in keys]
        if any(len(values_a[key]) != len(values_b[key]) for key in keys):
            raise ValueError("The two runs have different numbers of queries on some benchmark.")
        weights = np.concatenate([np.full(n, 1.0 / (n * len(keys))) for n in sizes])
    else:
        a, b = np.asarray(values_a, dtype=np.float64), np.asarray(values_b, dtype=np.float64)
        if a.shape != b.shape:
            raise ValueError(f"Paired values need the same queries: {a.shape} vs {b.shape}.")
        weights = np.full(len(a), 1.0 / max(len(a), 1))
    if len(a) == 0:
        raise ValueError("No queries to compare.")

    def weighted_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sum((x - y) * weights, axis=axis)

    difference = float(weighted_difference(a, b))
    if np.allclose(a, b):
        p_value = 1.0
    else:
        test = stats.permutation_test(
            (a, b),
            weighted_difference,
            permutation_type="samples",
            vectorized=True,
            n_resamples=n_resamples,
            alternative="two-sided",
            **_rng_kwargs(stats.permutation_test, seed),
        )
        p_value = float(test.pvalue)
    # Bootstrap the difference within each benchmark (queries resampled, weights kept per benchmark).
    generator = np.random.default_rng(seed)
    replicates = np.zeros(n_resamples)
    start = 0
    groups = sizes if isinstance(values_a, Mapping) else [len(a)]
    for n in groups:
        diff = (a - b)[start : start + n] * weights[start : start + n]
        picks = generator.integers(0, n, size=(n_resamples, n))
        replicates += diff[picks].sum(axis=1)
        start += n
    alpha = (1 - confidence) / 2
    return PairedTestResult(
        metric=metric,
        mean_a=float(np.sum(a * weights)),
        mean_b=float(np.sum(b * weights)),
        difference=difference,
        ci_low=float(np.quantile(replicates, alpha)),
        ci_high=float(np.quantile(replicates, 1 - alpha)),
        p_value=p_value,
        n_queries=len(a),
        n_resamples=n_resamples,
    )


def compare_runs(
    per_query_a: Mapping[str, Mapping[str, Sequence[Any]]],
    per_query_b: Mapping[str, Mapping[str, Sequence[Any]]],
    metric: str = "recall@10",
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> list[PairedTestResult]:
    """Paired tests of model A vs B on every benchmark both evaluated, plus the macro average.

    Args:
        per_query_a: ``evaluator.per_query`` after evaluating model A (or the ``"per_query"`` entry of
            its JSON file), ``{benchmark_key: {"query_ids": [...], metric: [...]}}``.
        per_query_b: the same for model B.
        metric: which metric to compare.

    Returns:
        One :class:`PairedTestResult` per shared benchmark, then one with ``benchmark="macro"``.

    Raises:
        ValueError: when no benchmark is shared, or a shared benchmark's query ids differ.
    """
    shared = [key for key in per_query_a if key in per_query_b]
    if not shared:
        raise ValueError("The two runs share no benchmark.")
    results, macro_a, macro_b = [], {}, {}
    for key in shared:
        ids_a, ids_b = list(per_query_a[key]["query_ids"]), list(per_query_b[key]["query_ids"])
        if ids_a != ids_b:
            raise ValueError(f"Benchmark {key!r}: the two runs were evaluated on different queries.")
        if metric not in per_query_a[key] or metric not in per_query_b[key]:
            raise ValueError(f"Metric {metric!r} missing for benchmark {key!r}.")
        macro_a[key], macro_b[key] = per_query_a[key][metric], per_query_b[key][metric]
        result = paired_test(macro_a[key], macro_b[key], metric=metric, n_resamples=n_resamples, seed=seed)
        result.benchmark = key
        results.append(result)
    macro = paired_test(macro_a, macro_b, metric=metric, n_resamples=n_resamples, seed=seed)
    macro.benchmark = "macro"
    results.append(macro)
    return results


# --------------------------------------------------------------------------------------------------
# Prompts: task-dependent defaults, resolved once per benchmark and recorded with the results
# --------------------------------------------------------------------------------------------------


def task_prompts(
    level: str,
    query_encoder: SentenceTransformer,
    document_encoder: SentenceTransformer,
    *,
    query_prompt: str | None = None,
    document_prompt: str | None = None,
    query_prompt_name: str | None = None,
    document_prompt_name: str | None = None,
) -> tuple[str, str]:
    """The query and document prompt strings for a benchmark of ``level``, as the encoders will prepend them.

    Explicit prompts (or prompt names) win. Otherwise queries get the query encoder's ``"query"``
    prompt, and documents get the document encoder's ``"query"`` prompt too on translation retrieval
    (:data:`SYMMETRIC_LEVELS`: with an explicit query prompt, that prompt) or its document prompt
    (``"document"``/``"passage"``/``"corpus"``) on query -> passage tasks.

    Example::

        >>> task_prompts("sentence", e5, e5)  # doctest: +SKIP
        ('query: ', 'query: ')
        >>> task_prompts("passage", e5, e5)  # doctest: +SKIP
        ('query: ', 'passage: ')
    """
    query = resolve_prompt(query_encoder, "query", query_prompt, query_prompt_name)
    if document_prompt is not None or document_prompt_name is not None or level not in SYMMETRIC_LEVELS:
        document = resolve_prompt(document_encoder, "document", document_prompt, document_prompt_name)
    else:
        document = resolve_prompt(document_encoder, "query", query_prompt, query_prompt_name)
    return query, document


def describe_prompts(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per distinct prompt setting in result rows (benchmark rows carry :data:`PROMPT_FIELDS`).

    Example::

        >>> describe_prompts([{"key": "npi_Deva->eng_Latn", "query_language": "npi_Deva",
        ...                    "query_prompt": "query: ", "document_prompt": "query: ",
        ...                    "query_encoder": "model", "document_encoder": "model"}])
        ['prompts: queries "query: ", documents "query: " (the evaluated model encodes both sides)']
    """
    groups: dict[tuple, list[str]] = {}
    for row in rows:
        if row.get("query_language") == "*" or "query_prompt" not in row:
            continue
        keys = groups.setdefault(tuple(row.get(name) for name in PROMPT_FIELDS), [])
        if row.get("key", row.get("benchmark")) not in keys:
            keys.append(row.get("key", row.get("benchmark")))
    lines = []
    for (query, document, query_encoder, document_encoder), keys in groups.items():
        if query_encoder == document_encoder:
            who = "the evaluated model" if query_encoder == "model" else query_encoder
            encoders = f"{who} encodes both sides"
        else:
            names = ["the evaluated model" if e == "model" else e for e in (query_encoder, document_encoder)]
            encoders = f"queries encoded by {names[0]}, documents by {names[1]}"
        scope = f": {', '.join(keys)}" if len(groups) > 1 else ""
        lines.append(
            f"prompts: queries {json.dumps(query)}, documents {json.dumps(document)} ({encoders}){scope}"
        )
    return lines


# --------------------------------------------------------------------------------------------------
# The evaluator
# --------------------------------------------------------------------------------------------------


@dataclass
class _PreparedBenchmark:
    benchmark: Any
    key: str
    level: str
    query_ids: list[str]
    query_texts: list[str]
    corpus_ids: list[str]
    corpus_texts: list[str]
    qrels: dict[str, dict[str, int]] = field(repr=False)
    prompts: dict[str, str] = field(default_factory=dict)  # PROMPT_FIELDS of the last call

    @property
    def dataset(self) -> dict[str, str]:
        """``dataset_id``/``dataset_config`` of a benchmark loaded from the Hub (what its rows link to)."""
        metadata = getattr(self.benchmark, "metadata", None) or {}
        return {name: metadata[name] for name in ("dataset_id", "dataset_config") if metadata.get(name)}

    @property
    def low_resource(self) -> bool:
        languages = (self.benchmark.query_language, self.benchmark.document_language)
        return any(language in LOW_RESOURCE for language in languages)


def _prepare(benchmark: Any, include_titles: bool) -> tuple[list[str], list[str], list[str], list[str], dict]:
    name = getattr(benchmark, "name", "?")
    queries, corpus, qrels_rows = benchmark.queries, benchmark.corpus, benchmark.qrels
    query_ids = [str(i) for i in queries["_id"]]
    query_texts = list(queries["text"])
    corpus_ids = [str(i) for i in corpus["_id"]]
    corpus_texts = list(corpus["text"])
    if include_titles and "title" in corpus.column_names:
        corpus_texts = [
            f"{t} {x}".strip() if t else x for t, x in zip(corpus["title"], corpus_texts, strict=True)
        ]
    if not query_ids:
        raise ValueError(f"Benchmark {name!r} has no queries.")
    if not corpus_ids:
        raise ValueError(f"Benchmark {name!r} has an empty corpus.")
    for kind, ids in (("query", query_ids), ("document", corpus_ids)):
        if len(set(ids)) != len(ids):
            raise ValueError(
                f"Benchmark {name!r} repeats {kind} ids, e.g. {sorted({i for i in ids if ids.count(i) > 1})[:5]}."
            )
    qrels: dict[str, dict[str, int]] = {}
    for query_id, corpus_id, score in zip(
        qrels_rows["query-id"], qrels_rows["corpus-id"], qrels_rows["score"], strict=False
    ):
        if int(score) > 0:
            qrels.setdefault(str(query_id), {})[str(corpus_id)] = int(score)
    without = [q for q in query_ids if q not in qrels]
    if without:
        raise ValueError(
            f"Benchmark {name!r}: {len(without)} of {len(query_ids)} queries have no relevant document in the "
            f"qrels, e.g. {without[:5]}; every query needs at least one (score > 0)."
        )
    known = set(corpus_ids)
    unknown = sorted({d for docs in qrels.values() for d in docs if d not in known})
    if unknown:
        raise ValueError(f"Benchmark {name!r}: qrels name documents not in the corpus, e.g. {unknown[:5]}.")
    return query_ids, query_texts, corpus_ids, corpus_texts, {q: qrels[q] for q in query_ids}


def _benchmark_keys(benchmarks: Sequence[Any]) -> list[str]:
    """``npi_Deva->eng_Latn`` for sentence level, ``npi_Deva->eng_Latn_document`` otherwise; names break ties."""
    keys = []
    for benchmark in benchmarks:
        key = f"{benchmark.query_language}->{benchmark.document_language}"
        level = (getattr(benchmark, "metadata", None) or {}).get("level", "sentence")
        keys.append(key if level == "sentence" else f"{key}_{level}")
    for key in set(keys):
        clashing = [i for i, other in enumerate(keys) if other == key]
        if len(clashing) > 1:
            for i in clashing:
                keys[i] = f"{benchmarks[i].name}_{key}"
    if len(set(keys)) != len(keys):
        raise ValueError("Benchmarks for the same language pair and level need distinct names.")
    return keys


class CLIREvaluator(SentenceEvaluator):
    """Recall@k, MRR@10 and nDCG@10 of a model on cross-lingual retrieval benchmarks, with confidence intervals.

    Works as ``evaluator=`` in ``SentenceTransformerTrainer`` / ``model.fit`` and standalone
    (``evaluator(model)``). Each benchmark is one (query language -> document language) task.

    Args:
        benchmarks: :class:`~optical_st.data.CLIRBenchmark` objects (``queries``, ``corpus``, ``qrels``
            datasets in the MTEB layout, plus ``query_language``, ``document_language``, ``metadata["level"]``).
        k_values: recall cut-offs; each must be at most the corpus size of every benchmark. Default:
            those of ``DEFAULT_K_VALUES`` (1, 5, 10, 100) that the smallest corpus allows.
        name: prefix of every metric key.
        mrr_at_k: cut-off of MRR; default 10, or less when the largest of ``k_values`` or the smallest
            corpus is smaller.
        ndcg_at_k: cut-off of nDCG; the same default.
        query_prompt: explicit query prompt (e.g. ``"query: "``); default: the model's saved ``"query"`` prompt.
        document_prompt: explicit document prompt (e.g. ``"passage: "``); default depends on the task
            (:func:`task_prompts`): the query prompt on translation retrieval (``sentence``/``document``
            level, :data:`SYMMETRIC_LEVELS`), the model's saved ``"document"``/``"passage"``/``"corpus"``
            prompt on query -> passage tasks (XQuAD-R).
        query_prompt_name: name of one of the model's prompts, for queries.
        document_prompt_name: the same for documents.
        batch_size: encoding batch size.
        show_progress_bar: tqdm bars (default: when logging at INFO or below).
        cache_dir: on-disk embedding cache (see :class:`~optical_st.search.CorpusIndex`); off by default,
            because during training the weights change between calls.
        backend: search backend, ``"auto"``, ``"exact"`` or ``"faiss"``.
        n_bootstrap: bootstrap replicates for the confidence intervals (0 disables them).
        confidence: confidence level of the intervals.
        seed: seed of the bootstrap.
        low_resource: the languages whose benchmarks form the ``low_macro`` average.
        primary_metric: metric used for model selection, without the name prefix (default:
            ``low_macro_recall@10`` when a low-resource benchmark is present, else ``macro_recall@10``).
        include_titles: prepend the corpus ``title`` column to the document text (MTEB convention).
        write_json: write ``<name>_results.json`` and ``<name>_results.md`` under ``output_path``.
        language_encoders: ``{language: model}``: texts in these languages (queries or documents) are
            encoded by the given, fixed model instead of the evaluated one. OPTICAL's inference setup is
            ``{"eng": teacher}``: the distilled student encodes the low-resource side, the frozen teacher
            the English side, so query-document matching stays in the teacher. Default: the evaluated
            model encodes both sides.

    Attributes:
        results (list[dict]): tidy rows of the last call: ``benchmark``, ``key``, ``query_language``,
            ``document_language``, ``level``, ``metric``, ``k``, ``value``, ``ci_low``, ``ci_high``, ``n_queries``;
            a benchmark's rows also carry :data:`PROMPT_FIELDS` (the prompts as resolved and the encoder of
            each side) and, for a benchmark loaded from the Hub, ``dataset_id`` and ``dataset_config``.
        per_query (dict): ``{benchmark_key: {"query_ids": [...], "recall@10": [...], ...}}`` of the last
            call, the input of :func:`compare_runs`.

    Returned metrics (flat dict) look like ``clir_npi_Deva->eng_Latn_recall@10``,
    ``clir_npi_Deva->eng_Latn_document_mrr@10``, ``clir_macro_recall@10``, ``clir_low_macro_ndcg@10``
    and, with several levels, ``clir_document_macro_recall@10``.

    Raises:
        ValueError: no benchmarks, a query without relevant documents, qrels naming unknown documents,
            or a k larger than a corpus.

    Example::

        >>> evaluator = CLIREvaluator(flores_benchmarks(data_dir, "low"))  # doctest: +SKIP
        >>> trainer = SentenceTransformerTrainer(model=student, evaluator=evaluator, ...)  # doctest: +SKIP
    """

    def __init__(
        self,
        benchmarks: Iterable[CLIRBenchmark],
        k_values: Sequence[int] | None = None,
        name: str = "clir",
        *,
        mrr_at_k: int | None = None,
        ndcg_at_k: int | None = None,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        query_prompt_name: str | None = None,
        document_prompt_name: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        cache_dir: str | Path | None = None,
        backend: Backend = "auto",
        n_bootstrap: int = 1000,
        confidence: float = 0.95,
        seed: int = 0,
        low_resource: Iterable[str] = LOW_RESOURCE,
        primary_metric: str | None = None,
        include_titles: bool = False,
        write_json: bool = True,
        language_encoders: Mapping[str, SentenceTransformer] | None = None,
    ) -> None:
        super().__init__()
        benchmarks = list(benchmarks)
        if not benchmarks:
            raise ValueError("CLIREvaluator needs at least one benchmark (got an empty list).")
        prepared = [_prepare(benchmark, include_titles) for benchmark in benchmarks]
        smallest = min(len(corpus_ids) for _, _, corpus_ids, _, _ in prepared)
        if k_values is None:  # the defaults the smallest corpus allows (1 always fits)
            k_values = [k for k in DEFAULT_K_VALUES if k <= smallest]
        k_values = sorted({int(k) for k in k_values})
        if not k_values or k_values[0] < 1:
            raise ValueError(f"k_values must be positive integers, got {k_values}.")
        # MRR/nDCG: at most 10, never deeper than the recall cut-offs asked for or the smallest corpus
        default_depth = min(10, k_values[-1], smallest)
        self.k_values = k_values
        self.mrr_at_k = default_depth if mrr_at_k is None else int(mrr_at_k)
        self.ndcg_at_k = default_depth if ndcg_at_k is None else int(ndcg_at_k)
        self.depth = max(*k_values, self.mrr_at_k, self.ndcg_at_k)
        self.name = name
        self.query_prompt, self.document_prompt = query_prompt, document_prompt
        self.query_prompt_name, self.document_prompt_name = query_prompt_name, document_prompt_name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.backend = backend
        self.n_bootstrap, self.confidence, self.seed = int(n_bootstrap), float(confidence), int(seed)
        self.low_resource = {normalize_code(code) for code in low_resource}
        self.include_titles = include_titles
        self.write_json = write_json
        self.language_encoders = {
            normalize_code(code): encoder for code, encoder in (language_encoders or {}).items()
        }
        self.metrics = metric_names(k_values, self.mrr_at_k, self.ndcg_at_k)

        self.benchmarks: list[_PreparedBenchmark] = []
        for benchmark, key, parts in zip(benchmarks, _benchmark_keys(benchmarks), prepared, strict=True):
            query_ids, query_texts, corpus_ids, corpus_texts, qrels = parts
            if self.depth > len(corpus_ids):
                raise ValueError(
                    f"k={self.depth} is larger than the corpus of benchmark {benchmark.name!r} "
                    f"({len(corpus_ids)} documents); use k_values (and mrr_at_k/ndcg_at_k) <= {len(corpus_ids)}."
                )
            level = (getattr(benchmark, "metadata", None) or {}).get("level", "sentence")
            self.benchmarks.append(
                _PreparedBenchmark(
                    benchmark, key, level, query_ids, query_texts, corpus_ids, corpus_texts, qrels
                )
            )
        self.levels = list(dict.fromkeys(b.level for b in self.benchmarks))
        has_low = any(self._is_low(b) for b in self.benchmarks)
        default_k = 10 if 10 in k_values else k_values[-1]
        self.primary_metric = primary_metric or f"{'low_macro' if has_low else 'macro'}_recall@{default_k}"
        self.greater_is_better = True
        self.results: list[dict[str, Any]] = []
        self.per_query: dict[str, dict[str, list]] = {}

    def _is_low(self, prepared: _PreparedBenchmark) -> bool:
        benchmark = prepared.benchmark
        return (
            benchmark.query_language in self.low_resource or benchmark.document_language in self.low_resource
        )

    def __call__(
        self, model: SentenceTransformer, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Evaluate ``model`` on every benchmark; returns the flat metric dict (keys prefixed with ``name``)."""
        show = self.show_progress_bar
        if show is None:
            show = logger.getEffectiveLevel() <= logging.INFO
        # One memo (and cache fingerprint) per encoder: the memo is keyed by (prompt, text) only.
        contexts: dict[int, dict[str, Any]] = {}

        def encoding_options(encoder: SentenceTransformer) -> dict[str, Any]:
            if id(encoder) not in contexts:
                contexts[id(encoder)] = {
                    "batch_size": self.batch_size,
                    "show_progress_bar": show,
                    "cache_dir": self.cache_dir,
                    "memo": {},
                    "fingerprint": model_fingerprint(encoder) if self.cache_dir is not None else None,
                }
            return contexts[id(encoder)]

        per_benchmark: list[tuple[_PreparedBenchmark, dict[str, np.ndarray]]] = []
        for prepared in tqdm(
            self.benchmarks, desc="CLIR benchmarks", disable=not show or len(self.benchmarks) < 2
        ):
            benchmark = prepared.benchmark
            document_encoder = self.language_encoders.get(benchmark.document_language, model)
            query_encoder = self.language_encoders.get(benchmark.query_language, model)
            query_prompt, document_prompt = task_prompts(
                prepared.level,
                query_encoder,
                document_encoder,
                query_prompt=self.query_prompt,
                document_prompt=self.document_prompt,
                query_prompt_name=self.query_prompt_name,
                document_prompt_name=self.document_prompt_name,
            )
            prepared.prompts = {
                "query_prompt": query_prompt,
                "document_prompt": document_prompt,
                "query_encoder": self._encoder_label(query_encoder, model),
                "document_encoder": self._encoder_label(document_encoder, model),
            }
            index = CorpusIndex(
                document_encoder,
                prepared.corpus_texts,
                prepared.corpus_ids,
                prompt=document_prompt,
                backend=self.backend,
                **encoding_options(document_encoder),
            )
            query_embeddings = encode_texts(
                query_encoder,
                prepared.query_texts,
                role="query",
                prompt=query_prompt,
                **encoding_options(query_encoder),
            )
            if query_embeddings.shape[1] != index.dim:
                raise ValueError(
                    f"{prepared.key}: query embeddings have dimension {query_embeddings.shape[1]} but "
                    f"document embeddings {index.dim}; the encoders in language_encoders "
                    "must produce embeddings in the evaluated model's space."
                )
            _, indices = index.search_embeddings(query_embeddings, self.depth)
            rankings = {
                query_id: [prepared.corpus_ids[i] for i in row]
                for query_id, row in zip(prepared.query_ids, indices, strict=True)
            }
            values = per_query_metrics(
                rankings, prepared.qrels, self.k_values, mrr_at_k=self.mrr_at_k, ndcg_at_k=self.ndcg_at_k
            )
            per_benchmark.append((prepared, values))

        metrics = self._summarise(per_benchmark)
        if output_path is not None and self.write_json:
            self.save(output_path, epoch=epoch, steps=steps, model=model)
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def _encoder_label(self, encoder: SentenceTransformer, model: SentenceTransformer) -> str:
        if encoder is model:
            return "model"
        return next(
            (_model_label(e) or code for code, e in self.language_encoders.items() if e is encoder), "?"
        )

    def _summarise(
        self, per_benchmark: list[tuple[_PreparedBenchmark, dict[str, np.ndarray]]]
    ) -> dict[str, float]:
        metrics: dict[str, float] = {}
        rows: list[dict[str, Any]] = []
        self.per_query = {}
        replicates: dict[str, np.ndarray] = {}
        for position, (prepared, values) in enumerate(per_benchmark):
            matrix = np.stack([values[m] for m in self.metrics])
            means = matrix.mean(axis=1)
            if self.n_bootstrap > 0:
                low, high, reps = bootstrap_ci(
                    matrix,
                    n_resamples=self.n_bootstrap,
                    confidence=self.confidence,
                    seed=self.seed + position,
                )
                replicates[prepared.key] = reps
            else:
                low = high = np.full(len(self.metrics), np.nan)
            benchmark = prepared.benchmark
            for i, metric in enumerate(self.metrics):
                metrics[f"{prepared.key}_{metric}"] = float(means[i])
                row = self._row(
                    benchmark.name,
                    prepared.key,
                    benchmark.query_language,
                    benchmark.document_language,
                    prepared.level,
                    metric,
                    means[i],
                    low[i],
                    high[i],
                    len(prepared.query_ids),
                )
                rows.append({**row, **prepared.prompts, **prepared.dataset})
            self.per_query[prepared.key] = {
                "query_ids": list(prepared.query_ids),
                **{m: values[m].tolist() for m in self.metrics},
            }

        groups: list[tuple[str, str, list[_PreparedBenchmark]]] = [
            ("macro", "all", [p for p, _ in per_benchmark])
        ]
        groups.append(("low_macro", "all", [p for p, _ in per_benchmark if self._is_low(p)]))
        if len(self.levels) > 1:
            for level in self.levels:
                members = [p for p, _ in per_benchmark if p.level == level]
                groups.append((f"{level}_macro", level, members))
                groups.append((f"{level}_low_macro", level, [p for p in members if self._is_low(p)]))
        means_by_key = {p.key: {m: metrics[f"{p.key}_{m}"] for m in self.metrics} for p, _ in per_benchmark}
        for label, level, members in groups:
            if not members:
                continue
            for i, metric in enumerate(self.metrics):
                value = float(np.mean([means_by_key[p.key][metric] for p in members]))
                metrics[f"{label}_{metric}"] = value
                if replicates:
                    macro_replicates = np.mean([replicates[p.key][i] for p in members], axis=0)
                    alpha = (1 - self.confidence) / 2
                    low, high = np.quantile(macro_replicates, [alpha, 1 - alpha])
                else:
                    low = high = np.nan
                n_queries = sum(len(p.query_ids) for p in members)
                rows.append(
                    self._row(
                        label, label, "*", "*", level, metric, value, low, high, n_queries, len(members)
                    )
                )
        self.results = rows
        return metrics

    @staticmethod
    def _row(
        benchmark: str,
        key: str,
        query_language: str,
        document_language: str,
        level: str,
        metric: str,
        value: float,
        ci_low: float,
        ci_high: float,
        n_queries: int,
        n_benchmarks: int = 1,
    ) -> dict[str, Any]:
        kind, k = metric.split("@")
        return {
            "benchmark": benchmark,
            "key": key,
            "query_language": query_language,
            "document_language": document_language,
            "level": level,
            "metric": kind,
            "k": int(k),
            "value": float(value),
            "ci_low": float(ci_low),
            "ci_high": float(ci_high),
            "n_queries": int(n_queries),
            "n_benchmarks": int(n_benchmarks),
        }

    # ---------------------------------------------------------------------------------------------
    # Output
    # ---------------------------------------------------------------------------------------------

    def to_markdown(self, metrics: Sequence[str] | None = None, *, confidence_intervals: bool = False) -> str:
        """The last results as a markdown table: one row per benchmark (then the macro rows), one column per metric."""
        return results_to_markdown(self.results, metrics, confidence_intervals=confidence_intervals)

    def save(
        self,
        output_path: str | Path,
        *,
        epoch: int = -1,
        steps: int = -1,
        model: SentenceTransformer | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write the last results to ``<output_path>/<name>_results[_e<epoch>_s<steps>].json`` and ``.md``.

        An ``output_path`` ending in ``.json`` is used as the file name itself (the table goes next to it).
        """
        if not self.results:
            raise ValueError("Nothing to save yet: call the evaluator on a model first.")
        if Path(output_path).suffix == ".json":
            directory, stem = Path(output_path).parent, Path(output_path).stem
        else:
            directory = Path(output_path)
            suffix = "" if epoch == -1 and steps == -1 else f"_e{epoch}_s{steps}"
            stem = f"{self.name or 'clir'}_results{suffix}"
        directory.mkdir(parents=True, exist_ok=True)
        metrics = {}
        for row in self.results:
            metrics[f"{row['key']}_{row['metric']}@{row['k']}"] = row["value"]
        payload = {
            "evaluator": type(self).__name__,
            "name": self.name,
            "model": _model_label(model) if model is not None else None,
            "epoch": epoch,
            "steps": steps,
            "config": self.get_config_dict(),
            "benchmarks": [
                {
                    "key": p.key,
                    "name": p.benchmark.name,
                    "query_language": p.benchmark.query_language,
                    "document_language": p.benchmark.document_language,
                    "level": p.level,
                    "n_queries": len(p.query_ids),
                    "n_documents": len(p.corpus_ids),
                    **p.prompts,
                    "metadata": _jsonable(getattr(p.benchmark, "metadata", {}) or {}),
                }
                for p in self.benchmarks
            ],
            "metrics": {f"{self.name}_{k}" if self.name else k: v for k, v in metrics.items()},
            "results": self.results,
            **(dict(extra) if extra else {}),
        }
        # Strict JSON: an interval not computed (n_bootstrap=0) is null, not NaN, which parsers reject.
        payload = _finite_or_none(payload)
        # Per-query values (what a later paired test needs) go on one compact line per benchmark.
        per_query = ",\n".join(
            f"  {json.dumps(key)}: {json.dumps(_finite_or_none(_rounded(values)), separators=(',', ':'), allow_nan=False)}"
            for key, values in self.per_query.items()
        )
        text = (
            json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False)[:-2]
            + ',\n "per_query": {\n'
            + per_query
            + "\n }\n}\n"
        )
        path = directory / f"{stem}.json"
        path.write_text(text, encoding="utf-8")
        (directory / f"{stem}.md").write_text(
            self.to_markdown(confidence_intervals=True) + "\n", encoding="utf-8"
        )
        return path

    def get_config_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "k_values": self.k_values,
            "mrr_at_k": self.mrr_at_k,
            "ndcg_at_k": self.ndcg_at_k,
            "n_bootstrap": self.n_bootstrap,
            "confidence": self.confidence,
            "seed": self.seed,
        }
        for key in ("query_prompt", "document_prompt", "query_prompt_name", "document_prompt_name"):
            if getattr(self, key) is not None:
                config[key] = getattr(self, key)
        if self.language_encoders:
            config["language_encoders"] = {
                code: _model_label(encoder) for code, encoder in self.language_encoders.items()
            }
        return config


def _model_label(model: Any) -> str | None:
    source = getattr(model, "optical_st_source", None)  # what the user asked optical_st.pretrained for
    if getattr(source, "requested", None):
        return str(source.requested)
    card = getattr(model, "model_card_data", None)
    for candidate in (getattr(card, "model_id", None), getattr(card, "base_model", None)):
        if candidate:
            return str(candidate)
    return getattr(model, "name_or_path", None) or getattr(
        getattr(model, "tokenizer", None), "name_or_path", None
    )


def _rounded(values: Mapping[str, list]) -> dict[str, list]:
    def compact(value: Any) -> Any:
        if isinstance(value, float):
            return int(value) if value.is_integer() else round(value, 6)
        return value

    return {key: [compact(v) for v in column] for key, column in values.items()}


def _finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    return value


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def results_to_markdown(
    rows: Sequence[Mapping[str, Any]],
    metrics: Sequence[str] | None = None,
    *,
    confidence_intervals: bool = False,
    digits: int = 1,
) -> str:
    """Render tidy result rows (``evaluator.results`` or the JSON's ``"results"``) as a markdown table.

    Values are shown in percent. The table is headed by the prompts that produced it
    (:func:`describe_prompts`), when the rows record them. Args:
        rows: tidy rows.
        metrics: columns such as ``["recall@1", "recall@10"]`` (default: all metrics in the rows).
        confidence_intervals: append ``[low, high]`` to every cell.
        digits: decimals.
    """
    if not rows:
        raise ValueError("No result rows to render.")
    available = list(dict.fromkeys(f"{row['metric']}@{row['k']}" for row in rows))
    metrics = list(metrics) if metrics else available
    unknown = [m for m in metrics if m not in available]
    if unknown:
        raise ValueError(f"Metrics {unknown} are not in the results; available: {available}.")
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = table.setdefault(row["key"], {"row": row, "cells": {}})
        value = 100 * row["value"]
        cell = f"{value:.{digits}f}"
        # no interval: NaN in memory, null in a saved JSON file (n_bootstrap=0)
        if confidence_intervals and row["ci_low"] is not None and not np.isnan(row["ci_low"]):
            cell += f" [{100 * row['ci_low']:.{digits}f}, {100 * row['ci_high']:.{digits}f}]"
        entry["cells"][f"{row['metric']}@{row['k']}"] = cell
    header = ["benchmark", "query", "documents", "level", "queries", *metrics]
    prompts = describe_prompts(rows)
    lines = [*prompts, *([""] if prompts else [])]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for key, entry in table.items():
        row = entry["row"]
        label = key if row["query_language"] != "*" else f"**{key}** ({row['n_benchmarks']} benchmarks)"
        first = [label, row["query_language"], row["document_language"], row["level"], str(row["n_queries"])]
        lines.append("| " + " | ".join(first + [entry["cells"].get(m, "") for m in metrics]) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Standard benchmarks from data folders (the presets the CLI, training and scaling use)
# --------------------------------------------------------------------------------------------------


def _parse_choice(values: str | Iterable[str], valid: Sequence[str], what: str) -> list[str]:
    items = (
        [v.strip() for v in values.split(",")]
        if isinstance(values, str)
        else [str(v).strip() for v in values]
    )
    items = [v for v in items if v]
    if not items:
        raise ValueError(f"Empty {what} list: choose from {', '.join(valid)}.")
    unknown = [v for v in items if v.replace(" ", "") not in valid]
    if unknown:
        raise ValueError(f"Unknown {what} {unknown[0]!r}: choose from {', '.join(valid)}.")
    return list(dict.fromkeys(v.replace(" ", "") for v in items))


def bitext_benchmarks(
    source: str | Path,
    languages: str | Iterable[str] = "all",
    *,
    directions: str | Iterable[str] = DIRECTIONS,
    levels: str | Iterable[str] = ("sentence",),
    split: str | Iterable[str] | None = None,
    dedupe: bool = False,
) -> list[CLIRBenchmark]:
    """Sentence- and/or document-level retrieval benchmarks for every language of a bitext source.

    Args:
        source: anything :func:`optical_st.data.load_bitext` reads: a ``../shared/data`` folder
            (``flores200``, ``ntrex128``, ``tatoeba_laser``, ...), a user file, or a Hub dataset id.
        languages: ``"npi,sin"``, a tier (``"low"``), ``"all"`` (every language the source has) or a list.
            Named languages the source lacks are an error; ``all`` and tiers keep what is there.
        directions: ``"xx->eng"`` (queries in the South Asian language) and/or ``"eng->xx"``.
        levels: ``"sentence"`` (retrieve the translation) and/or ``"document"`` (retrieve the article the
            sentence comes from; needs ``doc_id``, e.g. FLORES URLs or NTREX document ids).
        split: split(s) to load (e.g. ``"dev"`` of flores200); default all.
        dedupe: drop repeated identical pairs first.

    Returns:
        Benchmarks ordered by language, then level, then direction.

    Example::

        >>> benchmarks = bitext_benchmarks("shared/data/ntrex128", "low", levels="sentence,document")  # doctest: +SKIP
    """
    from optical_st.data import document_retrieval_benchmark, load_bitext, sentence_retrieval_benchmark

    directions = _parse_choice(directions, DIRECTIONS, "direction")
    levels = _parse_choice(levels, LEVELS, "level")
    codes = parse_languages(languages)  # raises on an empty list
    named = not (isinstance(languages, str) and languages.strip().casefold() in ("all", "low", "mid", "high"))
    bitext = load_bitext(source, codes if named else None, split=split, dedupe=dedupe)
    present = set(bitext["language"])
    selected = [code for code in codes if code in present]
    if not selected:
        raise ValueError(f"{source}: none of the languages {codes} is present (found {sorted(present)}).")
    builders = {"sentence": sentence_retrieval_benchmark, "document": document_retrieval_benchmark}
    all_languages = bitext["language"]
    benchmarks = []
    for code in selected:
        rows = [i for i, language in enumerate(all_languages) if language == code]
        subset = bitext.select(rows)
        for level in levels:
            for direction in directions:
                benchmarks.append(builders[level](subset, direction))
    return benchmarks


def flores_benchmarks(
    data_dir: str | Path,
    languages: str | Iterable[str] = "all",
    *,
    directions: str | Iterable[str] = DIRECTIONS,
    levels: str | Iterable[str] = LEVELS,
    split: str | Iterable[str] | None = None,
) -> list[CLIRBenchmark]:
    """The standard FLORES-200 benchmarks: sentence and document level, both directions, per language.

    Args:
        data_dir: a ``flores200`` folder (``{language}.txt`` + ``metadata.tsv``), e.g. ``shared/data/flores200``.
        languages: ``"npi,sin"``, ``"low"``, ``"all"`` or a list (see :func:`optical_st.languages.parse_languages`).
        directions: ``"xx->eng"``, ``"eng->xx"`` or both (default).
        levels: ``"sentence"``, ``"document"`` (sentences grouped into articles by URL) or both (default).
        split: ``"dev"`` or ``"devtest"``; default both (1,040 sentences, 342 articles).

    Example::

        >>> benchmarks = flores_benchmarks("shared/data/flores200", "npi,sin", levels="sentence")  # doctest: +SKIP
        >>> [b.name for b in benchmarks]  # doctest: +SKIP
        ['flores200-sentence-npi_Deva-eng_Latn', 'flores200-sentence-eng_Latn-npi_Deva', ...]
    """
    from optical_st.data import detect_layout

    if not Path(data_dir).is_dir():
        raise FileNotFoundError(f"FLORES folder not found: {data_dir}")
    layout = detect_layout(data_dir)
    if layout != "flores200":
        raise ValueError(f"{data_dir} is a {layout} folder, not flores200 ({{language}}.txt + metadata.tsv).")
    return bitext_benchmarks(data_dir, languages, directions=directions, levels=levels, split=split)


def load_benchmarks(
    spec: str | Path,
    languages: str | Iterable[str] = "all",
    *,
    directions: str | Iterable[str] = DIRECTIONS,
    levels: str | Iterable[str] | None = None,
    split: str | Iterable[str] | None = None,
    query_language: str | None = None,
    document_language: str | None = None,
) -> list[CLIRBenchmark]:
    """Benchmarks from one specification, as the ``--benchmark`` option of ``optical-st evaluate`` takes it.

    ``spec`` is one of

    * a bitext folder (``flores200``, ``ntrex128``, ``tatoeba_laser``, ``floresv1_ne_si``, ``tico19``, ...):
      :func:`bitext_benchmarks` for ``languages``; ``levels`` defaults to sentence and document where
      the source has documents (flores200, ntrex128), else sentence;
    * an XQuAD-R folder: question -> answer sentence, Hindi questions / English sentences (``xx->eng``)
      and the reverse (``eng->xx``);
    * a folder written by :meth:`CLIRBenchmark.save` (or an MTEB-style folder), or a folder of such folders;
      ``query_language``/``document_language`` name the sides when its files have no language column;
    * a Hub dataset id (``user/name``) in that layout;
    * a bitext file (TSV/CSV/JSONL/Parquet, see :func:`optical_st.data.load_bitext`): sentence retrieval.

    Raises:
        FileNotFoundError: for a path that does not exist and is not a Hub id.
        ValueError: for an empty language list or a source without the requested languages.
    """
    from optical_st.data import detect_layout, load_benchmark, load_xquad_r

    path = Path(spec).expanduser()
    codes = parse_languages(languages)
    sides = {"query_language": query_language, "document_language": document_language}
    if not path.exists():
        if isinstance(spec, str) and spec.count("/") == 1 and not spec.startswith((".", "/", "~")):
            return [load_benchmark(spec, **sides)]
        raise FileNotFoundError(f"Benchmark folder not found (and not a Hub id user/name): {spec}")
    if path.is_file():
        return bitext_benchmarks(
            path, languages, directions=directions, levels=levels or ("sentence",), split=split
        )
    if _is_saved_benchmark(path):
        benchmark = load_benchmark(path, **sides)
        if benchmark.query_language not in codes and benchmark.document_language not in codes:
            raise ValueError(
                f"{path} is a {benchmark.query_language}->{benchmark.document_language} benchmark, "
                f"not one of the languages {codes}."
            )
        return [benchmark]
    if path.is_dir():
        children = sorted(child for child in path.iterdir() if child.is_dir() and _is_saved_benchmark(child))
        if children:
            loaded = [load_benchmark(child, **sides) for child in children]
            kept = [b for b in loaded if b.query_language in codes or b.document_language in codes]
            if not kept:
                found = sorted({f"{b.query_language}->{b.document_language}" for b in loaded})
                raise ValueError(f"{path}: no saved benchmark for the languages {codes} (found {found}).")
            return kept
    layout = detect_layout(path)
    directions = _parse_choice(directions, DIRECTIONS, "direction")
    if layout == "xquad_r":
        if "hin_Deva" not in codes:
            raise ValueError(f"{path} (XQuAD-R) has Hindi only; the languages asked for were {codes}.")
        pairs = {"xx->eng": ("hin_Deva", ENGLISH), "eng->xx": (ENGLISH, "hin_Deva")}
        return [load_xquad_r(path, *pairs[direction]) for direction in directions]
    if levels is None:
        levels = LEVELS if layout in ("flores200", "ntrex128") else ("sentence",)
    return bitext_benchmarks(path, languages, directions=directions, levels=levels, split=split)


def _is_saved_benchmark(path: Path) -> bool:
    return path.is_dir() and (
        (path / "queries").is_dir()
        or (path / "queries.jsonl").is_file()
        or (path / "metadata.json").is_file()
    )
