"""Tables, a plot and ``summary.json`` from the cells ``experiments/headroom.py`` wrote.

One summary row per (setting, objective, languages, benchmark group, metric):

- ``languages``: ``trained`` (Nepali, Sinhala) or ``untrained`` (Hindi, Marathi, Bengali);
- ``benchmark``: ``flores-sentence``, ``flores-document`` (FLORES-200, both directions), ``ntrex-document``
  (NTREX-128, both directions) or ``xquad-r`` (Hindi question -> English sentence);
- values in points (percent): per seed the macro average over the group's benchmarks; ``mean`` and
  ``spread`` (sample standard deviation) over seeds; ``ci_low``/``ci_high`` a 95% bootstrap interval of
  the macro of the seed-averaged per-query values; ``delta_vs_mse`` the paired difference to MSE
  ``vs``: per reference (``zero-shot``, the untrained student; ``mse``, MSE distillation of the same
  setting) the paired difference on the same queries (seed-averaged per query; 95% bootstrap interval and
  a paired randomisation test) and ``per_seed``, the same difference seed by seed.

Besides the ``train`` cells (benchmarks), the ``probe`` cells that ran several seeds on the validation
split carved from the training bitext are summarised the same way, under ``<setting> validation <recipe>``
(benchmark ``validation``).

Run from the project root::

    python experiments/headroom_report.py            # reads runs/headroom, writes docs/results/headroom
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from headroom import BASELINES, RESULTS, RUNS, SETTINGS, TRAINED

METRICS = ("recall@1", "recall@5", "recall@10", "ndcg@10")
GROUP_OF_PREFIX = {"flores200-sentence": "flores-sentence", "flores200-document": "flores-document",
                   "ntrex128-document": "ntrex-document", "xquad_r-passage": "xquad-r",
                   "validation-": "validation"}  # fmt: skip
ABBREVIATION = {"zero-shot": "z", "mse": "m"}
OBJECTIVE_ORDER = ("teacher-both-sides", "teacher-english-english", "multilingual-both-sides",
                   "zero-shot-both-sides", "zero-shot", "mse", "ot-plain", "ot", "ot+sentence")  # fmt: skip


def benchmark_group(name: str, languages: Iterable[str]) -> tuple[str, str] | None:
    """``(group, languages)`` of a benchmark, from its name (``flores200-sentence-npi_Deva-eng_Latn``) and
    its query and document languages."""
    for prefix, group in GROUP_OF_PREFIX.items():
        if name.startswith(prefix):
            languages = set(languages)
            if languages & set(TRAINED):
                return group, "trained"
            if languages - {"eng_Latn"}:  # any other language (UNTRAINED by default, all 13 in the full run)
                return group, "untrained"
            return group, "english"
    return None


def load_cells(runs: Path) -> dict[str, dict[str, dict[int, dict]]]:
    """setting -> objective -> seed -> cell (baselines under seed -1).

    Per setting, only the training recipe with the most finished cells counts (the others are named on
    stderr), so a rerun with other hyper-parameters never mixes into the table.
    """
    by_tag: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted((runs / "train").glob("*/*/*/cell.json")):
        cell = json.loads(path.read_text(encoding="utf-8"))
        by_tag[cell["setting"]["name"]][cell["recipe_tag"]].append(cell)
    cells: dict[str, dict[str, dict[int, dict]]] = defaultdict(lambda: defaultdict(dict))
    for setting, tags in by_tag.items():
        tag = max(tags, key=lambda t: len(tags[t]))
        if len(tags) > 1:
            print(f"{setting}: using recipe {tag}; ignoring {sorted(set(tags) - {tag})}", file=sys.stderr)
        for cell in tags[tag]:
            cells[setting][cell["objective"]][cell["seed"]] = cell
    for path in sorted((runs / "baselines").glob("*/*.json")):
        cell = json.loads(path.read_text(encoding="utf-8"))
        cells[cell["setting"]["name"]][cell["objective"]][-1] = cell
    return cells


def load_probe_cells(runs: Path) -> dict[str, dict[str, dict[int, dict]]]:
    """``"<setting> validation <recipe>"`` -> objective -> seed -> cell, for the probes that ran several seeds
    (``headroom.py probe --seeds``), with the untrained student under ``zero-shot``; of several
    ``ot+sentence`` weights, the one with the most seeds."""
    by_recipe: dict[tuple[str, str], dict[tuple[str, float | None], dict[int, dict]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for path in sorted((runs / "validate").glob("*/*/*/cell.json")):
        cell = json.loads(path.read_text(encoding="utf-8"))
        weight = cell["recipe"]["sentence_weight"] if cell["objective"] == "ot+sentence" else None
        by_recipe[(cell["setting"]["name"], cell["recipe_tag"])][(cell["objective"], weight)][
            cell["seed"]
        ] = cell
    probes: dict[str, dict[str, dict[int, dict]]] = {}
    for (setting, tag), by_objective in sorted(by_recipe.items()):
        if max(len(seeds) for seeds in by_objective.values()) < 2:
            continue
        chosen: dict[str, dict[int, dict]] = {}
        for (objective, _), seeds in sorted(by_objective.items(), key=lambda item: len(item[1])):
            chosen[objective] = seeds  # the most seeds last, so it wins
        untrained = runs / "validate" / setting / "zero-shot" / "cell.json"
        if untrained.is_file():
            chosen["zero-shot"] = {-1: json.loads(untrained.read_text(encoding="utf-8"))}
        probes[f"{setting} validation {tag}"] = chosen
    return probes


def grouped_per_query(cell: dict, metric: str) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """(group, languages) -> {benchmark key: per-query values of ``metric``}."""
    groups = {
        row["key"]: benchmark_group(row["benchmark"], (row["query_language"], row["document_language"]))
        for row in cell["results"]
        if row["n_benchmarks"] == 1
    }
    grouped: dict[tuple[str, str], dict[str, np.ndarray]] = defaultdict(dict)
    for key, values in cell["per_query"].items():
        group = groups.get(key)
        if group is not None and metric in values:
            grouped[group][key] = np.asarray(values[metric], dtype=np.float64)
    return grouped


def macro(values: Mapping[str, np.ndarray]) -> float:
    return float(np.mean([v.mean() for v in values.values()]))


def macro_bootstrap(values: Mapping[str, np.ndarray], n: int = 2000, seed: int = 0) -> tuple[float, float]:
    generator = np.random.default_rng(seed)
    replicates = np.zeros(n)
    for array in values.values():
        picks = generator.integers(0, len(array), size=(n, len(array)))
        replicates += array[picks].mean(axis=1)
    replicates /= len(values)
    low, high = np.quantile(replicates, [0.025, 0.975])
    return float(low), float(high)


def seed_average(per_seed: Iterable[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    per_seed = list(per_seed)
    return {key: np.mean([values[key] for values in per_seed], axis=0) for key in per_seed[0]}


REFERENCES = ("zero-shot", "mse")  # every objective is compared, query by query, with each of these


def compare(
    by_seed: Mapping[int, Mapping],
    reference: Mapping[int, Mapping],
    group: tuple[str, str],
    metric: str,
    n_resamples: int,
) -> dict[str, Any] | None:
    """Paired difference (points) of the seed-averaged per-query values to a reference's, and seed by seed
    (seed s vs the reference's seed s, or vs its only run for an untrained baseline)."""
    from optical_st.evaluation import paired_test

    seeds = sorted(seed for seed, grouped in by_seed.items() if group in grouped)
    reference_seeds = sorted(seed for seed, grouped in reference.items() if group in grouped)
    if not seeds or not reference_seeds:
        return None
    averaged = seed_average(by_seed[seed][group] for seed in seeds)
    reference_averaged = seed_average(reference[seed][group] for seed in reference_seeds)
    if set(averaged) != set(reference_averaged):
        return None
    test = paired_test(averaged, reference_averaged, metric=metric, n_resamples=n_resamples)
    per_seed = []
    for seed in (s for s in seeds if s >= 0):
        other = seed if seed in reference_seeds else reference_seeds[0] if len(reference_seeds) == 1 else None
        if other is not None:
            result = paired_test(
                by_seed[seed][group], reference[other][group], metric=metric, n_resamples=n_resamples
            )
            per_seed.append({"seed": seed, "delta": 100 * result.difference, "ci_low": 100 * result.ci_low,
                             "ci_high": 100 * result.ci_high, "p_value": result.p_value})  # fmt: skip
    return {"delta": 100 * test.difference, "ci_low": 100 * test.ci_low, "ci_high": 100 * test.ci_high,
            "p_value": test.p_value, "per_seed": per_seed}  # fmt: skip


#: reference -> (name of the difference, prefix of its interval and p-value fields) in a summary row
FLAT_FIELDS = {"mse": ("delta_vs_mse", "delta"), "zero-shot": ("delta_vs_zero_shot", "delta_zero_shot")}


def flat_deltas(objective: str, vs: Mapping[str, dict | None]) -> dict[str, Any]:
    """``delta_vs_mse``, ``delta_ci_low``, ``delta_ci_high``, ``delta_p_value`` (MSE rows carry 0) and the
    same against zero-shot (``delta_vs_zero_shot``, ``delta_zero_shot_ci_low``, ...) as top-level fields."""
    flat: dict[str, Any] = {}
    for reference, (name, prefix) in FLAT_FIELDS.items():
        test = vs.get(reference)
        if objective == reference:
            test = {"delta": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0}
        flat[name] = None if test is None else test["delta"]
        for field in ("ci_low", "ci_high", "p_value"):
            flat[f"{prefix}_{field}"] = None if test is None else test[field]
    return flat


def summary_rows(cells: dict[str, dict[str, dict[int, dict]]], n_resamples: int) -> list[dict[str, Any]]:
    rows = []
    for setting, objectives in cells.items():
        for metric in METRICS:
            per_objective = {
                objective: {seed: grouped_per_query(cell, metric) for seed, cell in seeds.items()}
                for objective, seeds in objectives.items()
            }
            for objective in sorted(
                per_objective, key=lambda o: OBJECTIVE_ORDER.index(o) if o in OBJECTIVE_ORDER else 99
            ):
                by_seed = per_objective[objective]
                groups = sorted({group for grouped in by_seed.values() for group in grouped})
                for group in groups:
                    seeds = sorted(seed for seed, grouped in by_seed.items() if group in grouped)
                    values = [macro(by_seed[seed][group]) for seed in seeds]
                    low, high = macro_bootstrap(seed_average(by_seed[seed][group] for seed in seeds))
                    rows.append({
                        "setting": setting, "objective": objective, "languages": group[1],
                        "benchmark": group[0], "metric": metric, "unit": "points",
                        "seeds": [s for s in seeds if s >= 0], "per_seed": [100 * v for v in values],
                        "mean": 100 * statistics.fmean(values),
                        "spread": 100 * statistics.stdev(values) if len(values) > 1 else 0.0,
                        "ci_low": 100 * low, "ci_high": 100 * high,
                        "n_benchmarks": len(by_seed[seeds[0]][group]),
                        "n_queries": int(sum(len(v) for v in by_seed[seeds[0]][group].values())),
                        "vs": {reference: compare(by_seed, per_objective[reference], group, metric, n_resamples)
                               for reference in REFERENCES if reference in per_objective and reference != objective},
                    })  # fmt: skip
                    rows[-1].update(flat_deltas(objective, rows[-1]["vs"]))
    return rows


def markdown(rows: list[dict[str, Any]], cells: dict, metric: str = "recall@1") -> str:
    lines = [
        f"# Headroom experiment: {metric} (points), mean ± spread (sample std) over seeds [95% CI]; "
        "Δz vs zero-shot and Δm vs MSE, paired over queries on seed-averaged values [95% CI] (p)",
        "",
    ]
    for setting in dict.fromkeys(r["setting"] for r in rows):
        setting_rows = [r for r in rows if r["setting"] == setting and r["metric"] == metric]
        if not setting_rows:
            continue
        if setting in cells:
            description = next(iter(next(iter(cells[setting].values())).values()))["setting"]["description"]
        else:
            description = SETTINGS[setting].description if setting in SETTINGS else ""
        lines += [f"## {setting}: {description}", ""]
        columns = sorted({(r["languages"], r["benchmark"]) for r in setting_rows},
                         key=lambda c: (("trained", "untrained", "english").index(c[0]), c[1]))  # fmt: skip
        lines.append(
            "| objective | seeds | " + " | ".join(f"{lang} {bench}" for lang, bench in columns) + " |"
        )
        lines.append("|---|---|" + "---|" * len(columns))
        for objective in OBJECTIVE_ORDER:
            by_column = {
                (r["languages"], r["benchmark"]): r for r in setting_rows if r["objective"] == objective
            }
            if not by_column:
                continue
            seeds = next(iter(by_column.values()))["seeds"]
            cells_text = []
            for column in columns:
                row = by_column.get(column)
                if row is None:
                    cells_text.append("")
                    continue
                text = f"{row['mean']:.1f}"
                if row["seeds"] and len(row["seeds"]) > 1:
                    text += f" ± {row['spread']:.1f}"
                text += f" [{row['ci_low']:.1f}, {row['ci_high']:.1f}]"
                for reference, test in row["vs"].items():
                    if test is not None and objective not in BASELINES:
                        text += (f"; Δ{ABBREVIATION[reference]} {test['delta']:+.1f} [{test['ci_low']:+.1f}, "
                                 f"{test['ci_high']:+.1f}] (p {test['p_value']:.2g})")  # fmt: skip
                cells_text.append(text)
            lines.append(
                f"| {objective} | {','.join(map(str, seeds)) or '-'} | " + " | ".join(cells_text) + " |"
            )
        lines.append("")
    return "\n".join(lines)


HEADLINE_COLUMNS = (("trained", "flores-sentence"), ("trained", "flores-document"), ("trained", "ntrex-document"),
                    ("untrained", "flores-sentence"), ("untrained", "flores-document"), ("untrained", "xquad-r"))  # fmt: skip


def headline_table(rows: list[dict[str, Any]], metric: str = "recall@1") -> str:
    """The README's table: per benchmark setting and objective, mean ± spread over seeds and, for trained
    objectives, the paired difference to MSE with its 95% interval."""
    lines = ["| setting | objective | seeds | " + " | ".join(f"{a} {b}" for a, b in HEADLINE_COLUMNS) + " |",
             "|---|---|---|" + "---|" * len(HEADLINE_COLUMNS)]  # fmt: skip
    settings = dict.fromkeys(r["setting"] for r in rows if r["benchmark"] != "validation")
    for setting in settings:
        for objective in OBJECTIVE_ORDER:
            by_column = {(r["languages"], r["benchmark"]): r for r in rows
                         if r["setting"] == setting and r["objective"] == objective and r["metric"] == metric}  # fmt: skip
            if not by_column:
                continue
            texts = []
            for column in HEADLINE_COLUMNS:
                row = by_column.get(column)
                text = "" if row is None else f"{row['mean']:.1f}"
                if row is not None and len(row["seeds"]) > 1:
                    text += f" ± {row['spread']:.1f}"
                if (
                    row is not None
                    and objective not in BASELINES
                    and objective != "mse"
                    and row["delta_vs_mse"] is not None
                ):
                    text += f" ({row['delta_vs_mse']:+.1f} [{row['delta_ci_low']:+.1f}, {row['delta_ci_high']:+.1f}])"
                texts.append(text)
            seeds = next(iter(by_column.values()))["seeds"]
            lines.append(f"| {setting} | {objective} | {len(seeds) or '-'} | " + " | ".join(texts) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path, metric: str = "recall@1") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = list(dict.fromkeys(r["setting"] for r in rows))
    panels = [("trained", "flores-sentence"), ("trained", "flores-document"), ("trained", "ntrex-document"),
              ("untrained", "flores-document"), ("untrained", "xquad-r")]  # fmt: skip
    figure, axes = plt.subplots(len(settings), len(panels), figsize=(3.2 * len(panels), 2.8 * len(settings)),
                                squeeze=False)  # fmt: skip
    for i, setting in enumerate(settings):
        for j, (languages, benchmark) in enumerate(panels):
            axis = axes[i][j]
            selected = [r for r in rows if r["setting"] == setting and r["metric"] == metric
                        and r["languages"] == languages and r["benchmark"] == benchmark]  # fmt: skip
            selected.sort(
                key=lambda r: (
                    OBJECTIVE_ORDER.index(r["objective"]) if r["objective"] in OBJECTIVE_ORDER else 99
                )
            )
            names = [r["objective"] for r in selected]
            means = [r["mean"] for r in selected]
            errors = [
                [r["mean"] - r["ci_low"] for r in selected],
                [r["ci_high"] - r["mean"] for r in selected],
            ]
            colours = [
                "tab:orange" if n.startswith("ot") else "tab:blue" if n == "mse" else "tab:gray"
                for n in names
            ]
            axis.barh(range(len(names)), means, xerr=errors, color=colours)
            axis.set_yticks(range(len(names)), names, fontsize=7)
            axis.invert_yaxis()
            if means:
                axis.set_xlim(
                    max(0, min(r["ci_low"] for r in selected) - 5),
                    min(100, max(r["ci_high"] for r in selected) + 2),
                )
            axis.set_title(f"{setting}\n{languages} {benchmark}", fontsize=8)
            axis.tick_params(axis="x", labelsize=7)
    figure.suptitle(f"{metric} (points), mean over seeds with 95% bootstrap CI", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def carry_over(rows: list[dict[str, Any]], previous: Path) -> list[dict[str, Any]]:
    """``rows`` plus the rows of ``previous`` (an earlier summary.json) whose (setting, objective) has no
    cells in this run, e.g. a setting whose per-query cells are gone; each carried pair is named on stderr."""
    present = {(r["setting"], r["objective"]) for r in rows}
    kept = [
        r
        for r in json.loads(previous.read_text(encoding="utf-8"))
        if (r["setting"], r["objective"]) not in present
    ]
    for setting, objective in dict.fromkeys((r["setting"], r["objective"]) for r in kept):
        print(f"carried over from {previous}: {setting} {objective}", file=sys.stderr)
    return rows + kept


def setting_order(row: dict[str, Any]) -> int:
    """Rows in :data:`SETTINGS` order (the validation probes last), so tables read the same run to run."""
    names = list(SETTINGS)
    return names.index(row["setting"]) if row["setting"] in names else len(names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, default=RUNS)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--n-resamples", type=int, default=5000)
    parser.add_argument("--carry-over", type=Path, default=None, metavar="SUMMARY_JSON",
                        help="keep this earlier summary's rows for (setting, objective) pairs with no cells in --runs")  # fmt: skip
    args = parser.parse_args(argv)
    if args.carry_over is not None and not args.carry_over.is_file():
        parser.error(f"--carry-over: no summary file at {args.carry_over}")
    cells = {**load_cells(args.runs), **load_probe_cells(args.runs)}
    rows = summary_rows(cells, args.n_resamples)
    if args.carry_over is not None:
        rows = carry_over(rows, args.carry_over)
    rows.sort(key=setting_order)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "summary.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    text = "\n\n".join(markdown(rows, cells, metric) for metric in METRICS)
    (args.results / "summary.md").write_text(text + "\n", encoding="utf-8")
    plot([r for r in rows if r["benchmark"] != "validation"], args.results / "recall@1.png")
    (args.results / "headline.md").write_text(headline_table(rows), encoding="utf-8")
    print(markdown(rows, cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
