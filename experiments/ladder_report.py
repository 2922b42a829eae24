"""Recall@k against parameter count for the trained depth ladder (issue 18), from the headroom summary.

The ladder is the ``student-L<n>`` settings of ``experiments/headroom.py``: multilingual-e5-small cut to
its first n layers, scored three ways:

- ``truncated``: the cut model alone on both sides (``zero-shot-both-sides``; at 12 layers the full model,
  ``teacher-both-sides``);
- ``mse`` and ``ot+sentence``: the cut model distilled from the frozen 12-layer model, encoding the
  non-English side while the teacher encodes English.

Per benchmark group it writes a figure (recall against non-embedding parameters, log-2 axis, 95% bootstrap
intervals), a table, and the least-squares change per doubling of non-embedding parameters over the
trained sizes with a 95% t interval across sizes (few sizes: read it as a summary of the figure, not as a
law). Run from the project root, after ``experiments/headroom_report.py``::

    python experiments/ladder_report.py     # docs/results/headroom/ladder-recall@1.md and .png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from headroom import ME5, RESULTS, SETTINGS

CURVES = {"truncated": "zero-shot-both-sides", "mse": "mse", "ot+sentence": "ot+sentence"}
PANELS = (("trained", "flores-sentence"), ("trained", "flores-document"), ("trained", "ntrex-document"),
          ("untrained", "flores-sentence"), ("untrained", "flores-document"))  # fmt: skip
FULL_LAYERS = 12


def non_embedding_parameters(layers: list[int]) -> dict[int, int]:
    """Non-embedding parameters of multilingual-e5-small cut to each depth in ``layers``."""
    from optical_st.pretrained import load_sentence_transformer
    from optical_st.scaling import count_parameters, truncate_layers

    model = load_sentence_transformer(ME5, device="cpu")
    counts = {}
    for n in sorted(layers, reverse=True):  # truncation is in place: deepest first
        model = truncate_layers(model, n) if n < FULL_LAYERS else model
        counts[n] = count_parameters(model).non_embedding
    return counts


def ladder_points(rows: list[dict[str, Any]], metric: str) -> dict[tuple[str, str, str], dict[int, dict]]:
    """(curve, languages, benchmark) -> layers -> summary row."""
    layers_of = {name: s.student_layers for name, s in SETTINGS.items() if name.startswith("student-L")}
    points: dict[tuple[str, str, str], dict[int, dict]] = {}
    for row in rows:
        if row["metric"] != metric or row["setting"] not in layers_of:
            continue
        for curve, objective in CURVES.items():
            if row["objective"] == objective:
                points.setdefault((curve, row["languages"], row["benchmark"]), {})[
                    layers_of[row["setting"]]
                ] = row
        if row["objective"] == "teacher-both-sides":  # the same full model in every setting
            points.setdefault(("truncated", row["languages"], row["benchmark"]), {})[FULL_LAYERS] = row
    return points


def per_doubling(params: list[int], values: list[float]) -> tuple[float, float, float] | None:
    """Change of ``values`` per doubling of ``params`` with its 95% interval (None under 3 sizes), from the
    scaling study's own trend fit (:func:`optical_st.scaling.fit_trends`, which fits per tenfold)."""
    import pandas as pd

    from optical_st.scaling import fit_trends

    if len(params) < 3:
        return None
    frame = pd.DataFrame({"task": "ladder", "direction": "", "language": "", "low_resource": False,
                          "condition": "", "metric": "recall", "k": 1, "value": values,
                          "params_non_embedding": params})  # fmt: skip
    fit = fit_trends(frame, metric="recall", k=1, x="params_non_embedding").iloc[0]
    per_tenfold_to_per_doubling = float(np.log10(2))
    return tuple(float(fit[c]) * per_tenfold_to_per_doubling for c in ("slope", "ci_low", "ci_high"))


def write(points: dict, counts: dict[int, int], results: Path, metric: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(PANELS), figsize=(3.3 * len(PANELS), 3.2), squeeze=False)
    lines = [f"# Trained depth ladder: {metric} (points) against non-embedding parameters", "",
             "Mean over seeds [95% bootstrap CI]; seeds per cell in parentheses after the value. Truncated: the cut "
             "model on both sides; mse / ot+sentence: the cut model distilled from the 12-layer model (teacher "
             "encodes English).", ""]  # fmt: skip
    depths = sorted(counts)
    header = "| curve | languages | benchmark | " + " | ".join(
        f"L{n} ({counts[n] / 1e6:.1f}M)" for n in depths) + " | per doubling [95% CI] |"  # fmt: skip
    lines += [header, "|---|---|---|" + "---|" * (len(depths) + 1)]
    for j, (languages, benchmark) in enumerate(PANELS):
        axis = axes[0][j]
        for curve, colour in zip(CURVES, ("tab:gray", "tab:blue", "tab:orange"), strict=True):
            by_depth = points.get((curve, languages, benchmark), {})
            if not by_depth:
                continue
            shown = sorted(by_depth)
            x = [counts[n] / 1e6 for n in shown]
            y = [by_depth[n]["mean"] for n in shown]
            errors = [[by_depth[n]["mean"] - by_depth[n]["ci_low"] for n in shown],
                      [by_depth[n]["ci_high"] - by_depth[n]["mean"] for n in shown]]  # fmt: skip
            axis.errorbar(x, y, yerr=errors, marker="o", ms=4, capsize=2, color=colour, label=curve)
            trained_sizes = [n for n in shown if n < FULL_LAYERS]
            slope = per_doubling(
                [counts[n] for n in trained_sizes], [by_depth[n]["mean"] for n in trained_sizes]
            )
            texts = []
            for n in depths:
                row = by_depth.get(n)
                texts.append("" if row is None else f"{row['mean']:.1f} [{row['ci_low']:.1f}, {row['ci_high']:.1f}] "
                             f"({len(row['seeds']) or '-'})")  # fmt: skip
            slope_text = "" if slope is None else f"{slope[0]:+.1f} [{slope[1]:+.1f}, {slope[2]:+.1f}]"
            lines.append(
                f"| {curve} | {languages} | {benchmark} | " + " | ".join(texts) + f" | {slope_text} |"
            )
        axis.set_xscale("log", base=2)
        axis.set_xlabel("non-embedding parameters (M)", fontsize=7)
        axis.set_title(f"{languages} {benchmark}", fontsize=8)
        axis.tick_params(labelsize=7)
        if j == 0:
            axis.set_ylabel(f"{metric} (points)", fontsize=8)
            axis.legend(fontsize=7)
    figure.suptitle("multilingual-e5-small cut to 2-12 layers: truncated vs distilled, 95% CI", fontsize=9)
    figure.tight_layout()
    figure.savefig(results / f"ladder-{metric}.png", dpi=120)
    plt.close(figure)
    text = "\n".join(lines) + "\n"
    (results / f"ladder-{metric}.md").write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--metric", default="recall@1")
    args = parser.parse_args(argv)
    rows = json.loads((args.results / "summary.json").read_text(encoding="utf-8"))
    points = ladder_points(rows, args.metric)
    if not points:
        raise SystemExit(f"no student-L<n> rows for {args.metric} in {args.results / 'summary.json'}")
    depths = sorted({n for by_depth in points.values() for n in by_depth})
    print(write(points, non_embedding_parameters(depths), args.results, args.metric))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
