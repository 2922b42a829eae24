"""Tidy result rows, the contract between the evaluator and what reads its numbers, and their tables.

:class:`optical_st.evaluation.CLIREvaluator` writes one row per benchmark (or macro average) and metric;
model cards (:mod:`optical_st.hub`), the scaling report and the experiments read them. A leaf module:
reading rows needs neither the evaluator (torch) nor the data layer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

RESULT_FIELDS = ("benchmark", "query_language", "document_language", "metric", "k", "value")
"""Fields every row has (:func:`load_rows` refuses a row without one)."""
PROMPT_FIELDS: tuple[str, ...] = ("query_prompt", "document_prompt", "query_encoder", "document_encoder")
"""Fields of every benchmark's result rows that say how its numbers were made: the prompt strings as
resolved, and who encoded each side (``"model"``, the evaluated model, or a fixed encoder's name)."""


def writes_tidy_rows(evaluator: Any) -> bool:
    """Whether an evaluator's ``results`` are these rows (its class sets ``writes_tidy_rows = True``).

    A model card shows such rows as its CLIR table, in place of the flat metrics sentence-transformers
    recorded for that evaluator during training.
    """
    return bool(getattr(type(evaluator), "writes_tidy_rows", False))


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
    body = []
    for key, entry in table.items():
        row = entry["row"]
        label = key if row["query_language"] != "*" else f"**{key}** ({row['n_benchmarks']} benchmarks)"
        first = [label, row["query_language"], row["document_language"], row["level"], str(row["n_queries"])]
        body.append(first + [entry["cells"].get(m, "") for m in metrics])
    prompts = describe_prompts(rows)
    return "\n".join([*prompts, *([""] if prompts else []), markdown_table(header, body)])


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, align: str = "") -> str:
    """A markdown table: the one table writer behind every results table optical-st prints or writes.

    Each view formats its own cells (percent for the evaluator's tables, four decimals on model cards,
    three in the scaling report) and hands them here.

    Args:
        header: the column names.
        rows: one sequence of cells per row (``str()``-ed; a ``|`` inside a cell is escaped).
        align: one letter per column, ``"l"`` or ``"r"`` (numbers); missing letters mean ``"l"``.

    Example::

        >>> print(markdown_table(["model", "recall@1"], [["me5-small", "0.511"]], align="lr"))
        | model | recall@1 |
        |---|--:|
        | me5-small | 0.511 |
    """
    separators = ["--:" if letter == "r" else "---" for letter in align.ljust(len(header), "l")]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(separators) + "|"]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# evaluation rows -----------------------------------------------------------------------------------
def load_rows(evaluation_results: Any) -> list[dict]:
    """Tidy evaluation rows from a ``CLIREvaluator`` (``.results``), a list of rows, or a JSON file.

    A row has ``benchmark, query_language, document_language, metric, k, value`` and optionally
    ``level, ci_low, ci_high, n_queries`` (the ``CLIREvaluator.results`` layout).

    Raises:
        ValueError: a row lacks a field or has a non-finite value (never a silent wrong table).
    """
    if evaluation_results is None:
        return []
    if hasattr(evaluation_results, "results") and not isinstance(evaluation_results, Mapping):
        evaluation_results = evaluation_results.results
    if isinstance(evaluation_results, str | Path):
        path = Path(evaluation_results)
        loaded = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(loaded, Mapping):
            loaded = loaded.get("results") or loaded.get("rows")
        if not isinstance(loaded, list):
            raise ValueError(f"{path}: expected a list of result rows (or {{'results': [...]}}).")
        evaluation_results = loaded
    rows = []
    for index, row in enumerate(evaluation_results):
        if not isinstance(row, Mapping):
            raise ValueError(f"Evaluation result {index} is not a mapping: {row!r}")
        missing = [name for name in RESULT_FIELDS if name not in row or row[name] is None]
        if missing:
            raise ValueError(f"Evaluation result {index} lacks {', '.join(missing)}: {dict(row)!r}")
        value = float(row["value"])
        if not math.isfinite(value):
            raise ValueError(f"Evaluation result {index} has a non-finite value: {dict(row)!r}")
        clean = {**row, "value": value}
        for bound in ("ci_low", "ci_high"):  # NaN = no interval computed (n_bootstrap=0)
            if clean.get(bound) is not None and not math.isfinite(float(clean[bound])):
                clean[bound] = None
        rows.append(clean)
    return rows
