"""Uncertainty: percentile-bootstrap intervals over queries and the paired randomization test (scipy)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


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
