"""Tables (JSON + markdown) and the plot of experiments/optical_flores.py, from its per-condition records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from optical_st.results import markdown_table

TRAINED = ("npi_Deva", "sin_Sinh")
VIEWS = (  # (level, direction label, query side is English)
    ("sentence", "xx->eng", False),
    ("sentence", "eng->xx", True),
    ("document", "xx->eng", False),
    ("document", "eng->xx", True),
)
COMPARISONS = (("mse", "zero-shot"), ("ot", "zero-shot"), ("ot+sentence", "zero-shot"), ("ot", "mse"),
               ("ot+sentence", "mse"))  # fmt: skip


def _n_queries(records: Mapping[str, Mapping[str, Any]]) -> str:
    counts = sorted(
        {row["n_queries"] for r in records.values() for row in language_rows(r) if row["level"] == "sentence"}
    )
    return "/".join(str(n) for n in counts)


def _language(row: Mapping[str, Any]) -> str:
    return row["document_language"] if row["query_language"] == "eng_Latn" else row["query_language"]


def _view(row: Mapping[str, Any]) -> tuple[str, str]:
    return row["level"], "eng->xx" if row["query_language"] == "eng_Latn" else "xx->eng"


def language_rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-benchmark rows only (not the macro rows) of one condition."""
    return [row for row in record["results"] if row["query_language"] != "*"]


def lookup(record: Mapping[str, Any]) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    """(language, level, direction, metric@k) -> row."""
    table = {}
    for row in language_rows(record):
        level, direction = _view(row)
        table[
            (
                _language(row),
                level,
                direction,
                f"{row['metric']}@{row['k']}" if row.get("k") else row["metric"],
            )
        ] = row
    return table


def _metric_name(row: Mapping[str, Any]) -> str:
    return f"{row['metric']}@{row['k']}" if row.get("k") and "@" not in row["metric"] else row["metric"]


def _cell(row: Mapping[str, Any] | None, ci: bool = True) -> str:
    if row is None:
        return "-"
    text = f"{100 * row['value']:.1f}"
    if ci and row.get("ci_low") is not None and row["ci_low"] == row["ci_low"]:
        text += f" [{100 * row['ci_low']:.1f}, {100 * row['ci_high']:.1f}]"
    return text


def keys_for(per_query: Mapping[str, Any], languages: Iterable[str], views=VIEWS) -> list[str]:
    """Benchmark keys (``npi_Deva->eng_Latn``, ``eng_Latn->npi_Deva_document``) of some languages/views."""
    wanted = set(languages)
    keys = []
    for key in per_query:
        pair, _, level = key.partition("_document")
        level = "document" if key.endswith("_document") else "sentence"
        query, document = pair.split("->")
        language = document if query == "eng_Latn" else query
        direction = "eng->xx" if query == "eng_Latn" else "xx->eng"
        if language in wanted and (level, direction) in {(v[0], v[1]) for v in views}:
            keys.append(key)
    return keys


def paired_tests(records: Mapping[str, Mapping[str, Any]], metric: str, languages: list[str]) -> list[dict]:
    from optical_st.evaluation import compare_runs

    trained = [c for c in TRAINED if c in languages]
    untrained = [c for c in languages if c not in TRAINED]
    groups = {
        "trained (npi, sin)": trained,
        f"not trained ({', '.join(c[:3] for c in untrained)})": untrained,
    }
    out = []
    for a, b in COMPARISONS:
        if a not in records or b not in records:
            continue
        for group, members in groups.items():
            for views_label, views in (("all views", VIEWS), ("eng->xx (English queries)", VIEWS[1::2])):
                keys = keys_for(records[a]["per_query"], members, views)
                if not keys:
                    continue
                sub_a = {k: records[a]["per_query"][k] for k in keys}
                sub_b = {k: records[b]["per_query"][k] for k in keys}
                macro = compare_runs(sub_a, sub_b, metric, n_resamples=2000, seed=0)[-1]
                out.append({"a": a, "b": b, "group": group, "views": views_label, **macro.as_dict()})
    return out


def write_report(records: Mapping[str, Mapping[str, Any]], args: Any, counts: Mapping[str, int], *,
                 total_seconds: float) -> tuple[Path, Path, Path]:  # fmt: skip
    conditions = [c for c in ("zero-shot", "mse", "ot", "ot+sentence") if c in records]
    tables = {c: lookup(records[c]) for c in conditions}
    languages = sorted({key[0] for key in next(iter(tables.values()))})
    languages = [c for c in TRAINED if c in languages] + [c for c in languages if c not in TRAINED]
    tests = {m: paired_tests(records, m, languages) for m in ("recall@1", "recall@10")}

    variant = f" ({args.tag.strip('_-')})" if args.tag else ""
    lines = [f"# OPTICAL on FLORES-200: multilingual-e5-small, trained on Nepali + Sinhala{variant}", ""]
    lines += [
        f"Steps {args.steps}, batch {args.batch_size}, max length {args.max_length}, lr {args.lr}, "
        f"reg {args.reg}, seed {args.seed}; English encoded at evaluation by the "
        f"{getattr(args, 'english_encoder', 'student')}; training pairs {counts.get('kept')} "
        f"({counts.get('overlap')} dropped as overlapping FLORES-200). Whole table: {total_seconds / 60:.1f} min.",
        "",
        "Values are percentages; brackets are 95 % bootstrap intervals over queries "
        f"({_n_queries(records)} sentence queries per benchmark).",
        "",
        "## Time per condition", "",
        markdown_table(["condition", "train s", "eval s"],
                       [[c, records[c].get("train_seconds", 0), records[c].get("eval_seconds")] for c in conditions]),
    ]  # fmt: skip
    others = [x for x in languages if x not in TRAINED]
    for k in (1, 10):
        lines += ["", f"## Macro recall@{k}: trained languages vs the others (means over languages)", ""]
        columns = [(name, group, level, direction) for name, group in (("trained", list(TRAINED)), ("others", others))
                   for level, direction, _ in VIEWS]  # fmt: skip
        body = []
        for c in conditions:
            cells = []
            for _, group, level, direction in columns:
                values = [tables[c][(lang, level, direction, f"recall@{k}")]["value"] for lang in group
                          if (lang, level, direction, f"recall@{k}") in tables[c]]  # fmt: skip
                cells.append(f"{100 * sum(values) / len(values):.1f}" if values else "-")
            body.append([c, *cells])
        lines.append(markdown_table(["condition", *(f"{n} {lv} {d}" for n, _, lv, d in columns)], body))
    for metric in ("recall@1", "recall@10"):
        lines += ["", f"## Paired tests, {metric} (A - B, macro over the group's benchmarks)", ""]
        body = [
            [t["a"], t["b"], t["group"], t["views"], f"{100 * t['mean_a']:.1f}", f"{100 * t['mean_b']:.1f}",
             f"{100 * t['difference']:+.2f} [{100 * t['ci_low']:+.2f}, {100 * t['ci_high']:+.2f}]",
             f"{t['p_value']:.3g}"]
            for t in tests[metric]
        ]  # fmt: skip
        lines.append(markdown_table(["A", "B", "languages", "views", "A", "B", "A - B [95 % CI]", "p"], body))
    for level, direction, _ in VIEWS:
        for k in (1, 10):
            lines += ["", f"## {level}-level {direction}, recall@{k} per language", ""]
            body = [
                [f"{lang}{' (trained)' if lang in TRAINED else ''}",
                 *(_cell(tables[c].get((lang, level, direction, f"recall@{k}"))) for c in conditions)]
                for lang in languages
            ]  # fmt: skip
            lines.append(markdown_table(["language", *conditions], body))

    tag = args.tag
    results_dir = Path(args.results)
    md_path = results_dir / f"optical_flores{tag}.md"
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    json_path = results_dir / f"optical_flores{tag}.json"
    payload = {
        "config": {k: str(v) for k, v in vars(args).items()},
        "bitext_counts": dict(counts),
        "total_seconds": round(total_seconds, 1),
        "conditions": {
            c: {
                "train_seconds": records[c].get("train_seconds"),
                "eval_seconds": records[c].get("eval_seconds"),
                "metrics": records[c]["metrics"],
                "results": records[c]["results"],
                "train_log": records[c].get("train_log", []),
            }
            for c in conditions
        },
        "paired_tests": tests,
    }
    json_path.write_text(json.dumps(payload, indent=1, default=float) + "\n", encoding="utf-8")
    png_path = results_dir / f"optical_flores{tag}.png"
    plot(tables, conditions, languages, png_path)
    return md_path, json_path, png_path


def plot(tables, conditions, languages, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    colors = {"zero-shot": "#999999", "mse": "#1f77b4", "ot": "#d62728", "ot+sentence": "#ff7f0e"}
    x = np.arange(len(languages))
    width = 0.8 / len(conditions)
    fig, axes = plt.subplots(2, 1, figsize=(12, 7.5), sharex=True)
    for i, c in enumerate(conditions):
        rows = [tables[c].get((lang, "sentence", "xx->eng", "recall@1")) for lang in languages]
        values = np.array([r["value"] for r in rows]) * 100
        err = np.array([[r["value"] - r["ci_low"], r["ci_high"] - r["value"]] for r in rows]).T * 100
        axes[0].bar(x + (i - (len(conditions) - 1) / 2) * width, values, width, yerr=err, capsize=1.5,
                    label=c, color=colors.get(c))  # fmt: skip
    axes[0].set_ylabel("recall@1 (%)\nsentence-level xx->eng")
    low = min(
        tables[c][(lang, "sentence", "xx->eng", "recall@1")]["value"]
        for c in conditions
        for lang in languages
    )
    axes[0].set_ylim(max(0.0, 100 * low - 10), 100)
    axes[0].legend(ncol=len(conditions), fontsize=8, loc="lower right")
    trained_conditions = [c for c in conditions if c != "zero-shot"]
    if "zero-shot" in conditions:
        for i, c in enumerate(trained_conditions):
            deltas = []
            for lang in languages:
                diffs = [
                    tables[c][(lang, level, direction, "recall@1")]["value"]
                    - tables["zero-shot"][(lang, level, direction, "recall@1")]["value"]
                    for level, direction, _ in VIEWS
                    if (lang, level, direction, "recall@1") in tables[c]
                ]
                deltas.append(100 * sum(diffs) / len(diffs))
            offset = (i - (len(trained_conditions) - 1) / 2) * (0.8 / len(trained_conditions))
            axes[1].bar(x + offset, deltas, 0.8 / len(trained_conditions), label=c, color=colors.get(c))
        axes[1].axhline(0, color="black", linewidth=0.6)
        axes[1].set_ylabel("recall@1 change vs zero-shot\n(points, mean of 4 views)")
        axes[1].legend(ncol=len(trained_conditions), fontsize=8)
    for ax in axes:
        for j, lang in enumerate(languages):
            if lang in TRAINED:
                ax.axvspan(j - 0.45, j + 0.45, color="#ffe9a8", alpha=0.5, zorder=0)
    axes[1].set_xticks(x, [lang.split("_")[0] for lang in languages])
    axes[0].set_title("multilingual-e5-small on FLORES-200; students trained on Nepali + Sinhala (shaded)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
