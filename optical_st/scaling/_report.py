"""The report: tidy tables, log-linear trends per language, plots and ``report.md``."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optical_st._atomic import write_json, write_text
from optical_st.languages import LOW_RESOURCE, language_label

if TYPE_CHECKING:
    import pandas as pd


from optical_st.results import markdown_table
from optical_st.scaling._specs import CONDITIONS, safe_name

X_AXES: dict[str, str] = {
    "params_total": "total parameters",
    "params_non_embedding": "non-embedding parameters",
}
RESULT_COLUMNS = (
    "model", "spec", "condition", "language", "language_name", "low_resource", "task", "direction",
    "benchmark", "query_language", "document_language", "level", "metric", "k", "value", "ci_low",
    "ci_high", "n_queries", "n_layers", "params_total", "params_embedding", "params_non_embedding",
)  # fmt: skip


def load_cells(paths: Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """Read cell files into one tidy frame (columns :data:`RESULT_COLUMNS`), one row per metric value."""
    import pandas as pd

    records = []
    for path in paths:
        cell = json.loads(Path(path).read_text(encoding="utf-8"))
        language = cell["language"]
        for row in cell["rows"]:
            records.append(
                {
                    **row,
                    "model": cell["model"],
                    "spec": cell["spec"],
                    "condition": cell["condition"],
                    "language": language,
                    "language_name": language_label(language),
                    "low_resource": language in LOW_RESOURCE,
                    "n_layers": cell.get("n_layers"),
                    "params_total": cell["params_total"],
                    "params_embedding": cell["params_embedding"],
                    "params_non_embedding": cell["params_non_embedding"],
                }
            )
    frame = pd.DataFrame.from_records(records, columns=list(RESULT_COLUMNS))
    return frame


def load_study_results(output_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Every cell under ``output_dir/cells`` as one tidy frame."""
    return load_cells(sorted(Path(output_dir).glob("cells/*/*/*.json")))


def _select(results: pd.DataFrame, metric: str, k: int | None) -> pd.DataFrame:
    selected = results[results["metric"] == metric]
    if k is not None:
        selected = selected[selected["k"] == k]
    if selected.empty:
        available = sorted({f"{m}@{kk}" for m, kk in zip(results["metric"], results["k"], strict=True)})
        raise ValueError(f"no results for {metric}@{k}; available: {', '.join(available)}")
    return selected


def fit_trends(
    results: pd.DataFrame,
    metric: str = "recall",
    k: int | None = 10,
    x: str = "params_total",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Fit ``value = intercept + slope * log10(x)`` per task, language and condition (ordinary least squares).

    The slope is the change of the metric per tenfold parameters. Its confidence interval is
    ``slope +- t_{n-2} * stderr`` (``scipy.stats.linregress``); with 4 models t has 2 degrees of
    freedom (t = 4.30 at 95%), so the interval is wide. With fewer than 3 distinct sizes there is no
    interval (NaN), with fewer than 2 no fit (NaN slope).

    Returns:
        One row per fit: task, direction, language, low_resource, condition, metric, k, x, n_models,
        x_min, x_max, slope, ci_low, ci_high, fitted_change (slope x log10(x_max / x_min): the fitted
        change across the measured sizes), intercept, r2, p_value.
    """
    import numpy as np
    import pandas as pd
    from scipy import stats

    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(X_AXES)}, got {x!r}")
    selected = _select(results, metric, k)
    rows = []
    keys = ["task", "direction", "language", "low_resource", "condition"]
    for (task, direction, language, low, condition), group in selected.groupby(keys, sort=True):
        xs = np.log10(group[x].to_numpy(dtype=float))
        ys = group["value"].to_numpy(dtype=float)
        n_sizes = len(np.unique(xs))
        slope = intercept = r2 = p_value = ci_low = ci_high = math.nan
        if n_sizes >= 2:
            fit = stats.linregress(xs, ys)
            slope, intercept, p_value = float(fit.slope), float(fit.intercept), float(fit.pvalue)
            r2 = float(fit.rvalue**2)
            if n_sizes >= 3 and len(xs) >= 3:
                t = stats.t.ppf(0.5 + confidence / 2, len(xs) - 2)
                ci_low, ci_high = slope - t * fit.stderr, slope + t * fit.stderr
            else:
                p_value = math.nan
        # the fitted change across the sizes actually measured: a slope "per 10x" extrapolates far
        # beyond a narrow range (e.g. total parameters of a depth ladder span only ~1.16x)
        fitted_change = slope * (xs.max() - xs.min()) if n_sizes >= 2 else math.nan
        rows.append(
            {
                "task": task, "direction": direction, "language": language, "low_resource": bool(low),
                "condition": condition, "metric": metric, "k": k, "x": x, "n_models": len(xs),
                "x_min": float(10 ** xs.min()), "x_max": float(10 ** xs.max()), "slope": slope,
                "ci_low": ci_low, "ci_high": ci_high, "fitted_change": fitted_change, "intercept": intercept,
                "r2": r2, "p_value": p_value,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def models_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, condition): layers and parameter counts, smallest first."""
    columns = [
        "model",
        "spec",
        "condition",
        "n_layers",
        "params_total",
        "params_embedding",
        "params_non_embedding",
    ]
    table = results[columns].drop_duplicates().sort_values(["params_total", "model", "condition"])
    return table.reset_index(drop=True)


def _millions(n: float) -> str:
    return f"{n / 1e6:.1f}M"


def metric_tables(results: pd.DataFrame, metric: str = "recall", k: int | None = 10) -> str:
    """Markdown: one table per task, a row per language (low-resource marked), a column per model x condition.

    The two last rows are plain means over the languages shown (all, and low-resource only).
    """
    selected = _select(results, metric, k)
    order = models_table(selected)
    model_order = list(dict.fromkeys(order["model"]))
    conditions = [c for c in CONDITIONS if c in set(selected["condition"])]
    columns = [(m, c) for m in model_order for c in conditions]
    label = f"{metric}@{k}" if k is not None else metric
    parts = []
    for task, group in selected.groupby("task", sort=True):
        values = group.set_index(["language", "model", "condition"])["value"]
        header = ["language"] + [f"{m} {c}" for m, c in columns]
        body = []
        languages = sorted(set(group["language"]), key=lambda c: (c not in LOW_RESOURCE, c))
        for language in languages:
            name = language_label(language) + (" *(low)*" if language in LOW_RESOURCE else "")
            body.append([name, *(_fmt(values.get((language, m, c))) for m, c in columns)])
        for title, subset in (
            ("mean (all)", languages),
            ("mean (low-resource)", [c for c in languages if c in LOW_RESOURCE]),
        ):
            if not subset:
                continue
            cells = []
            for m, c in columns:
                found = [values.get((lang, m, c)) for lang in subset]
                found = [v for v in found if v is not None]
                cells.append(_fmt(sum(found) / len(found)) if len(found) == len(subset) else "-")
            body.append([f"**{title}**", *cells])
        parts.append(f"**{task}** ({label})\n\n" + markdown_table(header, body))
    return "\n\n".join(parts) + "\n"


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def trends_markdown(trends: pd.DataFrame) -> str:
    """Markdown table of :func:`fit_trends` output (slope per tenfold parameters and its 95% CI)."""
    if trends.empty:
        return "(no trends)\n"
    header = ["task", "language", "condition", "x-axis (range)", "n", "slope per 10x params", "95% CI",
              "fitted change over range", "R²"]  # fmt: skip
    ordered = trends.sort_values(
        ["task", "low_resource", "language", "condition", "x"], ascending=[True, False, True, True, True]
    )
    body = [
        [
            row.task, language_label(row.language) + (" *(low)*" if row.low_resource else ""), row.condition,
            f"{X_AXES[row.x]} ({_millions(row.x_min)}-{_millions(row.x_max)})", row.n_models, _fmt(row.slope),
            f"[{_fmt(row.ci_low)}, {_fmt(row.ci_high)}]", _fmt(row.fitted_change), _fmt(row.r2, 2),
        ]
        for row in ordered.itertuples()
    ]  # fmt: skip
    return markdown_table(header, body) + "\n"


def plot_scaling(
    results: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    metric: str = "recall",
    k: int | None = 10,
    x: str = "params_total",
    task: str | None = None,
) -> Path:
    """Plot ``metric@k`` against parameters (log x): one panel per condition, one line per language.

    Low-resource languages (:data:`~optical_st.languages.LOW_RESOURCE`) are drawn in colour with
    markers and labelled; the others are thin grey lines. The plot is saved as PNG to ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(X_AXES)}, got {x!r}")
    selected = _select(results, metric, k)
    tasks = sorted(set(selected["task"]))
    task = task or tasks[0]
    selected = selected[selected["task"] == task]
    conditions = [c for c in CONDITIONS if c in set(selected["condition"])]
    figure, axes = plt.subplots(
        1, len(conditions), figsize=(6 * len(conditions), 4.5), sharey=True, squeeze=False
    )
    colours = plt.get_cmap("tab10")
    low_languages = sorted(code for code in set(selected["language"]) if code in LOW_RESOURCE)
    for axis, condition in zip(axes[0], conditions, strict=True):
        subset = selected[selected["condition"] == condition]
        for language, group in subset.groupby("language"):
            group = group.sort_values(x)
            if language in LOW_RESOURCE:
                style = {"color": colours(low_languages.index(language)), "linewidth": 2.2, "marker": "o",
                         "label": f"{language_label(language)} (low)", "zorder": 3}  # fmt: skip
            else:
                style = {"color": "0.6", "linewidth": 0.9, "marker": ".", "alpha": 0.8, "zorder": 2}
            axis.plot(group[x], group["value"], **style)
        axis.plot([], [], color="0.6", linewidth=0.9, label="other South Asian")
        axis.set_xscale("log")
        axis.set_title(condition)
        axis.set_xlabel(X_AXES[x] + " (log scale)")
        axis.grid(True, which="both", alpha=0.3)
        for row in subset[["model", x]].drop_duplicates().itertuples():
            axis.annotate(row.model, (getattr(row, x), axis.get_ylim()[0]), fontsize=7, rotation=90,
                          va="bottom", ha="right", color="0.4")  # fmt: skip
    label = f"{metric}@{k}" if k is not None else metric
    axes[0][0].set_ylabel(label)
    axes[0][-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    figure.suptitle(f"{task}: {label} vs {X_AXES[x]}")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def write_report(
    results: pd.DataFrame,
    report_dir: str | os.PathLike[str],
    *,
    metric: str = "recall",
    k: int = 10,
    skipped: Sequence[Mapping[str, Any]] = (),
    title: str = "Scaling study",
    command: str | None = None,
    notes: str = "",
) -> dict[str, Path]:
    """Write the study's outputs under ``report_dir`` (local files first; push separately).

    Files: ``results.csv``, ``results.json`` (tidy, every metric), ``models.csv``, ``trends.csv``
    (fits for every recall@k on both x-axes), ``skipped.json``, ``report.md`` (models, the ``metric@k``
    table per task, trends, skipped models, the command) and one plot per task, x-axis and
    ``metric@k`` (the chosen one and every recall@k), ``<metric>@<k>_vs_<x>[_<task>].png``.

    Returns:
        Name -> path of every file written.
    """
    if results.empty:
        raise ValueError("no finished cells to report")
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    files, models, trends = _write_tables(results, report_dir, skipped)
    plots = _write_plots(results, report_dir, metric, k)
    files.update(plots)
    main_trends = trends[(trends["k"] == k)] if not trends.empty else trends
    text = _report_markdown(results, models, main_trends, list(plots), metric=metric, k=k, skipped=skipped,
                            title=title, command=command, notes=notes)  # fmt: skip
    files["report.md"] = report_dir / "report.md"
    write_text(files["report.md"], text)
    return files


def _write_tables(
    results: pd.DataFrame, report_dir: Path, skipped: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Path], pd.DataFrame, pd.DataFrame]:
    """results.csv/.json, models.csv, trends.csv (every recall@k on both x-axes), skipped.json."""
    import pandas as pd

    files: dict[str, Path] = {}
    ordered = results.sort_values(["task", "condition", "params_total", "model", "language", "metric", "k"])
    files["results.csv"] = report_dir / "results.csv"
    ordered.to_csv(files["results.csv"], index=False)
    files["results.json"] = report_dir / "results.json"
    ordered.to_json(files["results.json"], orient="records", indent=1)
    models = models_table(results)
    files["models.csv"] = report_dir / "models.csv"
    models.to_csv(files["models.csv"], index=False)
    trend_frames = [
        fit_trends(results, "recall", kk, x)
        for kk in sorted(set(results.loc[results["metric"] == "recall", "k"]))
        for x in X_AXES
    ]
    trends = pd.concat(trend_frames, ignore_index=True) if trend_frames else pd.DataFrame()
    files["trends.csv"] = report_dir / "trends.csv"
    trends.to_csv(files["trends.csv"], index=False)
    files["skipped.json"] = report_dir / "skipped.json"
    write_json(files["skipped.json"], list(skipped))
    return files, models, trends


def _write_plots(results: pd.DataFrame, report_dir: Path, metric: str, k: int) -> dict[str, Path]:
    """One plot per task, x-axis and metric@k: the chosen one first, then every other recall@k."""
    tasks = sorted(set(results["task"]))
    plots: dict[str, Path] = {}
    # small candidate sets saturate at large k, so every recall@k gets its plots
    plotted = [(metric, k)] + [
        ("recall", kk) for kk in sorted(set(results.loc[results["metric"] == "recall", "k"]))
    ]
    for plot_metric, plot_k in dict.fromkeys(plotted):
        for task in tasks:
            suffix = "" if len(tasks) == 1 else "_" + safe_name(task)
            for x in X_AXES:
                name = f"{plot_metric}@{plot_k}_vs_{x}{suffix}.png"
                plots[name] = plot_scaling(
                    results, report_dir / name, metric=plot_metric, k=plot_k, x=x, task=task
                )
    return plots


def _report_markdown(
    results: pd.DataFrame, models: pd.DataFrame, trends: pd.DataFrame, plots: list[str], *, metric: str,
    k: int, skipped: Sequence[Mapping[str, Any]], title: str, command: str | None, notes: str,
) -> str:  # fmt: skip
    """report.md: the command, models, the metric@k tables, trends, plots and skipped models."""
    lines = [f"# {title}", ""]
    if command:
        lines += ["Reproduce with:", "", "```", command, "```", ""]
    if notes:
        lines += [notes.strip(), ""]
    models_body = [
        [row.model, row.condition, row.n_layers, _millions(row.params_total), _millions(row.params_embedding),
         _millions(row.params_non_embedding)]
        for row in models.itertuples()
    ]  # fmt: skip
    lines += ["## Models", "", markdown_table(
        ["model", "condition", "layers", "total", "embedding", "non-embedding"], models_body
    )]  # fmt: skip
    lines += ["", f"## {metric}@{k}", "", metric_tables(results, metric, k)]
    lines += [
        f"## Log-linear trend of recall@{k} (slope per tenfold parameters)",
        "",
        trends_markdown(trends),
    ]
    lines += ["## Plots", ""] + [f"![{name}]({name})" for name in plots] + [""]
    if skipped:
        lines += ["## Skipped", ""]
        lines += [f"- {r['model']} ({r['condition']}, at {r['stage']}): {r['reason']}" for r in skipped] + [
            ""
        ]
    return "\n".join(lines)
