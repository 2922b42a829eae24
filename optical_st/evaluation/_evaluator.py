"""``CLIREvaluator``: a sentence-transformers evaluator over CLIR benchmarks, with intervals and tidy rows."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator
from tqdm.auto import tqdm

from optical_st._atomic import write_text
from optical_st.data import validate_benchmark
from optical_st.evaluation._metrics import DEFAULT_K_VALUES, metric_names, per_query_metrics
from optical_st.evaluation._output import finite_or_none, jsonable, rounded
from optical_st.evaluation._prompts import task_prompts
from optical_st.evaluation._statistics import bootstrap_ci
from optical_st.languages import LOW_RESOURCE, UnknownLanguageError, get_language, native_code, normalize_code
from optical_st.pretrained import model_label
from optical_st.results import results_to_markdown
from optical_st.search import Backend, CorpusIndex, encode_texts, model_fingerprint

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from optical_st.data import CLIRBenchmark

logger = logging.getLogger(__name__)


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
        """What its rows say of the data: ``dataset_id``/``dataset_config`` of a benchmark loaded from the
        Hub (what its rows link to) and ``romanizer``, the name of what wrote a romanized view."""
        metadata = getattr(self.benchmark, "metadata", None) or {}
        origin = {name: metadata[name] for name in ("dataset_id", "dataset_config") if metadata.get(name)}
        romanizer = metadata.get("romanizer")
        if isinstance(romanizer, Mapping) and romanizer.get("name"):
            origin["romanizer"] = romanizer["name"]
        return origin


def _prepare(benchmark: Any, include_titles: bool) -> tuple[list[str], list[str], list[str], list[str], dict]:
    """The texts, ids and relevance judgements of a checked, non-empty benchmark."""
    validate_benchmark(benchmark)  # also benchmarks that are not CLIRBenchmark objects (duck-typed)
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
    qrels: dict[str, dict[str, int]] = {}
    for query_id, corpus_id, score in zip(
        qrels_rows["query-id"], qrels_rows["corpus-id"], qrels_rows["score"], strict=False
    ):
        if int(score) > 0:
            qrels.setdefault(str(query_id), {})[str(corpus_id)] = int(score)
    return query_ids, query_texts, corpus_ids, corpus_texts, {q: qrels[q] for q in query_ids}


def _known(code: str) -> bool:
    try:
        get_language(code)
    except UnknownLanguageError:
        return False
    return True


def _benchmark_keys(benchmarks: Sequence[Any]) -> list[str]:
    """``npi_Deva->eng_Latn`` for sentence level, ``npi_Deva->eng_Latn_document`` otherwise; the romanizer
    (``npi_Latn->eng_Latn_indic-iso``), then the benchmark's name, break ties."""
    keys = []
    for benchmark in benchmarks:
        key = f"{benchmark.query_language}->{benchmark.document_language}"
        level = (getattr(benchmark, "metadata", None) or {}).get("level", "sentence")
        keys.append(key if level == "sentence" else f"{key}_{level}")
    by_romanizer = [
        f"{key}_{_romanizer_name(b)}" if _romanizer_name(b) else key
        for key, b in zip(keys, benchmarks, strict=True)
    ]
    keys = _break_ties(keys, by_romanizer)
    keys = _break_ties(keys, [f"{b.name}_{key}" for key, b in zip(keys, benchmarks, strict=True)])
    if len(set(keys)) != len(keys):
        raise ValueError("Benchmarks for the same language pair and level need distinct names.")
    return keys


def _break_ties(keys: list[str], alternatives: list[str]) -> list[str]:
    """Each key shared by several benchmarks replaced by that benchmark's alternative."""
    counts = {key: keys.count(key) for key in keys}
    return [
        alternative if counts[key] > 1 else key for key, alternative in zip(keys, alternatives, strict=True)
    ]


def _romanizer_name(benchmark: Any) -> str:
    romanizer = (getattr(benchmark, "metadata", None) or {}).get("romanizer")
    return romanizer.get("name", "") if isinstance(romanizer, Mapping) else ""


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

    writes_tidy_rows = (
        True  # its results are optical_st.results rows (cards show them instead of flat metrics)
    )

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
        if not 0 < self.confidence < 1:  # else refused by the bootstrap, after every model was encoded
            raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
        self.low_resource = {normalize_code(code) for code in low_resource}
        self.include_titles, self.write_json = include_titles, write_json
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

    @property
    def languages(self) -> set[str]:
        """Every language the benchmarks cover, on the query or the document side."""
        return {
            code
            for p in self.benchmarks
            for code in (p.benchmark.query_language, p.benchmark.document_language)
        }

    @property
    def metric_keys(self) -> list[str]:
        """Every key a call returns (prefixed with ``name``), known before any model is encoded."""
        keys = [f"{p.key}_{m}" for p in self.benchmarks for m in self.metrics]
        keys += [
            f"{label}_{m}"
            for label, _, members in self._groups(self.benchmarks)
            if members
            for m in self.metrics
        ]
        return list(self.prefix_name_to_metrics(dict.fromkeys(keys, 0.0), self.name))

    def _groups(self, prepared: list[_PreparedBenchmark]) -> list[tuple[str, str, list[_PreparedBenchmark]]]:
        """The macro averages: (label, level, member benchmarks), e.g. ``("low_macro", "all", [...])``."""
        groups = [
            ("macro", "all", list(prepared)),
            ("low_macro", "all", [p for p in prepared if self._is_low(p)]),
        ]
        if len(self.levels) > 1:
            for level in self.levels:
                members = [p for p in prepared if p.level == level]
                groups.append((f"{level}_macro", level, members))
                groups.append((f"{level}_low_macro", level, [p for p in members if self._is_low(p)]))
        return groups

    def _is_low(self, prepared: _PreparedBenchmark) -> bool:
        benchmark = prepared.benchmark
        languages = (benchmark.query_language, benchmark.document_language)
        # a romanized view (npi_Latn) counts with its language (npi_Deva)
        return any(
            code in self.low_resource or (_known(code) and native_code(code) in self.low_resource)
            for code in languages
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
            (model_label(e) or code for code, e in self.language_encoders.items() if e is encoder), "?"
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

        means_by_key = {p.key: {m: metrics[f"{p.key}_{m}"] for m in self.metrics} for p, _ in per_benchmark}
        for label, level, members in self._groups([p for p, _ in per_benchmark]):
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
            "model": model_label(model) if model is not None else None,
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
                    "metadata": jsonable(getattr(p.benchmark, "metadata", {}) or {}),
                }
                for p in self.benchmarks
            ],
            "metrics": {f"{self.name}_{k}" if self.name else k: v for k, v in metrics.items()},
            "results": self.results,
            **(dict(extra) if extra else {}),
        }
        # Strict JSON: an interval not computed (n_bootstrap=0) is null, not NaN, which parsers reject.
        payload = finite_or_none(payload)
        # Per-query values (what a later paired test needs) go on one compact line per benchmark.
        per_query = ",\n".join(
            f"  {json.dumps(key)}: {json.dumps(finite_or_none(rounded(values)), separators=(',', ':'), allow_nan=False)}"
            for key, values in self.per_query.items()
        )
        text = (
            json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False)[:-2]
            + ',\n "per_query": {\n'
            + per_query
            + "\n }\n}\n"
        )
        path = directory / f"{stem}.json"
        write_text(path, text)  # whole or not at all: a full disk keeps an earlier result
        write_text(directory / f"{stem}.md", self.to_markdown(confidence_intervals=True) + "\n")
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
                code: model_label(encoder) for code, encoder in self.language_encoders.items()
            }
        return config
