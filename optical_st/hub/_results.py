"""Evaluation rows as a card shows them: the table, ``model-index``, ``.eval_results`` and a reproduction snippet."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from optical_st.hub._ids import hub_id_form
from optical_st.languages import language_label
from optical_st.results import PROMPT_FIELDS, markdown_table


def is_aggregate(row: Mapping) -> bool:
    """Macro-average rows of ``CLIREvaluator`` have ``*`` as languages."""
    return row["query_language"] == "*" or row["document_language"] == "*"


def _metric_label(metric: str, k: Any) -> str:
    names = {
        "recall": "Recall",
        "mrr": "MRR",
        "ndcg": "nDCG",
        "map": "MAP",
        "precision": "Precision",
        "accuracy": "Accuracy",
    }
    name = names.get(str(metric).lower(), str(metric))
    return f"{name}@{k}" if k not in (None, "", 0) else name


def _metric_type(metric: str, k: Any) -> str:
    return f"{str(metric).lower()}_at_{k}" if k not in (None, "", 0) else str(metric).lower()


def _row_config(row: Mapping) -> str:
    return f"{row['query_language']}-{row['document_language']}"


def dataset_links(
    rows: Sequence[Mapping], benchmark_ids: Mapping[str, str] | None = None
) -> list[tuple[str, str] | None]:
    """``(Hub dataset id, config of its queries)`` of every row, or ``None`` when it has no Hub dataset.

    A row evaluated on a benchmark loaded from the Hub carries ``dataset_id``/``dataset_config``
    (:func:`optical_st.data.load_benchmark`). Otherwise ``benchmark_ids`` maps the benchmark name to
    the dataset a :func:`push_benchmark` created; its configs are ``queries`` for one language pair
    and ``{query}-{document}-queries`` when several evaluated pairs map to the same dataset.
    """
    benchmark_ids = dict(benchmark_ids or {})

    def dataset_id(row: Mapping) -> str | None:
        if row.get("dataset_id"):
            return str(row["dataset_id"])
        found = benchmark_ids.get(row["benchmark"])
        return found or (str(row["benchmark"]) if hub_id_form(row["benchmark"]) else None)

    pairs: dict[str, set[str]] = {}
    for row in rows:
        if not is_aggregate(row) and dataset_id(row):
            pairs.setdefault(dataset_id(row), set()).add(_row_config(row))
    links: list[tuple[str, str] | None] = []
    for row in rows:
        found = None if is_aggregate(row) else dataset_id(row)
        if found is None:
            links.append(None)
        elif row.get("dataset_config"):
            links.append((found, str(row["dataset_config"])))
        else:
            prefix = f"{_row_config(row)}-" if len(pairs[found]) > 1 else ""
            links.append((found, f"{prefix}queries"))
    return links


def _prompt_facts(row: Mapping) -> dict[str, str]:
    """The recorded prompts and encoders of a row (``CLIREvaluator`` rows carry them)."""
    return {name: str(row[name]) for name in PROMPT_FIELDS if row.get(name) is not None}


def _prompts_cell(row: Mapping) -> str:
    facts = _prompt_facts(row)
    if "query_prompt" not in facts:
        return "not recorded"
    cell = f"`{json.dumps(facts['query_prompt'])}` / `{json.dumps(facts['document_prompt'])}`"
    others = [
        f"{side}: {facts[f'{side}_encoder']}"
        for side in ("query", "document")
        if facts.get(f"{side}_encoder", "model") != "model"
    ]
    return cell + (f" ({', '.join(others)})" if others else "")


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def results_table(rows: Sequence[Mapping]) -> dict:
    """Per-(benchmark, level, direction) table: ``{"columns": [...], "rows": [{"cells": [...]}, ...]}``.

    Cells are ``value`` or ``value [ci_low, ci_high]`` with 4 decimals; ``n`` is the number of queries;
    ``prompts`` is the query / document prompt (and a fixed encoder, if one encoded a side).
    """
    metrics: list[tuple[str, Any]] = []
    groups: dict[tuple, dict] = {}
    for row in rows:
        key_metric = (str(row["metric"]), row["k"])
        if key_metric not in metrics:
            metrics.append(key_metric)
        group = (row["benchmark"], row.get("level") or "", row["query_language"], row["document_language"])
        entry = groups.setdefault(group, {"n": row.get("n_queries"), "cells": {}, "prompts": ""})
        entry["cells"][key_metric] = row
        if not is_aggregate(row):
            entry["prompts"] = _prompts_cell(row)
    order = {"recall": 0, "mrr": 1, "ndcg": 2}
    metrics.sort(key=lambda m: (order.get(m[0].lower(), 9), m[0], int(m[1]) if str(m[1]).isdigit() else 0))
    table_rows = []
    for (benchmark, level, query, document), group in groups.items():
        cells = []
        for metric in metrics:
            row = group["cells"].get(metric)
            if row is None:
                cells.append("")
            elif row.get("ci_low") is not None and row.get("ci_high") is not None:
                cells.append(f"{_fmt(row['value'])} [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]")
            else:
                cells.append(_fmt(row["value"]))
        first = next(iter(group["cells"].values()))
        if is_aggregate(first):
            query_label = "macro average"
            count = first.get("n_benchmarks")
            document_label = f"over {count} benchmark{'' if count == 1 else 's'}" if count else ""
        else:
            query_label, document_label = (
                language_label(query, with_code=True),
                language_label(document, with_code=True),
            )
        table_rows.append(
            {
                "benchmark": benchmark,
                "level": level,
                "query": query_label,
                "document": document_label,
                "n": group["n"] if group["n"] is not None else "",
                "prompts": group["prompts"],
                "cells": cells,
            }
        )
    return {"columns": [_metric_label(*m) for m in metrics], "rows": table_rows}


def results_markdown(rows: Sequence[Mapping]) -> str:
    """The card's CLIR table (:func:`results_table`) as markdown, written by :func:`optical_st.results.markdown_table`."""
    table = results_table(rows)
    header = [
        "Benchmark",
        "Level",
        "Query",
        "Documents",
        "Prompts (query / document)",
        "n",
        *table["columns"],
    ]
    body = [
        [
            row["benchmark"],
            row["level"],
            row["query"],
            row["document"],
            row["prompts"],
            row["n"],
            *row["cells"],
        ]
        for row in table["rows"]
    ]
    return markdown_table(header, body, align="lllllr" + "r" * len(table["columns"]))


def results_to_eval_results(
    rows: Sequence[Mapping], benchmark_ids: Mapping[str, str] | None = None, source_url: str | None = None
):
    """``huggingface_hub.EvalResult`` per row with a Hub dataset (:func:`dataset_links`), for ``model-index``.

    ``dataset.type`` is the Hub dataset id and ``dataset.config`` the config its queries load from;
    each metric's ``args`` record the prompts and the encoder of each side. Rows without a Hub
    dataset (and macro averages) are left out: they stay in the card's table.
    """
    from huggingface_hub import EvalResult

    results = []
    for row, link in zip(rows, dataset_links(rows, benchmark_ids), strict=True):
        if link is None:
            continue
        level = f", {row['level']}" if row.get("level") else ""
        results.append(
            EvalResult(
                task_type="retrieval",
                task_name="Cross-Lingual Information Retrieval",
                dataset_type=link[0],
                dataset_name=f"{row['benchmark']} ({row['query_language']} -> {row['document_language']}{level})",
                dataset_config=link[1],
                dataset_split=str(row.get("split") or "test"),
                metric_type=_metric_type(row["metric"], row["k"]),
                metric_name=_metric_label(row["metric"], row["k"]),
                metric_value=round(float(row["value"]), 6),
                metric_args=_prompt_facts(row) or None,
                source_name="optical-st CLIREvaluator" if source_url else None,
                source_url=source_url,
            )
        )
    return results


def results_to_eval_result_entries(
    rows: Sequence[Mapping],
    benchmark_ids: Mapping[str, str] | None = None,
    *,
    metric: str = "recall",
    k: int = 10,
    date: str | None = None,
    source_url: str | None = None,
):
    """Entries of the Hub's newer ``.eval_results/*.yaml`` format (``huggingface_hub.EvalResultEntry``).

    That format holds one value per (benchmark dataset on the Hub, task), so only rows with a Hub
    dataset (:func:`dataset_links`) and the headline ``metric@k`` are kept; ``task_id`` is
    ``"{query}-{document}"``, the task ids that :func:`push_benchmark` declares in the dataset's
    ``eval.yaml``; ``notes`` hold the interval, the query count, the level and the prompts.
    """
    from huggingface_hub import EvalResultEntry

    entries = []
    for row, link in zip(rows, dataset_links(rows, benchmark_ids), strict=True):
        if link is None or str(row["metric"]).lower() != metric or str(row["k"]) != str(k):
            continue
        dataset_id = link[0]
        notes = _metric_label(row["metric"], row["k"])
        if row.get("ci_low") is not None and row.get("ci_high") is not None:
            notes += f", 95% CI [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
        if row.get("n_queries") is not None:
            notes += f", {row['n_queries']} queries"
        if row.get("level"):
            notes += f", {row['level']} level"
        if _prompt_facts(row):
            notes += f", prompts (query / document) {_prompts_cell(row)}"
        entries.append(
            EvalResultEntry(
                dataset_id=dataset_id,
                task_id=_row_config(row),
                value=round(float(row["value"]), 6),
                date=date,
                source_url=source_url,
                source_name="optical-st" if source_url else None,
                notes=notes,
            )
        )
    return entries


def reproduction_snippet(
    model_id: str, rows: Sequence[Mapping], benchmark_ids: Mapping[str, str] | None = None
) -> str | None:
    """A Python block that recomputes the card's recall@k with plain sentence-transformers and datasets.

    One task per Hub dataset config (:func:`dataset_links`) with the prompts and encoders recorded in
    the rows; the rows' numbers are what it prints. ``None`` when no row has a Hub dataset and prompts.
    """
    recall_ks = sorted({int(r["k"]) for r in rows if str(r["metric"]).lower() == "recall"})
    k = 10 if 10 in recall_ks else (recall_ks[-1] if recall_ks else 10)
    tasks: dict[tuple, None] = {}
    for row, link in zip(rows, dataset_links(rows, benchmark_ids), strict=True):
        facts = _prompt_facts(row)
        if link is None or "query_prompt" not in facts:
            continue
        encoders = (facts.get("query_encoder", "model"), facts.get("document_encoder", "model"))
        if any(e != "model" and not hub_id_form(e) for e in encoders):
            continue  # a side encoded by a local model cannot be reproduced from the Hub
        prefix = link[1][: -len("queries")] if link[1].endswith("queries") else f"{link[1]}-"
        tasks[(link[0], prefix, facts["query_prompt"], facts["document_prompt"], *encoders)] = None
    if not tasks:
        return None
    loads = [f'models = {{"model": SentenceTransformer({json.dumps(model_id)})}}']
    for name in dict.fromkeys(e for task in tasks for e in task[4:] if e != "model"):
        loads.append(f"models[{json.dumps(name)}] = SentenceTransformer({json.dumps(name)})")
    task_lines = [f"    {json.dumps(list(task), ensure_ascii=False)}," for task in tasks]
    return "\n".join(
        [
            "```python",
            "from collections import defaultdict",
            "",
            "from datasets import load_dataset",
            "from sentence_transformers import SentenceTransformer",
            "",
            *loads,
            "# Hub dataset, config prefix, query prompt, document prompt, query encoder, document encoder",
            "tasks = [",
            *task_lines,
            "]",
            "for dataset_id, prefix, query_prompt, document_prompt, query_model, document_model in tasks:",
            '    queries = load_dataset(dataset_id, prefix + "queries", split="test")',
            '    corpus = load_dataset(dataset_id, prefix + "corpus", split="test")',
            "    relevant = defaultdict(set)",
            '    for row in load_dataset(dataset_id, prefix + "qrels", split="test"):',
            '        if row["score"] > 0:',
            '            relevant[row["query-id"]].add(row["corpus-id"])',
            '    query_embeddings = models[query_model].encode(queries["text"], prompt=query_prompt)',
            '    document_embeddings = models[document_model].encode(corpus["text"], prompt=document_prompt)',
            '    scores = models["model"].similarity(query_embeddings, document_embeddings)',
            f"    top = scores.topk({k}, dim=1).indices.tolist()",
            "    hits = [",
            '        len(relevant[query] & {corpus["_id"][i] for i in ranked}) / len(relevant[query])',
            '        for query, ranked in zip(queries["_id"], top)',
            "    ]",
            f'    print(f"{{dataset_id}} {{prefix}}queries recall@{k} = {{sum(hits) / len(hits):.4f}}")',
            "```",
        ]
    )
