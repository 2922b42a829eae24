"""`optical-st scale`: the scaling study (parameter count vs recall@k, zero-shot and OT-distilled)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from optical_st.commands._checks import check_device, check_non_negative, check_positive, parse_cutoffs

if TYPE_CHECKING:
    from optical_st.scaling import ScalingStudy

HELP = "scaling study: many encoders x languages, zero-shot and OT-distilled -> table, plots, trends"

EPILOG = """\
model specs: PATH_OR_HUB_ID | NAME=PATH_OR_HUB_ID | truncate:SRC:N | ladder:SRC:3,6,9,12 | preset:NAME
  (presets: public-families, me5-small-ladder). The committed example (docs/scaling.md):
  optical-st scale --models ladder:/work/cache/me5-small:3,6,9,12 --benchmark ../shared/data/flores200 \\
      --languages all --max-pairs 100 --k 1,5,10 --distill-bitext ../shared/data/floresv1_ne_si \\
      --distill-split dev --distill-max-pairs 128 --distill-max-length 64 --distill-lr 5e-5 \\
      --distill-freeze-embeddings --output-dir runs/scaling --report-dir docs/results/scaling --report-k 1
  A model family from the Hub: --models intfloat/multilingual-e5-small,intfloat/multilingual-e5-base,...
  Add --budget to any of these to see the plan and its time on this machine without running it.
exit codes: 0 report written (or --budget printed), 1 bad input, nothing finished or over --max-minutes,
  3 report written but some models skipped
"""


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--models", nargs="+", required=True, metavar="SPEC", help="model specs (see below)")
    parser.add_argument(
        "--benchmark",
        action="append",
        required=True,
        metavar="SOURCE",
        help="bitext source for sentence retrieval (e.g. shared/data/flores200) or a saved benchmark "
        "folder (with metadata.json); repeatable",
    )
    parser.add_argument("--split", default=None, help="split of the benchmark bitext (default: all)")
    parser.add_argument(
        "--max-pairs",
        type=int,
        default=None,
        help="evaluate on a seeded sample of this many pairs per language",
    )
    parser.add_argument("--languages", default="all", help="languages, e.g. npi,sin or low or all")
    parser.add_argument("--directions", default="xx->eng", help="comma-separated: xx->eng,eng->xx")
    parser.add_argument(
        "--levels",
        default="sentence",
        help="comma-separated: sentence (retrieve the translation), document (retrieve its article)",
    )
    parser.add_argument("--k", default="1,5,10", help="recall cut-offs (default 1,5,10)")
    parser.add_argument("--output-dir", required=True, type=Path, help="cells, skip records, checkpoints")
    parser.add_argument("--report-dir", type=Path, default=None, help="report folder (default OUTPUT/report)")
    parser.add_argument("--metric", default="recall", help="metric of the table and plots (default recall)")
    parser.add_argument("--report-k", type=int, default=10, help="k of the table and plots (default 10)")
    parser.add_argument("--title", default="Scaling study", help="report title")
    parser.add_argument(
        "--conditions", default=None, help="zero-shot,ot-distilled (default: both with a recipe)"
    )
    _add_recipe_arguments(parser)
    parser.add_argument(
        "--checkpoint-dir", type=Path, default=None, help="distilled students (default OUTPUT/checkpoints)"
    )
    parser.add_argument(
        "--device", default=None, help="torch device (default: sentence-transformers' choice)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="encoding batch size")
    parser.add_argument("--query-prompt", default=None, help="query prompt for every model (default: saved)")
    parser.add_argument(
        "--document-prompt", default=None, help="document prompt for every model (default: saved)"
    )
    parser.add_argument(
        "--n-bootstrap", type=int, default=1000, help="bootstrap replicates for CIs (0: none)"
    )
    parser.add_argument(
        "--push-to-hub", default=None, metavar="REPO_ID", help="upload the report as a dataset"
    )
    _add_budget_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(_scale_parser=parser)


def _add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """``--distill-*``, ``--teacher``, ``--loss``, ``--seed``: how the distilled condition is made."""
    recipe = parser.add_argument_group("distillation recipe (adds the ot-distilled condition)")
    recipe.add_argument("--distill-bitext", default=None, metavar="SOURCE", help="training bitext source")
    recipe.add_argument("--distill-languages", default=None, help="training languages (default: all)")
    recipe.add_argument("--distill-split", default=None, help="training split (e.g. dev)")
    recipe.add_argument("--distill-max-pairs", type=int, default=None, help="pairs per language (sampled)")
    recipe.add_argument(
        "--teacher", default=None, help="teacher spec (default: each model's full-depth source)"
    )
    recipe.add_argument(
        "--loss",
        default="ot",
        choices=("ot", "ot+sentence", "mse"),
        help="training objective; the distilled condition is labelled ot-distilled whatever the loss, so "
        "give an MSE study its own --output-dir",
    )
    recipe.add_argument("--distill-steps", type=int, default=None, help="optimizer steps (default: epochs)")
    recipe.add_argument("--distill-epochs", type=float, default=1.0)
    recipe.add_argument("--distill-batch-size", type=int, default=16)
    recipe.add_argument("--distill-lr", type=float, default=2e-5)
    recipe.add_argument(
        "--distill-reg", type=float, default=None,
        help="entropic OT regularisation (default: the loss's, 0.5 x the spread of each pair's token costs)",
    )  # fmt: skip
    recipe.add_argument("--distill-max-length", type=int, default=128)
    recipe.add_argument(
        "--distill-freeze-embeddings",
        action="store_true",
        help="keep the student's token embedding matrix fixed (as optical-st train --freeze-embeddings)",
    )
    recipe.add_argument(
        "--teacher-cache", default=None, metavar="DIR",
        help="keep the teacher's outputs in DIR (e.g. OUTPUT/teacher-cache): every model, seed and objective "
        "distilled from the same teacher runs it once per text (default off)",
    )  # fmt: skip
    recipe.add_argument("--seed", type=int, default=0, help="seed of training and of the --max-pairs sample")


def _add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    """``--budget``, ``--max-minutes``: the plan and its time before anything runs."""
    budget = parser.add_argument_group(
        "plan and time estimate (measured on this machine, see docs/scaling.md)"
    )
    budget.add_argument(
        "--budget",
        action="store_true",
        help="print the plan and how long it would take here (measured briefly on the models), then exit",
    )
    budget.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        metavar="M",
        help="measure first; stop with exit code 1 before any cell runs if the estimate exceeds M minutes",
    )


def reproduce_command(args: argparse.Namespace) -> str:
    """The ``optical-st scale`` command line that reproduces ``args`` (non-default options only)."""
    parser: argparse.ArgumentParser = args._scale_parser
    words = ["optical-st", "scale"]
    for action in parser._actions:
        # --budget/--max-minutes decide whether the study runs, not what it computes
        if not action.option_strings or action.dest in ("help", "_scale_parser", "budget", "max_minutes"):
            continue
        value = getattr(args, action.dest, None)
        if value is None or value == action.default:
            continue
        option = action.option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):
            words.append(option)
        elif isinstance(action, argparse._AppendAction):
            for item in value:
                words += [option, str(item)]
        elif isinstance(value, list):
            words += [option, *map(str, value)]
        else:
            words += [option, str(value)]
    return shlex.join(words)


def _benchmarks(args: argparse.Namespace) -> list:
    from optical_st.data import bitext_benchmarks, is_saved_benchmark, load_benchmark

    benchmarks = []
    for source in args.benchmark:
        if is_saved_benchmark(Path(source)):
            benchmarks.append(load_benchmark(source))
        else:
            benchmarks.extend(
                bitext_benchmarks(
                    source,
                    args.languages,
                    directions=_csv(args.directions),
                    levels=_csv(args.levels),
                    split=args.split,
                    max_pairs=args.max_pairs,
                    seed=args.seed,
                )
            )
    return benchmarks


def _distillation(args: argparse.Namespace) -> tuple:
    """``(recipe, training bitext)`` of ``--distill-*``, or ``(None, None)`` without ``--distill-bitext``."""
    if not args.distill_bitext:
        return None, None
    from optical_st.scaling import TrainingBitext
    from optical_st.training import DistillationRecipe

    recipe = DistillationRecipe(
        loss=args.loss,
        steps=args.distill_steps,
        epochs=args.distill_epochs,
        batch_size=args.distill_batch_size,
        max_length=args.distill_max_length,
        lr=args.distill_lr,
        reg=args.distill_reg,
        seed=args.seed,
        freeze_embeddings=args.distill_freeze_embeddings,
        teacher_cache=args.teacher_cache,
    )
    bitext = TrainingBitext(
        args.distill_bitext,
        languages=tuple(_csv(args.distill_languages)) if args.distill_languages else None,
        split=args.distill_split,
        max_pairs=args.distill_max_pairs,
        seed=args.seed,
    )
    return recipe, bitext


def run(args: argparse.Namespace) -> int:
    from optical_st.scaling import (
        ScalingStudy,
        parse_model_specs,
        push_report,
        write_report,
    )

    # every value is checked before any model is loaded or any data read
    k_values = parse_cutoffs("--k", args.k)
    check_device("--device", args.device)
    check_non_negative("--n-bootstrap", args.n_bootstrap, "none")
    for flag in ("--batch-size", "--report-k", "--max-pairs", "--distill-max-pairs", "--distill-steps",
                 "--distill-epochs", "--distill-batch-size", "--distill-lr", "--distill-max-length",
                 "--max-minutes"):  # fmt: skip
        check_positive(flag, getattr(args, flag[2:].replace("-", "_")))
    if args.metric == "recall" and args.report_k not in k_values:  # else refused only once every cell ran
        raise ValueError(
            f"--report-k {args.report_k} is not among --k {args.k}: the report would have no recall@{args.report_k}; "
            f"add it to --k or pass --report-k {k_values[-1]}"
        )

    specs = parse_model_specs(args.models)  # duplicate names fail here, before any data is read
    recipe, training_bitext = _distillation(args)
    study = ScalingStudy(
        specs,
        _benchmarks(args),
        args.output_dir,
        k_values=k_values,
        languages=None if args.languages == "all" else args.languages,
        recipe=recipe,
        training_bitext=training_bitext,
        teacher=args.teacher,
        conditions=_csv(args.conditions) if args.conditions else None,
        checkpoint_dir=args.checkpoint_dir,
        device=args.device,
        n_bootstrap=args.n_bootstrap,
        batch_size=args.batch_size,
        query_prompt=args.query_prompt,
        document_prompt=args.document_prompt,
        show_progress_bar=not args.no_progress,
    )
    if args.budget or args.max_minutes is not None:
        verdict = _check_budget(study, args.max_minutes)
        if args.budget or verdict != 0:
            return verdict
    results = study.run()
    skipped = study.skipped()
    for record in skipped:
        print(
            f"skipped {record['model']} ({record['condition']}, {record['stage']}): {record['reason']}",
            file=sys.stderr,
        )
    if results.empty:
        print("optical-st scale: no cell finished; nothing to report", file=sys.stderr)
        return 1
    from accelerate import PartialState

    if not PartialState().is_main_process:
        return 0
    report_dir = args.report_dir or args.output_dir / "report"
    command = reproduce_command(args)
    files = write_report(
        results,
        report_dir,
        metric=args.metric,
        k=args.report_k,
        skipped=skipped,
        title=args.title,
        command=command,
    )
    print(f"report: {files['report.md']}")
    if args.push_to_hub:
        print(f"pushed: {push_report(report_dir, args.push_to_hub)}")
    return 0 if not skipped else 3


def _check_budget(study: ScalingStudy, max_minutes: float | None) -> int:
    """Print the plan and the time estimate; 1 if it exceeds ``max_minutes``, else 0."""
    from optical_st.scaling import estimate_budget

    budget = estimate_budget(study)
    print(budget.describe())
    minutes = budget.seconds / 60
    if max_minutes is not None and minutes > max_minutes:
        print(
            f"optical-st scale: the plan needs an estimated {minutes:.0f} min here, more than --max-minutes "
            f"{max_minutes:g}; nothing was run. Run fewer models or languages, sample with --max-pairs, or "
            "run the plan on a bigger machine (experiments/scaling_full.sh).",
            file=sys.stderr,
        )
        return 1
    return 0
