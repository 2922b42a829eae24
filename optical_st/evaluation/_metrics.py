"""The metric kernels: recall@k, MRR@k and nDCG@k of every query, by trec_eval (pytrec_eval)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

DEFAULT_K_VALUES: tuple[int, ...] = (1, 5, 10, 100)


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
