"""Romanized South Asian queries (issue 21): cross-script distillation of multilingual-e5-small into itself.

The frozen teacher (multilingual-e5-small) reads the native-script sentence; the student (the same model,
trained) reads its romanization, or for a ``native_share`` of the pairs the native sentence itself. The
training text is the native side of FLoRes v1 (ne, si), TICO-19 (hi, bn, ur, ne, ta, mr) and the Tatoeba
Challenge (mr, hi, bn, ta, ur), with every sentence that occurs in FLORES-200 or NTREX-128 removed; the
learning rate is chosen on a validation split carved from that text. Scoring: FLORES-200 (1,040
sentences, all 15 languages) with native queries, queries romanized by the training romanizer's scheme
(uroman, clean) and by the other one (indic-transliteration ISO 15919, unseen in training), sentence and
document level; NTREX-128 for the trained low-resource languages. The teacher encodes English (OPTICAL's
inference); the student encodes every South Asian text.

A configuration over the headroom experiment's cells (``experiments/headroom.py``: one cell per objective
and seed, resumable, under the heavy lock)::

    python experiments/romanized.py zero-shot --lock ../heavy.lock
    python experiments/romanized.py validate --lrs 2e-4,5e-4,1e-3 --steps 200 --lock ../heavy.lock
    python experiments/romanized.py train --objectives mse,ot+sentence,ot --seeds 0,1,2 --lr 5e-4 --steps 1000
    python experiments/romanized_report.py      # docs/results/romanized: summary.json, summary.md, figure
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import headroom  # the cells, the lock, the evaluation of one model

ROOT = headroom.ROOT
DATA = headroom.DATA
RUNS = ROOT / "runs" / "romanized"
TRAINED = ("npi_Deva", "sin_Sinh", "hin_Deva", "mar_Deva", "ben_Beng", "tam_Taml", "urd_Arab")
VALIDATION_PER_LANGUAGE = 100
TRAINING_ROMANIZER = "uroman+noise=0.3"
SCORING_ROMANIZERS = ("uroman", "indic")  # the training scheme (clean) and the unseen one
SETTING = headroom.SETTINGS["self-L12"]

logger = logging.getLogger("romanized")


def evaluation_groups(data: Path, full_ntrex: bool = False) -> dict[str, list]:
    """Benchmark groups: FLORES native / romanized by each scorer, NTREX for the trained low-resource languages."""
    from optical_st.data import Romanizer, load_benchmarks

    flores = data / "flores200"
    groups = {"flores-native": load_benchmarks(flores, "all", directions="xx->eng,eng->xx")}
    for spec in SCORING_ROMANIZERS:
        groups[f"flores-{spec}"] = load_benchmarks(
            flores, "all_Latn", directions="xx->eng,eng->xx,xx_Latn->xx", romanizer=Romanizer.parse(spec)
        )
    ntrex_languages = (
        "npi_Latn,sin_Latn,npi,sin"
        if not full_ntrex
        else ",".join([*TRAINED, *(code.split("_")[0] + "_Latn" for code in TRAINED)])
    )
    groups["ntrex-uroman"] = load_benchmarks(data / "ntrex128", ntrex_languages, directions="xx->eng")
    return groups


def training_text(data: Path, benchmarks: list) -> tuple[Any, Any, dict[str, int]]:
    """(training bitext, validation bitext, counts): native-script text of the trained languages, deduplicated,
    every sentence of the evaluation benchmarks removed, ``VALIDATION_PER_LANGUAGE`` held out per language."""
    from datasets import concatenate_datasets

    from optical_st.data import load_bitext
    from optical_st.training import benchmark_texts, clean_bitext, drop_repeats

    parts = [
        load_bitext(data / "floresv1_ne_si", ["npi", "sin"], split=["dev", "devtest", "test"]),
        load_bitext(data / "tico19", ["hin", "ben", "urd", "npi", "tam", "mar"]),
        load_bitext(data / "tatoeba_challenge", ["mar", "hin", "ben", "tam", "urd"]),
    ]
    common = ["id", "language", "english", "target", "doc_id", "source"]
    bitext = concatenate_datasets([part.select_columns(common) for part in parts])
    bitext, counts = clean_bitext(bitext, exclude_texts=benchmark_texts(benchmarks))
    bitext = drop_repeats(bitext, ("language", "target")).shuffle(seed=1234)
    counts["unique_native"] = len(bitext)
    taken = dict.fromkeys(TRAINED, 0)
    validation_rows = []
    for index, language in enumerate(bitext["language"]):
        if taken[language] < VALIDATION_PER_LANGUAGE:
            taken[language] += 1
            validation_rows.append(index)
    held = set(validation_rows)
    validation = bitext.select(validation_rows)
    training = bitext.select([i for i in range(len(bitext)) if i not in held])
    counts["validation"], counts["train"] = len(validation), len(training)
    for language in TRAINED:
        counts[f"train_{language}"] = sum(1 for code in training["language"] if code == language)
    return training, validation, counts


def validation_groups(validation) -> dict[str, list]:
    """Held-out training text: native->English and romanized (both scorers)->English sentence retrieval."""
    from optical_st.data import Romanizer, bitext_benchmarks
    from optical_st.languages import romanized_code

    groups: dict[str, list] = {
        "validation-native": [],
        **{f"validation-{spec}": [] for spec in SCORING_ROMANIZERS},
    }
    for language in TRAINED:
        subset = validation.filter(lambda row, code=language: row["language"] == code)
        path = RUNS / "validation-text" / f"{language}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        subset.to_json(path, force_ascii=False)
        groups["validation-native"] += bitext_benchmarks(path, language, directions="xx->eng")
        for spec in SCORING_ROMANIZERS:
            romanizer = Romanizer.parse(spec)
            if romanizer.supports(language):
                groups[f"validation-{spec}"] += bitext_benchmarks(
                    path, romanized_code(language), directions="xx->eng", romanizer=romanizer
                )
    return groups


def evaluators(
    groups: dict[str, list], teacher: Any, cache_dir: Path | None, n_bootstrap: int
) -> dict[str, Any]:
    """One evaluator per group: the ``query`` prompt on both sides (translation retrieval), the teacher on English."""
    from optical_st.evaluation import CLIREvaluator

    common = {"k_values": (1, 5, 10), "batch_size": 64, "n_bootstrap": n_bootstrap, "write_json": False,
              "cache_dir": cache_dir, "language_encoders": {"eng_Latn": teacher}, "show_progress_bar": True,
              "query_prompt_name": "query", "document_prompt_name": "query"}  # fmt: skip
    return {name: CLIREvaluator(members, name="romanized", **common) for name, members in groups.items()}


def evaluate_groups(model: Any, evaluator_map: dict[str, Any]) -> dict[str, Any]:
    """``headroom.evaluate_model`` with per-query values keyed ``group/benchmark key``: the groups share
    benchmark keys (``npi_Latn->eng_Latn`` by uroman and by indic, FLORES and NTREX ``npi_Deva->eng_Latn``),
    which a flat dict would overwrite."""
    record: dict[str, Any] = {"metrics": {}, "results": [], "per_query": {}}
    started = time.perf_counter()
    for group, evaluator in evaluator_map.items():
        model.eval()
        record["metrics"].update({f"{group}/{k}": v for k, v in evaluator(model).items()})
        record["results"] += [{**row, "task": group} for row in evaluator.results]
        record["per_query"].update({f"{group}/{key}": values for key, values in evaluator.per_query.items()})
    record["eval_seconds"] = round(time.perf_counter() - started, 1)
    return record


def cross_script(bitext: Any, native_share: float, seed: int = 0) -> Any:
    from optical_st.data import Romanizer
    from optical_st.training import cross_script_pairs

    return cross_script_pairs(
        bitext, Romanizer.parse(TRAINING_ROMANIZER), native_share=native_share, seed=seed
    )


def command_zero_shot(args: argparse.Namespace) -> None:
    cell_file = args.runs / "zero-shot" / "cell.json"
    if cell_file.is_file():
        logger.info("%s: cached", cell_file)
        return
    teacher = SETTING.load_teacher()
    groups = evaluation_groups(args.data)
    _, validation, _ = training_text(args.data, [b for members in groups.values() for b in members])
    with headroom.heavy_lock(args.lock):
        started = time.perf_counter()
        record = {"kind": "zero-shot", "objective": "zero-shot", "seed": None,
                  **evaluate_groups(SETTING.load_student(), evaluators(groups, teacher, None, args.bootstrap)),
                  "validation": headroom.evaluate_model(
                      SETTING.load_student(), evaluators(validation_groups(validation), teacher, None, 0))["metrics"],
                  "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    headroom.write_json(cell_file, record)
    logger.info("zero-shot written: %s", cell_file)


def command_validate(args: argparse.Namespace) -> None:
    teacher = SETTING.load_teacher()
    groups = evaluation_groups(args.data)
    training, validation, counts = training_text(
        args.data, [b for members in groups.values() for b in members]
    )
    logger.info("training text: %s", counts)
    pairs = cross_script(training, args.native_share)
    evaluator_map = evaluators(validation_groups(validation), teacher, None, 0)
    cell_args = argparse.Namespace(runs=args.runs / _tag(args), lock=args.lock)
    for lr in [float(value) for value in args.lrs.split(",")]:
        recipe = headroom.Recipe(lr=lr, steps=args.steps, max_length=64, freeze_embeddings=True)
        for objective in args.objectives.split(","):
            record = headroom.run_cell(
                "validate", SETTING, objective, 0, recipe, pairs, evaluator_map, cell_args
            )
            logger.info("validate lr %g %s: %s", lr, objective, _validation_line(record["metrics"]))


def command_train(args: argparse.Namespace) -> None:
    teacher = SETTING.load_teacher()
    groups = evaluation_groups(args.data, full_ntrex=args.full_ntrex)
    benchmarks = [b for members in groups.values() for b in members]
    training, _, counts = training_text(args.data, benchmarks)
    logger.info("training text: %s", counts)
    evaluator_map = evaluators(groups, teacher, None, args.bootstrap)
    cell_args = argparse.Namespace(runs=args.runs / _tag(args), lock=args.lock)
    recipe = headroom.Recipe(lr=args.lr, steps=args.steps, max_length=64, freeze_embeddings=True,
                             sentence_weight=args.sentence_weight)  # fmt: skip
    headroom.evaluate_model = (
        evaluate_groups  # the cells' evaluation, with per-query keys that do not collide
    )
    for seed in [int(value) for value in args.seeds.split(",")]:
        pairs = cross_script(training, args.native_share, seed=seed)
        for objective in args.objectives.split(","):
            headroom.run_cell("train", SETTING, objective, seed, recipe, pairs, evaluator_map, cell_args)
            (args.runs / "training_text.json").write_text(
                json.dumps(counts, indent=1) + "\n", encoding="utf-8"
            )


def command_choose_lr(args: argparse.Namespace) -> None:
    """Print the validation's choice: the best romanized recall@1 (both scorers) among the learning rates
    that keep native-script recall@1 within 0.5 points of the untrained model's."""
    zero_shot = json.loads((args.runs / "zero-shot" / "cell.json").read_text(encoding="utf-8"))["validation"]
    floor = _macro(zero_shot, "validation-native") - 0.005
    scores = {}
    for cell in sorted((args.runs / _tag(args) / "validate").glob(f"*/*/{args.objectives}-seed0/cell.json")):
        record = json.loads(cell.read_text(encoding="utf-8"))
        metrics = record["metrics"]
        if _macro(metrics, "validation-native") >= floor:
            scores[record["recipe"]["lr"]] = sum(
                _macro(metrics, f"validation-{s}") for s in SCORING_ROMANIZERS
            )
    if not scores:
        raise SystemExit("no validation cell keeps native-script recall; run `validate` first")
    print(f"{max(scores, key=scores.get):g}")


def _macro(metrics: dict[str, float], group: str) -> float:
    return metrics[f"{group}/romanized_macro_recall@1"]


def _tag(args: argparse.Namespace) -> str:
    return f"{TRAINING_ROMANIZER.replace('=', '')}-native{args.native_share:g}"


def _validation_line(metrics: dict[str, float]) -> str:
    keys = sorted(k for k in metrics if k.endswith("macro_recall@1") and "low" not in k)
    return ", ".join(f"{k.split('/')[0]} {metrics[k]:.3f}" for k in keys)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("zero-shot", "validate", "train", "choose-lr"):
        command = sub.add_parser(name)
        command.add_argument("--data", type=Path, default=DATA)
        command.add_argument("--runs", type=Path, default=RUNS)
        command.add_argument("--lock", type=Path, default=None)
        command.add_argument("--bootstrap", type=int, default=1000)
        command.add_argument("--native-share", type=float, default=0.5)
        command.add_argument("--steps", type=int, default=1000)
        command.add_argument("--objectives", default="mse")
        command.add_argument("--sentence-weight", type=float, default=1000.0)
        command.add_argument(
            "--full-ntrex", action="store_true", help="NTREX for all seven trained languages"
        )
    sub.choices["validate"].add_argument("--lrs", default="2e-4,5e-4,1e-3")
    sub.choices["train"].add_argument("--lr", type=float, default=5e-4)
    sub.choices["train"].add_argument("--seeds", default="0,1,2")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    commands = {"zero-shot": command_zero_shot, "validate": command_validate, "train": command_train,
                "choose-lr": command_choose_lr}  # fmt: skip
    commands[args.command](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
