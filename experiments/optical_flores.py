"""The headline experiment: OPTICAL distillation of multilingual-e5-small for Nepali + Sinhala, on FLORES-200.

Frozen teacher and student both start as multilingual-e5-small. The student is trained on Nepali and
Sinhala bitext (FLoRes v1 dev+test for ne/si, TICO-19 for ne), minus every pair whose English or
target side occurs in the evaluation data, with four conditions that share bitext, steps, batch and
seed:

1. ``zero-shot``  no training;
2. ``mse``        sentence-transformers' MSELoss, student(target) ~ teacher(english) (Reimers & Gurevych 2020);
3. ``ot``         OTDistillLoss (OPTICAL);
4. ``ot+sentence`` OTDistillLoss with its sentence-level MSE term.

Each model is evaluated on FLORES-200 (dev+devtest as shipped in ../shared/data) for every language,
xx->eng and eng->xx, sentence- and document-level: recall@1/@10 with 95 % bootstrap intervals, and
paired permutation tests of each trained model against zero-shot and of OT against MSE.

Results (per condition, resumable) go to ``--output`` (default ``runs/optical_flores``); the summary
table (JSON + markdown) and the plot go to ``--results`` (default ``docs/results``).

Run (on a shared machine, take the heavy-run lock)::

    flock ../heavy.lock python experiments/optical_flores.py            # steps chosen to fit 30 min
    flock ../heavy.lock python experiments/optical_flores.py --steps N  # reproduce a given table
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any

CONDITIONS = ("zero-shot", "ot", "mse", "ot+sentence")  # most important first, if time runs out
TRAINED = ("npi_Deva", "sin_Sinh")
E5_SYMMETRIC_PROMPT = "query: "  # E5's prompt for symmetric tasks such as bitext mining

logger = logging.getLogger("optical_flores")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    root = Path(__file__).resolve().parent.parent
    shared = root.parent / "shared" / "data"
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model",
        default="intfloat/multilingual-e5-small",
        help="teacher and student start point (offline: the PyPI build)",
    )
    parser.add_argument("--data", type=Path, default=shared, help="../shared/data")
    parser.add_argument("--output", type=Path, default=root / "runs" / "optical_flores")
    parser.add_argument("--results", type=Path, default=root / "docs" / "results")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps per condition (default: chosen from --time-budget)")  # fmt: skip
    parser.add_argument("--time-budget", type=float, default=1800.0,
                        help="seconds for the whole table when --steps is not given: the zero-shot evaluation "
                        "and a 4-step OT calibration are timed first and the steps chosen to fit")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--reg", type=float, default=0.05)
    parser.add_argument("--sentence-weight", type=float, default=1.0)
    parser.add_argument("--sentence-loss", default="mse", choices=("mse", "cosine"),
                        help="sentence term of ot+sentence: MSE or 1 - cosine of pooled embeddings")  # fmt: skip
    parser.add_argument("--cost", default="cosine", choices=("cosine", "sqeuclidean"))
    parser.add_argument("--marginals", default="uniform", choices=("uniform", "norm", "idf"))
    parser.add_argument("--exclude-special-tokens", action="store_true")
    parser.add_argument("--eval-levels", default="sentence,document")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--finish-by", default=None, metavar="HH:MM",
                        help="wall-clock time (local) the table must be done by; shrinks --time-budget")  # fmt: skip
    parser.add_argument("--eval-languages", default="all")
    parser.add_argument("--eval-split", default=None, help="FLORES-200 split: dev, devtest or both (default)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (1 is faster when other processes share the cores)")  # fmt: skip
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--tag", default="", help="suffix of the result files (e.g. for a variant)")
    parser.add_argument("--english-encoder", default="student", choices=("student", "teacher"),
                        help="who encodes English at evaluation: the evaluated model (symmetric) or the frozen "
                        "teacher (OPTICAL's inference setup; the student encodes only the other language)")  # fmt: skip
    parser.add_argument("--reuse-trained", action="store_true",
                        help="evaluate a condition's saved student (<output>/<condition>/final) instead of "
                        "retraining when it was trained with the same steps/lr/batch/seed/loss options")  # fmt: skip
    return parser.parse_args(argv)


def load_training_bitext(data: Path, exclude: set[str], seed: int):
    from datasets import concatenate_datasets

    from optical_st.data import load_bitext
    from optical_st.training import clean_bitext

    parts = [
        load_bitext(data / "floresv1_ne_si", ["npi", "sin"], split=["dev", "test"]),
        load_bitext(data / "tico19", "npi"),
    ]
    bitext = concatenate_datasets(parts)
    bitext, counts = clean_bitext(bitext, exclude_texts=exclude)
    return bitext.shuffle(seed=seed), counts


def choose_steps(
    args: argparse.Namespace, bitext: Any, clock: float, eval_seconds: float, n_trained: int
) -> int:
    """Time 4 OT steps (the slowest objective; trainer time only) and pick the step count that fits the budget."""
    import tempfile

    from optical_st.pretrained import load_sentence_transformer
    from optical_st.training import DistillationRecipe, distill

    student = load_sentence_transformer(args.model, device="cpu")
    teacher = load_sentence_transformer(args.model, device="cpu")
    recipe = DistillationRecipe(loss="ot", steps=4, batch_size=args.batch_size, max_length=args.max_length,
                                lr=args.lr, reg=args.reg, prompt=E5_SYMMETRIC_PROMPT, save_steps=0,
                                show_progress_bar=False)  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        distill(student, teacher, bitext.select(range(4 * args.batch_size)), recipe, output_dir=scratch)
        # the trainer's own time: the run's set-up and saving are in `overhead` below, not per step
        run = json.loads((Path(scratch) / "training_run.json").read_text(encoding="utf-8"))
        per_step = run["train_seconds"] / 4
    overhead = 30.0  # loading two models + saving the student, per condition
    remaining = args.time_budget - (time.perf_counter() - clock) - n_trained * (1.1 * eval_seconds + overhead)
    steps = max(10, int(remaining / (n_trained * per_step)))
    logger.info("calibration: %.2f s per OT step; %.0f s left for training -> %d steps per condition",
                per_step, remaining, steps)  # fmt: skip
    return steps


def evaluate(model: Any, evaluator: Any) -> dict[str, Any]:
    started = time.perf_counter()
    metrics = evaluator(model)
    return {
        "metrics": metrics,
        "results": evaluator.results,
        "per_query": evaluator.per_query,
        "eval_seconds": round(time.perf_counter() - started, 1),
    }


OPTION_DEFAULTS = {
    "english_encoder": "student",
    "sentence_loss": "mse",
}  # for records made before these options

TRAINING_OPTIONS = ("model", "steps", "batch_size", "max_length", "lr", "reg", "sentence_weight", "cost",
                    "marginals", "exclude_special_tokens", "seed", "sentence_loss")  # fmt: skip


def trained_record(condition: str, args: argparse.Namespace) -> dict[str, Any] | None:
    """A finished record of ``condition`` (any tag) whose saved student was trained exactly as ``args`` asks."""
    wanted = {k: str(getattr(args, k)) for k in TRAINING_OPTIONS}
    for path in sorted(args.output.glob(f"{condition}*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("condition") != condition or "final" not in record:
            continue
        if (
            all(record["config"].get(k, OPTION_DEFAULTS.get(k)) == v for k, v in wanted.items())
            and Path(record["final"]).is_dir()
        ):
            return record
    return None


def cached_record(condition: str, args: argparse.Namespace, config: dict[str, str]) -> dict[str, Any] | None:
    """A finished record of ``condition`` made with the same settings; zero-shot is shared across tags."""
    relevant = [
        "model",
        "eval_languages",
        "eval_split",
        "eval_levels",
        "n_bootstrap",
        "seed",
        "english_encoder",
    ]
    if condition != "zero-shot":
        relevant += ["tag", *TRAINING_OPTIONS]
    paths = [args.output / f"{condition}{args.tag}.json", *sorted(args.output.glob(f"{condition}*.json"))]
    for path in dict.fromkeys(paths):
        if not path.is_file():
            continue
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("condition") == condition and all(
            record["config"].get(k, OPTION_DEFAULTS.get(k)) == config[k] for k in relevant
        ):
            logger.info("%s: reusing %s", condition, path)
            return record
    return None


def run_condition(condition: str, args: argparse.Namespace, bitext: Any, evaluator: Any) -> dict[str, Any]:
    from optical_st.pretrained import load_sentence_transformer
    from optical_st.training import DistillationRecipe, distill

    record: dict[str, Any] = {"condition": condition}
    previous = trained_record(condition, args) if args.reuse_trained and condition != "zero-shot" else None
    if previous is not None:
        logger.info("%s: evaluating the student saved at %s (no retraining)", condition, previous["final"])
        student = load_sentence_transformer(previous["final"], device="cpu")
        record.update({k: previous[k] for k in ("train_seconds", "final", "train_log")})
        record["reused_training"] = True
        record.update(evaluate(student, evaluator))
        return record
    student = load_sentence_transformer(args.model, device="cpu")
    if condition != "zero-shot":
        teacher = load_sentence_transformer(args.model, device="cpu")
        run_dir = args.output / f"{condition}{args.tag}"  # variants never overwrite each other
        recipe = DistillationRecipe(
            loss=condition, overwrite=True,
            steps=args.steps, batch_size=args.batch_size, max_length=args.max_length, lr=args.lr,
            seed=args.seed, reg=args.reg,
            sentence_weight=args.sentence_weight if condition == "ot+sentence" else None,
            prompt=E5_SYMMETRIC_PROMPT, save_steps=0, logging_steps=10,
            cost=args.cost,
            loss_options={} if condition == "mse" else {
                "marginals": args.marginals, "exclude_special_tokens": args.exclude_special_tokens,
                "sentence_loss": args.sentence_loss,
            },
        )  # fmt: skip
        final = distill(student, teacher, bitext, recipe, output_dir=run_dir)
        run = json.loads((run_dir / "training_run.json").read_text(encoding="utf-8"))
        record.update(
            {"train_seconds": run["train_seconds"], "final": str(final), "train_log": run["log_history"]}
        )
        del teacher
    record.update(evaluate(student, evaluator))
    return record


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stdout)
    from optical_st.evaluation import CLIREvaluator, flores_benchmarks
    from optical_st.training import benchmark_texts

    random.seed(args.seed)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    clock = time.perf_counter()
    if args.finish_by:
        import datetime as dt

        now = dt.datetime.now()
        hour, minute = (int(x) for x in args.finish_by.split(":"))
        left = (now.replace(hour=hour, minute=minute, second=0, microsecond=0) - now).total_seconds()
        args.time_budget = min(args.time_budget, max(left, 0.0))
        logger.info("finish by %s: time budget %.0f s", args.finish_by, args.time_budget)
    args.output.mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)
    benchmarks = flores_benchmarks(
        args.data / "flores200", args.eval_languages, split=args.eval_split, levels=args.eval_levels
    )
    exclude = benchmark_texts(benchmarks)
    bitext, counts = load_training_bitext(args.data, exclude, args.seed)
    logger.info("training pairs after removing evaluation overlap: %s", counts)
    language_encoders = None
    if args.english_encoder == "teacher":
        from optical_st.pretrained import load_sentence_transformer

        language_encoders = {"eng": load_sentence_transformer(args.model, device="cpu")}
    evaluator = CLIREvaluator(
        benchmarks, k_values=(1, 10), name="flores",
        query_prompt=E5_SYMMETRIC_PROMPT, document_prompt=E5_SYMMETRIC_PROMPT,
        batch_size=args.eval_batch_size, n_bootstrap=args.n_bootstrap, seed=args.seed, write_json=False,
        language_encoders=language_encoders,
    )  # fmt: skip

    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    if "zero-shot" in conditions:  # evaluated first: its time calibrates the budget
        conditions.remove("zero-shot")
        conditions.insert(0, "zero-shot")
    records = {}
    for condition in conditions:
        cache = args.output / f"{condition}{args.tag}.json"
        if condition != "zero-shot" and args.steps is None and cache.is_file():
            args.steps = int(
                json.loads(cache.read_text(encoding="utf-8"))["config"]["steps"]
            )  # rerun: same table
        if condition != "zero-shot" and args.steps is None:
            eval_seconds = records.get("zero-shot", {}).get("eval_seconds", 300.0)
            args.steps = choose_steps(args, bitext, clock, eval_seconds, len(conditions) - 1)
        config = {k: str(v) for k, v in vars(args).items() if k not in ("conditions", "results", "output")}
        cached = cached_record(condition, args, config)
        if cached is not None:
            records[condition] = cached
            continue
        logger.info("%s: starting (%.0f s elapsed)", condition, time.perf_counter() - clock)
        record = run_condition(condition, args, bitext, evaluator)
        record["config"] = config
        record["bitext_counts"] = counts
        cache.write_text(json.dumps(record, default=float) + "\n", encoding="utf-8")
        records[condition] = record
        logger.info(
            "%s: done, %s = %.4f (%.0f s elapsed)", condition, "flores_low_macro_recall@10",
            record["metrics"].get("flores_low_macro_recall@10", float("nan")), time.perf_counter() - clock,
        )  # fmt: skip

    from optical_flores_report import write_report  # helper next to this script

    write_report(records, args, counts, total_seconds=time.perf_counter() - clock)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
