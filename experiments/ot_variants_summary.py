"""One markdown table of the OT variants (experiments/ot_variants.sh) beside the main table's OT rows.

Reads ``docs/results/optical_flores.json`` and ``docs/results/ot_variants/optical_flores_*.json`` (written by
``experiments/optical_flores.py``) and prints, per trained variant: the paired recall@1 difference to
zero-shot (all four views, trained and untrained languages, 95 % interval), the trained languages'
document-level xx->eng recall@1, and the OT diagnostics at the last logged step.

Run::

    python experiments/ot_variants_summary.py            # prints the table
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

TRAINED = ("npi_Deva", "sin_Sinh")


def _difference(tests: list[dict[str, Any]], condition: str, group_prefix: str) -> str:
    for test in tests:
        if (test["a"], test["b"], test["views"]) == (condition, "zero-shot", "all views") and test[
            "group"
        ].startswith(group_prefix):
            return (
                f"{100 * test['difference']:+.2f} [{100 * test['ci_low']:+.2f}, {100 * test['ci_high']:+.2f}]"
            )
    return "-"


def _last_diagnostics(train_log: list[dict[str, Any]]) -> str:
    logged = [entry for entry in train_log if "ot/transport_cost" in entry]
    if not logged:
        return "-"
    last = logged[-1]
    return (
        f"{last['ot/transport_cost']:.3f} / {last['ot/plan_entropy']:.2f} / {last['ot/plan_sharpness']:.3f}"
    )


def rows(path: Path, label: str) -> list[str]:
    result = json.loads(path.read_text(encoding="utf-8"))
    tests = result["paired_tests"]["recall@1"]
    lines = []
    for condition, record in result["conditions"].items():
        if condition == "zero-shot" or condition == "mse":
            continue
        metrics = record["metrics"]
        document = [metrics[f"flores_{lang}->eng_Latn_document_recall@1"] for lang in TRAINED]
        lines.append(
            f"| {label} | {condition} | {_difference(tests, condition, 'trained')} | "
            f"{_difference(tests, condition, 'not trained')} | {100 * sum(document) / len(document):.1f} | "
            f"{_last_diagnostics(record['train_log'])} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=root / "docs" / "results")
    args = parser.parse_args(argv)
    print("| variant | condition | recall@1 - zero-shot, trained (npi, sin) | untrained (hin, mar) | "
          "trained document xx->eng recall@1 | last cost / entropy / sharpness |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for line in rows(args.results / "optical_flores.json", "main table (lr 5e-5, reg 0.05, cosine, uniform)"):
        print(line)
    for path in sorted((args.results / "ot_variants").glob("optical_flores_*.json")):
        for line in rows(path, path.stem.removeprefix("optical_flores_")):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
