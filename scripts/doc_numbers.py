"""Regenerate the evaluation numbers quoted in README.md and docs/evaluation.md, from their commands.

Every number between ``<!-- doc_numbers: NAME -->`` and ``<!-- /doc_numbers -->`` in those files is
rendered here from a results file in ``docs/results/``, and every results file is written by the
``optical-st evaluate`` command listed in :data:`RUNS` (the command the docs print beside the numbers;
the results file records it, and the resolved prompts of every benchmark).

Usage, from the project root::

    flock ../heavy.lock python scripts/doc_numbers.py --run   # evaluate (about 16 min on 2 cores), render
    python scripts/doc_numbers.py                                 # render the docs from docs/results/*.json
    python scripts/doc_numbers.py --check                         # exit 1 if a doc differs from its rendering

``--run NAME`` reruns one entry of :data:`RUNS`. The model is multilingual-e5-small as rebuilt offline
by ``optical-st fetch-model`` (4-bit weights, dequantized); the results files name it by that command,
never by this machine's path.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
MODEL = '"$(optical-st fetch-model)"'
MODEL_PLACEHOLDER = "$(optical-st fetch-model)"

RUNS: dict[str, str] = {
    "zero_shot_me5_small_flores200_npi": (
        f"optical-st evaluate --model {MODEL} --benchmark ../shared/data/flores200 --languages npi "
        "--output docs/results/zero_shot_me5_small_flores200_npi.json"
    ),
    "zero_shot_me5_small_flores200_npi_query-passage": (
        f"optical-st evaluate --model {MODEL} --benchmark ../shared/data/flores200 --languages npi "
        "--document-prompt 'passage: ' --output docs/results/zero_shot_me5_small_flores200_npi_query-passage.json"
    ),
    "zero_shot_me5_small_xquad_r": (
        f"optical-st evaluate --model {MODEL} --benchmark ../shared/data/xquad_r --languages hin "
        "--output docs/results/zero_shot_me5_small_xquad_r.json"
    ),
    "zero_shot_me5_small_xquad_r_symmetric": (
        f"optical-st evaluate --model {MODEL} --benchmark ../shared/data/xquad_r --languages hin "
        "--document-prompt 'query: ' --output docs/results/zero_shot_me5_small_xquad_r_symmetric.json"
    ),
    "zero_shot_me5_small_flores200": (
        f"optical-st evaluate --model {MODEL} --benchmark ../shared/data/flores200 --languages all "
        "--levels sentence --output docs/results/zero_shot_me5_small_flores200.json"
    ),
}
"""Results file stem -> the command that writes it (run from the project root)."""

DOCS = ("README.md", "docs/evaluation.md")
BLOCK = re.compile(
    r"(<!-- doc_numbers: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /doc_numbers -->)", re.DOTALL
)


def load(stem: str) -> dict:
    return json.loads((RESULTS / f"{stem}.json").read_text(encoding="utf-8"))


def values(run: Mapping) -> dict[tuple[str, str], dict]:
    """``{(benchmark key, "recall@1"): row}`` of a results file."""
    return {(row["key"], f"{row['metric']}@{row['k']}"): row for row in run["results"]}


def pct(row: Mapping, interval: bool = False) -> str:
    text = f"{100 * row['value']:.1f}"
    if interval and row.get("ci_low") is not None:
        text += f" [{100 * row['ci_low']:.1f}, {100 * row['ci_high']:.1f}]"
    return text


def prompts_of(run: Mapping, key: str) -> str:
    benchmark = next(b for b in run["benchmarks"] if b["key"] == key)
    return f"`{json.dumps(benchmark['query_prompt'])}` / `{json.dumps(benchmark['document_prompt'])}`"


def command_block(*stems: str) -> str:
    return "```bash\n" + "\n".join(load(stem)["command"] for stem in stems) + "\n```\n"


def _languages(run: Mapping) -> list[str]:
    return list(
        dict.fromkeys(b["query_language"] for b in run["benchmarks"] if b["document_language"] == "eng_Latn")
    )


def language_rows(table: Mapping, code: str) -> list[dict]:
    """xx->eng R@1, R@10, eng->xx R@1, R@10 rows of one language."""
    keys = (f"{code}->eng_Latn", f"eng_Latn->{code}")
    return [table[(key, metric)] for key in keys for metric in ("recall@1", "recall@10")]


# renderers: one per block name ---------------------------------------------------------------------
def readme_zero_shot() -> str:
    run = load("zero_shot_me5_small_flores200")
    table = values(run)
    lines = ["| language | xx→eng R@1 | xx→eng R@10 | eng→xx R@1 | eng→xx R@10 |", "|---|---|---|---|---|"]
    for code in _languages(run):
        lines.append(f"| {code} | " + " | ".join(pct(row) for row in language_rows(table, code)) + " |")
    low = table[("low_macro", "recall@1")]
    out_of_english = {code: pct(table[(f"{code}->eng_Latn", "recall@1")]) for code in _languages(run)}
    lowest = min(out_of_english.values(), key=float)
    worst = [code for code, value in out_of_english.items() if value == lowest]
    summary = (
        f"Prompts: {prompts_of(run, f'{worst[0]}->eng_Latn')} (query / document), the default for sentence"
        " retrieval. Sentence-level FLORES is close to saturated for this model (low-resource macro"
        f" recall@1 {pct(low)}, 95% CI [{100 * low['ci_low']:.1f}, {100 * low['ci_high']:.1f}]);"
        f" {' and '.join(worst)} (xx->eng recall@1 {lowest}) leave the most room. Harder views (document"
        " level, larger candidate pools, smaller models) are where distillation can show."
    )
    return (
        "\n".join(lines)
        + "\n\nProduced by (5.4 min here; `python scripts/doc_numbers.py --run` reruns every evaluation"
        " number in this README and docs/evaluation.md, about 16 min):\n\n"
        + command_block("zero_shot_me5_small_flores200")
        + "\n"
        + textwrap.fill(summary, width=100, break_on_hyphens=False)
        + "\n"
    )


def evaluation_zero_shot() -> str:
    from optical_st.languages import get_language

    run = load("zero_shot_me5_small_flores200")
    table = values(run)
    lines = [
        "| language | tier | xx->eng R@1 | xx->eng R@10 | eng->xx R@1 | eng->xx R@10 |",
        "|---|---|---|---|---|---|",
    ]
    groups: dict[str, list[list[float]]] = {"all languages": [], "low-resource": []}
    for code in _languages(run):
        language = get_language(code)
        rows = language_rows(table, code)
        cells = [pct(row, interval=row["k"] == 1) for row in rows]
        lines.append(f"| {language.name} (`{code}`) | {language.tier} | " + " | ".join(cells) + " |")
        numbers = [row["value"] for row in rows]
        groups["all languages"].append(numbers)
        if language.tier == "low":
            groups["low-resource"].append(numbers)
    for label, members in groups.items():
        means = [f"{100 * sum(column) / len(column):.1f}" for column in zip(*members, strict=True)]
        lines.append(f"| **mean, {label}** ({len(members)}) | | " + " | ".join(means) + " |")
    bullets = []
    for key, label in (("macro", "all"), ("low_macro", "low-resource")):
        for k in (1, 10):
            row = table[(key, f"recall@{k}")]
            bullets.append(
                f"- `{key}_recall@{k}` ({row['n_benchmarks']} benchmarks, {label}, both directions): "
                f"{pct(row)} (95% CI {100 * row['ci_low']:.1f}-{100 * row['ci_high']:.1f})"
            )
    intro = (
        f"Prompts: {prompts_of(run, 'npi_Deva->eng_Latn')} (query / document) on every benchmark, the"
        " default for sentence retrieval. Produced by (5.4 minutes on the 2 shared CPU cores, 13 minutes"
        " in an earlier run on a busier machine; add `--cache-dir DIR` to reuse embeddings):"
    )
    return (
        textwrap.fill(intro, width=100, break_on_hyphens=False)
        + "\n\n"
        + command_block("zero_shot_me5_small_flores200")
        + "\n"
        + "\n".join(lines)
        + "\n\n"
        + "\n".join(bullets)
        + "\n"
    )


def evaluation_prompts() -> str:
    symmetric, asymmetric = (
        load("zero_shot_me5_small_flores200_npi"),
        load("zero_shot_me5_small_flores200_npi_query-passage"),
    )
    xquad, xquad_symmetric = (
        load("zero_shot_me5_small_xquad_r"),
        load("zero_shot_me5_small_xquad_r_symmetric"),
    )
    lines = [
        "| benchmark | level | direction | prompts (query / document) | R@1 | R@10 | prompts (query / document) | R@1 | R@10 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for first, second, level, suffix in (
        (symmetric, asymmetric, "sentence", ""),
        (symmetric, asymmetric, "document", "_document"),
        (xquad, xquad_symmetric, "passage", "_passage"),
    ):
        pair = ("hin_Deva", "eng_Latn") if level == "passage" else ("npi_Deva", "eng_Latn")
        for query, document in (pair, pair[::-1]):
            key = f"{query}->{document}{suffix}"
            cells = []
            for run in (first, second):
                table = values(run)
                cells += [prompts_of(run, key), pct(table[(key, "recall@1")]), pct(table[(key, "recall@10")])]
            name = "XQuAD-R" if level == "passage" else "FLORES-200"
            lines.append(f"| {name} | {level} | {query}->{document} | " + " | ".join(cells) + " |")

    def loss(level: str, k: str = "recall@1") -> list[float]:
        suffix = "" if level == "sentence" else f"_{level}"
        return [
            100 * (values(symmetric)[(key, k)]["value"] - values(asymmetric)[(key, k)]["value"])
            for key in (f"npi_Deva->eng_Latn{suffix}", f"eng_Latn->npi_Deva{suffix}")
        ]

    sentence, document = loss("sentence"), loss("document")
    summary = (
        f"On translation retrieval the query/passage pair costs this model {min(sentence):.1f} to"
        f" {max(sentence):.1f} points of sentence-level R@1 and {min(document):.1f} to {max(document):.1f}"
        " points of document-level R@1: a number quoted without its prompts is not a number about the"
        " model. The first prompt pair of each row is the default for that task. Produced by:"
    )
    return (
        "\n".join(lines)
        + "\n\n"
        + textwrap.fill(summary, width=100, break_on_hyphens=False)
        + "\n\n"
        + command_block(
            "zero_shot_me5_small_flores200_npi",
            "zero_shot_me5_small_flores200_npi_query-passage",
            "zero_shot_me5_small_xquad_r",
            "zero_shot_me5_small_xquad_r_symmetric",
        )
    )


RENDERERS: dict[str, Callable[[], str]] = {
    "readme-zero-shot": readme_zero_shot,
    "evaluation-zero-shot": evaluation_zero_shot,
    "evaluation-prompts": evaluation_prompts,
}


# running and rendering -------------------------------------------------------------------------------
def run(stem: str) -> None:
    """Run one command of :data:`RUNS` from the project root; record it as documented, without local paths."""
    bin_dir = Path(sys.executable).parent  # the optical-st next to this interpreter (e.g. .venv/bin)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    model_dir = subprocess.run(
        ["optical-st", "fetch-model"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    print(f"$ {RUNS[stem]}", flush=True)
    subprocess.run(["bash", "-c", RUNS[stem]], cwd=ROOT, env=env, check=True)
    for path in (RESULTS / f"{stem}.json", RESULTS / f"{stem}.md"):
        text = path.read_text(encoding="utf-8").replace(model_dir, MODEL_PLACEHOLDER)
        if path.suffix == ".json":  # record the command as run (the shell expanded the model folder)
            recorded = re.search(r'"command": "(?:[^"\\]|\\.)*"', text)
            text = text[: recorded.start()] + f'"command": {json.dumps(RUNS[stem])}' + text[recorded.end() :]
        path.write_text(text, encoding="utf-8")


def render(text: str) -> str:
    def replace(match: re.Match) -> str:
        body = RENDERERS[match.group("name")]()
        return match.group(1) + body + match.group(4)

    return BLOCK.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", nargs="*", metavar="NAME", choices=sorted(RUNS),
                        help="rerun these evaluations first (all when no name is given)")  # fmt: skip
    parser.add_argument("--check", action="store_true", help="exit 1 if a doc differs from its rendering")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.run is not None:
        for stem in args.run or RUNS:
            run(stem)
    stale = []
    for name in DOCS:
        path = ROOT / name
        text = path.read_text(encoding="utf-8")
        rendered = render(text)
        if rendered != text:
            stale.append(name)
            if not args.check:
                path.write_text(rendered, encoding="utf-8")
    if args.check and stale:
        print(f"out of date: {', '.join(stale)} (run python scripts/doc_numbers.py)", file=sys.stderr)
        return 1
    print("rewrote " + ", ".join(stale) if stale else "docs are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
