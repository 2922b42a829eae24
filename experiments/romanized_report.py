"""The romanized experiment's report: docs/results/romanized/summary.json, summary.md and the figure.

Reads the cells of ``experiments/romanized.py`` (the untrained model and every trained objective x seed)
and writes one row per (objective, script, romanizer, language, level, direction, metric@k): the mean over
seeds, their spread (standard deviation), the seeds, the bootstrap interval of a single run (or the
interval of the seed-averaged per-query values), and for trained objectives the paired difference to MSE
on the same queries (seed-averaged per query). Only cells that exist are reported; the markdown says
which objectives and seeds are missing.

    python experiments/romanized_report.py [--runs runs/romanized] [--out docs/results/romanized]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from romanized import ROOT, RUNS, TRAINED  # the experiment's own constants

from optical_st.evaluation import bootstrap_ci, paired_test
from optical_st.languages import get_language, language_label, native_code
from optical_st.results import markdown_table

OUT = ROOT / "docs" / "results" / "romanized"
OBJECTIVES = ("zero-shot", "mse", "ot+sentence", "ot")
METRICS = ("recall@1", "recall@10")


def load_cells(runs: Path) -> dict[str, dict[int, dict]]:
    """objective -> seed -> cell (the untrained model is objective ``zero-shot``, seed 0)."""
    cells: dict[str, dict[int, dict]] = defaultdict(dict)
    zero = runs / "zero-shot" / "cell.json"
    if zero.is_file():
        cells["zero-shot"][0] = json.loads(zero.read_text(encoding="utf-8"))
    for path in sorted(runs.glob("*/train/*/*/*-seed*/cell.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        cells[record["objective"]][int(record["seed"])] = record
    return cells


def describe(row: dict[str, Any]) -> dict[str, Any]:
    """Script, romanizer and native language of one evaluator row."""
    query, document = row["query_language"], row["document_language"]
    south_asian = query if query != "eng_Latn" else document
    romanized = get_language(query).is_romanized or get_language(document).is_romanized
    direction = "xx_Latn->xx" if native_code(query) == native_code(document) else (
        "xx->eng" if document == "eng_Latn" else "eng->xx")  # fmt: skip
    return {
        "language": native_code(south_asian),
        "script": "romanized" if romanized else "native",
        "romanizer": row.get("romanizer", "") if romanized else "",
        "direction": direction,
        "level": row["level"],
    }


def per_query(cell: dict, task: str, key: str, metric: str) -> np.ndarray | None:
    """Per-query values of one benchmark, keyed ``group/key`` (cells before 2026-12-07 18:15 keyed them by
    ``key`` alone, where groups overwrote each other: those give ``None`` and their rows' own values count)."""
    entry = cell.get("per_query", {}).get(f"{task}/{key}")
    return None if entry is None or metric not in entry else np.asarray(entry[metric], dtype=float)


def _row_of(cell: dict, row: dict) -> dict | None:
    """The same benchmark's row in another seed's cell."""
    for other in cell["results"]:
        if (other.get("task"), other["key"], other["metric"], other["k"]) == (
            row.get("task"),
            row["key"],
            row["metric"],
            row["k"],
        ):
            return other
    return None


def summary_rows(cells: dict[str, dict[int, dict]], n_resamples: int) -> list[dict[str, Any]]:
    rows = []
    for objective in [o for o in OBJECTIVES if o in cells]:
        seeds = sorted(cells[objective])
        first = cells[objective][seeds[0]]
        for row in first["results"]:
            metric = f"{row['metric']}@{row['k']}"
            if row["query_language"] == "*" or metric not in METRICS:
                continue
            same = [_row_of(cells[objective][s], row) for s in seeds]
            if any(r is None for r in same):
                continue
            means = [float(r["value"]) for r in same]
            values = [per_query(cells[objective][s], row.get("task", ""), row["key"], metric) for s in seeds]
            if len(seeds) == 1 or any(v is None for v in values):
                low, high, averaged = row["ci_low"], row["ci_high"], None
            else:
                averaged = np.mean(values, axis=0)
                low, high = _interval(averaged, n_resamples)
            entry = {
                "objective": objective, "seeds": seeds if objective != "zero-shot" else [],
                **describe(row), "key": row["key"], "metric": metric, "value": statistics.mean(means),
                "spread": statistics.stdev(means) if len(means) > 1 else 0.0, "ci_low": low, "ci_high": high,
                "n_queries": row["n_queries"], "trained_language": describe(row)["language"] in TRAINED,
                "group": row.get("task", ""),
            }  # fmt: skip
            if objective not in ("zero-shot", "mse") and "mse" in cells:
                entry.update(_versus_mse(cells, objective, row, metric, n_resamples))
            rows.append(entry)
    return rows


def _interval(values: np.ndarray, n_resamples: int) -> tuple[float, float]:
    low, high, _ = bootstrap_ci(values[None, :], n_resamples=n_resamples)
    return float(low[0]), float(high[0])


def _versus_mse(cells, objective: str, row: dict, metric: str, n: int) -> dict[str, Any]:
    """Paired difference to MSE on the same queries, both averaged over the seeds they share."""
    shared = sorted(set(cells[objective]) & set(cells["mse"]))
    task, key = row.get("task", ""), row["key"]
    mse = [per_query(cells["mse"][s], task, key, metric) for s in shared]
    ours = [per_query(cells[objective][s], task, key, metric) for s in shared]
    if not shared or any(v is None for v in [*mse, *ours]):
        return {}
    result = paired_test(np.mean(ours, axis=0), np.mean(mse, axis=0), metric=metric, n_resamples=n)
    return {"delta_vs_mse": result.difference, "delta_ci_low": result.ci_low, "delta_ci_high": result.ci_high,
            "p_vs_mse": result.p_value, "seeds_vs_mse": shared}  # fmt: skip


def headline_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The headline's rows: recall@1 of FLORES-200 sentences, query -> English (NTREX rows left out)."""
    return [
        row
        for row in rows
        if row["metric"] == "recall@1" and row["direction"] == "xx->eng" and row["level"] == "sentence"
        and row["group"].startswith("flores")
    ]  # fmt: skip


def headline(rows: list[dict[str, Any]], cells: dict[str, dict[int, dict]]) -> str:
    """Recall@1, xx->eng sentence retrieval, per language: native and each romanizer, per objective."""
    columns = [(o, s, r) for o in OBJECTIVES if o in cells
               for s, r in (("native", ""), ("romanized", "uroman"), ("romanized", "indic-iso"))]  # fmt: skip
    table = {
        (row["language"], row["objective"], row["script"], row["romanizer"]): row
        for row in headline_rows(rows)
    }
    languages = sorted({language for language, *_ in table}, key=lambda c: (c not in TRAINED, c))
    header = ["language", *(f"{o} {('native' if s == 'native' else r)}" for o, s, r in columns)]
    body = []
    for language in languages:
        cells_text = []
        for objective, script, romanizer in columns:
            row = table.get((language, objective, script, romanizer))
            cells_text.append(_cell(row))
        trained = "" if language in TRAINED else " (untrained)"
        body.append([f"{language_label(language)}{trained}", *cells_text])
    return markdown_table(header, body)


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    text = f"{100 * row['value']:.1f}"
    if len(row["seeds"]) > 1:
        text += f" ± {100 * row['spread']:.1f}"
    if "delta_vs_mse" in row:
        text += f" ({100 * row['delta_vs_mse']:+.1f})"
    return text


def plot(rows: list[dict[str, Any]], cells: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = headline_rows(rows)
    languages = sorted({r["language"] for r in chosen}, key=lambda c: (c not in TRAINED, c))
    series = [(o, s, r) for o in OBJECTIVES if o in cells for s, r in (("native", ""), ("romanized", "uroman"),
                                                                     ("romanized", "indic-iso"))]  # fmt: skip
    index = {(r["language"], r["objective"], r["script"], r["romanizer"]): r for r in chosen}
    figure, axis = plt.subplots(figsize=(max(8, len(languages) * 1.1), 4.5))
    width = 0.8 / len(series)
    for number, (objective, script, romanizer) in enumerate(series):
        values = [100 * index[(code, objective, script, romanizer)]["value"]
                  if (code, objective, script, romanizer) in index else np.nan for code in languages]  # fmt: skip
        label = f"{objective}, {'native' if script == 'native' else romanizer}"
        axis.bar(np.arange(len(languages)) + number * width, values, width, label=label)
    axis.set_xticks(np.arange(len(languages)) + 0.4 - width / 2)
    axis.set_xticklabels([get_language(c).iso639_1 + ("*" if c in TRAINED else "") for c in languages])
    axis.set_ylabel("recall@1, xx -> English (FLORES-200 sentences)")
    axis.set_title("Native vs romanized queries, zero-shot vs distilled (* trained languages)")
    axis.legend(fontsize=7, ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def keep_cells(runs: Path, out: Path) -> int:
    """Copy every finished cell (``cell.json``, not the models) under ``out/cells``, so a fresh machine
    restores them (``experiments/romanized.sh`` copies them back) instead of training them again."""
    kept = 0
    for cell in sorted(runs.glob("**/cell.json")):
        target = out / "cells" / cell.relative_to(runs)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(cell.read_bytes())
        kept += 1
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=RUNS)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args(argv)
    cells = load_cells(args.runs)
    if not cells:
        raise SystemExit(f"no cells under {args.runs}: run experiments/romanized.sh first")
    rows = summary_rows(cells, args.resamples)
    args.out.mkdir(parents=True, exist_ok=True)
    missing = [f"{o} seeds {sorted({0, 1, 2} - set(cells.get(o, {})))}" for o in OBJECTIVES[1:]
               if set(cells.get(o, {})) != {0, 1, 2}]  # fmt: skip
    payload = {"cells": {o: sorted(seeds) for o, seeds in cells.items()}, "missing": missing, "rows": rows}
    (args.out / "summary.json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    text = ["# Romanized queries: zero-shot vs distilled (generated by experiments/romanized_report.py)", "",
            "Recall@1 (%), FLORES-200 sentences, query -> English, teacher encodes English; mean ± seed spread "
            "(paired difference to MSE, seed-averaged per query). uroman: the training back-end (clean); "
            "indic-iso: a scheme the student never saw. Urdu/Sindhi romanized by rule lose their short vowels: "
            "not real-world Roman Urdu/Sindhi.", "", headline(rows, cells), "",
            f"Cells: {payload['cells']}. Not run yet: {', '.join(missing) or 'none'}."]  # fmt: skip
    (args.out / "summary.md").write_text("\n".join(text) + "\n", encoding="utf-8")
    plot(rows, cells, args.out / "recall@1_native_vs_romanized.png")
    print("\n".join(text))
    print(f"{keep_cells(args.runs, args.out)} cells kept under {args.out / 'cells'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
