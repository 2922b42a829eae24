"""``optical-st train``: distil a frozen English teacher into a student on bitext (OPTICAL, MSE or both).

Examples::

    optical-st train --teacher intfloat/multilingual-e5-small --student intfloat/multilingual-e5-small \\
        --bitext ../shared/data/floresv1_ne_si::dev,test --bitext ../shared/data/tico19 \\
        --languages npi,sin --loss ot --steps 200 --batch-size 16 --max-length 64 \\
        --eval-benchmark ../shared/data/flores200 --eval-steps 100 --output-dir runs/ne-si-ot

    # several processes (data parallel; CPU: gloo), see docs/training.md
    torchrun --standalone --nproc_per_node 2 -m optical_st.cli train ...
"""

from __future__ import annotations

import argparse
import sys

from optical_st.commands._checks import (
    check_device,
    check_fraction,
    check_non_negative,
    check_positive,
    parse_cutoffs,
)
from optical_st.commands._romanizer_args import parse_romanizers

HELP = "distil a frozen teacher into a student on bitext (OPTICAL optimal transport, MSE, or both)"

SPLIT_SEPARATOR = "::"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "--bitext takes a ../shared/data folder (floresv1_ne_si, tico19, ntrex128, flores200,\n"
        "tatoeba_*), a TSV/CSV/JSONL/Parquet file with english/target[/language] columns, or a Hub\n"
        "dataset id; append ::SPLITS to choose splits (e.g. floresv1_ne_si::dev,test). Training pairs\n"
        "whose English or target text occurs in the evaluation benchmarks are dropped (reported).\n"
        "Schedules are START:END[:linear|cosine] (or one constant value).\n"
        "Several processes (data parallel): torchrun --standalone --nproc_per_node N -m optical_st.cli train ..."
    )
    for add_group in (_model_arguments, _data_arguments, _loss_arguments, _optimisation_arguments,
                      _evaluation_arguments, _output_arguments):  # fmt: skip
        add_group(parser)


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    models = parser.add_argument_group("models")
    models.add_argument("--teacher", default=None,
                        help="frozen teacher for the English side (default intfloat/multilingual-e5-small)")  # fmt: skip
    models.add_argument(
        "--student", default=None, help="student to train (default: the teacher's checkpoint)"
    )
    models.add_argument(
        "--device", default=None, help="torch device for both (default: the trainer's choice)"
    )


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("training data")
    data.add_argument("--bitext", action="append", required=True, metavar="SOURCE[::SPLITS]",
                      help="bitext source (repeatable)")  # fmt: skip
    data.add_argument(
        "--languages", default=None, help="train only on these languages, e.g. npi,sin (default: all)"
    )
    data.add_argument("--keep-eval-overlap", action="store_true",
                      help="do not drop training pairs that occur in the evaluation benchmarks")  # fmt: skip
    data.add_argument("--romanize", default=None, metavar="SPEC",
                      help="cross-script pairs: the student reads the bitext's target side romanized by SPEC "
                      "(as --romanizer of `evaluate`: uroman, indic, +noise=P), the teacher the native side")  # fmt: skip
    data.add_argument("--native-share", type=float, default=0.5,
                      help="with --romanize: fraction of pairs in which the student reads the native text (default 0.5)")  # fmt: skip
    data.add_argument("--teacher-side", choices=("native", "english"), default="native",
                      help="with --romanize: the teacher reads the native sentence (default) or its English translation")  # fmt: skip


def _loss_arguments(parser: argparse.ArgumentParser) -> None:
    loss = parser.add_argument_group("loss")
    loss.add_argument("--loss", choices=("ot", "mse", "ot+sentence"), default="ot")
    loss.add_argument("--reg", type=float, default=None,
                      help="Sinkhorn entropic regularisation, read as --reg-scale says (default 0.5)")  # fmt: skip
    loss.add_argument("--reg-scale", choices=("absolute", "mean", "spread"), default=None,
                      help="reg in cost units, or times each pair's mean or standard deviation of token costs "
                      "(default spread)")  # fmt: skip
    loss.add_argument("--no-debias", dest="debias", action="store_false",
                      help="OPTICAL's plain entropic <T, C> instead of the Sinkhorn divergence (for comparison)")  # fmt: skip
    loss.add_argument("--anneal", type=int, default=0,
                      help="epsilon scaling: start at 2**N times the target reg, halve with warm starts (default 0)")  # fmt: skip
    loss.add_argument("--cost", choices=("cosine", "sqeuclidean"), default="cosine")
    loss.add_argument(
        "--sentence-weight", type=float, default=None, help="weight of the sentence term (ot+sentence)"
    )
    loss.add_argument("--marginals", choices=("uniform", "norm", "idf"), default="uniform")
    loss.add_argument(
        "--exclude-special-tokens", action="store_true", help="no transport mass on [CLS]/[SEP]/<s>"
    )
    loss.add_argument("--reg-schedule", default=None, metavar="START:END[:KIND]")
    loss.add_argument("--ot-weight-schedule", default=None, metavar="START:END[:KIND]")
    loss.add_argument("--sentence-weight-schedule", default=None, metavar="START:END[:KIND]")


def _optimisation_arguments(parser: argparse.ArgumentParser) -> None:
    optim = parser.add_argument_group("optimisation")
    length = optim.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=None, help="optimizer steps")
    length.add_argument("--epochs", type=float, default=None, help="passes over the bitext (default 1)")
    optim.add_argument("--batch-size", type=int, default=16, help="pairs per device and step (default 16)")
    optim.add_argument("--max-length", type=int, default=128, help="token limit (default 128)")
    optim.add_argument("--lr", type=float, default=2e-5)
    optim.add_argument("--warmup-ratio", type=float, default=0.1)
    optim.add_argument("--seed", type=int, default=0)
    optim.add_argument("--freeze-embeddings", action=argparse.BooleanOptionalAction, default=False,
                       help="keep the student's token embedding matrix fixed: 2x faster steps on CPU, half the "
                       "memory (default off)")  # fmt: skip
    optim.add_argument("--group-by-length", action=argparse.BooleanOptionalAction, default=True,
                       help="batches of pairs of similar token count: 2.5-3x faster on CPU (default on)")  # fmt: skip
    optim.add_argument("--teacher-cache", default=None, metavar="DIR",
                       help="keep the frozen teacher's outputs in DIR and read them instead of running the teacher "
                       "each step; runs sharing DIR (other seeds, objectives, students) reuse them (default off)")  # fmt: skip
    optim.add_argument("--prompt", default="query",
                       help="prompt on both sides: a model prompt name or text; 'none' for none (default query)")  # fmt: skip


def _evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument("--eval-benchmark", action="append", default=None, metavar="B",
                            help="benchmark specification as for `optical-st evaluate` (repeatable)")  # fmt: skip
    evaluation.add_argument("--eval-languages", default=None,
                            help="benchmark languages (default: the training languages)")  # fmt: skip
    evaluation.add_argument("--eval-levels", default=None, help="sentence, document or both")
    evaluation.add_argument("--eval-k", default="1,10", help="recall cut-offs (default 1,10)")
    evaluation.add_argument(
        "--eval-steps", type=int, default=None, help="evaluate every N steps (default: at the end)"
    )
    evaluation.add_argument("--metric", default=None,
                            help="metric choosing the best checkpoint, e.g. low_macro_recall@10 (default: the "
                            "evaluator's primary metric)")  # fmt: skip
    evaluation.add_argument("--eval-prompt", default=None,
                            help="one prompt for queries and documents in evaluation (default: by task, as "
                            "`optical-st evaluate`: the query prompt on both sides for sentence/document level)")  # fmt: skip
    evaluation.add_argument("--eval-english-encoder", choices=("student", "teacher"), default="student",
                            help="who encodes English in evaluation: the student (default, symmetric) or the "
                            "frozen teacher (OPTICAL's inference setup)")  # fmt: skip


def _output_arguments(parser: argparse.ArgumentParser) -> None:
    output = parser.add_argument_group("output")
    output.add_argument("--output-dir", required=True, help="run directory (final/, best/, checkpoints/)")
    output.add_argument("--overwrite", action="store_true", help="replace a previous run in --output-dir")
    output.add_argument("--resume-from-checkpoint", nargs="?", const=True, default=None, metavar="PATH",
                        help="continue from PATH, or from the latest checkpoint in --output-dir")  # fmt: skip
    output.add_argument("--save-steps", type=int, default=500, help="checkpoint every N steps (0: never)")
    output.add_argument("--logging-steps", type=int, default=10)
    output.add_argument("--report-to", default="none", help="tensorboard, wandb, ... (default none)")
    output.add_argument("--push-to-hub", default=None, metavar="REPO_ID",
                        help="push each new best checkpoint here (after saving it locally)")  # fmt: skip
    output.add_argument("--no-progress", action="store_true", help="no progress bars")


def parse_bitext_spec(spec: str) -> tuple[str, list[str] | None]:
    """``SOURCE[::SPLITS]`` -> (source, splits or None)."""
    source, separator, splits = spec.partition(SPLIT_SEPARATOR)
    if not source:
        raise ValueError(f"--bitext {spec!r}: no source given")
    if not separator:
        return source, None
    names = [name.strip() for name in splits.split(",") if name.strip()]
    if not names:
        raise ValueError(f"--bitext {spec!r}: no split after {SPLIT_SEPARATOR}")
    return source, names


def load_training_bitext(specs: list[str], languages: str | None):
    from datasets import concatenate_datasets

    from optical_st.data import load_bitext
    from optical_st.languages import parse_languages

    codes = parse_languages(languages) if languages else None
    parts = []
    for spec in specs:
        source, splits = parse_bitext_spec(spec)
        parts.append(load_bitext(source, codes, split=splits))
    common = set.intersection(*(set(part.column_names) for part in parts))
    parts = [part.select_columns([c for c in part.column_names if c in common]) for part in parts]
    return concatenate_datasets(parts) if len(parts) > 1 else parts[0]


def _schedules(args: argparse.Namespace) -> dict:
    from optical_st.training import Schedule

    pairs = {"reg": args.reg_schedule, "ot_weight": args.ot_weight_schedule,
             "sentence_weight": args.sentence_weight_schedule}  # fmt: skip
    return {name: Schedule.parse(text) for name, text in pairs.items() if text}


def check_arguments(args: argparse.Namespace) -> list[int]:
    """Every value checked before the (slow) loading of data and models; returns the ``--eval-k`` cut-offs."""
    for flag in ("--steps", "--epochs", "--batch-size", "--max-length", "--lr", "--logging-steps",
                 "--eval-steps", "--reg"):  # fmt: skip
        check_positive(flag, getattr(args, flag[2:].replace("-", "_")))
    check_non_negative("--anneal", args.anneal)
    check_fraction("--warmup-ratio", args.warmup_ratio)
    check_fraction("--native-share", args.native_share)
    if args.romanize:
        parse_romanizers([args.romanize])  # a bad spec fails before the slow part
    check_non_negative("--save-steps", args.save_steps, "never")
    k_values = parse_cutoffs("--eval-k", args.eval_k)
    check_device("--device", args.device)
    if args.eval_steps is not None and not args.eval_benchmark:
        raise ValueError("--eval-steps needs --eval-benchmark")
    if args.push_to_hub and not args.eval_benchmark:
        raise ValueError("--push-to-hub pushes the best checkpoint, which needs --eval-benchmark")
    if (args.reg_schedule or args.ot_weight_schedule or args.sentence_weight_schedule) and args.loss == "mse":
        raise ValueError("schedules apply to the OT loss; --loss mse has none")
    return k_values


def build_recipe(args: argparse.Namespace):
    """The one :class:`~optical_st.training.DistillationRecipe` of this command line."""
    from optical_st.training import DistillationRecipe

    loss_options = {}
    if args.loss != "mse":
        loss_options = {"marginals": args.marginals, "exclude_special_tokens": args.exclude_special_tokens,
                        "debias": args.debias, "anneal": args.anneal}  # fmt: skip
        if args.reg_scale is not None:
            loss_options["reg_scale"] = args.reg_scale
    return DistillationRecipe(
        loss=args.loss, reg=args.reg, cost=args.cost, sentence_weight=args.sentence_weight,
        loss_options=loss_options, schedules=_schedules(args),
        steps=args.steps, epochs=1.0 if args.epochs is None else args.epochs, batch_size=args.batch_size,
        max_length=args.max_length, lr=args.lr, warmup_ratio=args.warmup_ratio, seed=args.seed,
        freeze_embeddings=args.freeze_embeddings, group_by_length=args.group_by_length,
        prompt=None if args.prompt.lower() == "none" else args.prompt,
        eval_steps=args.eval_steps, metric=args.metric, hub_model_id=args.push_to_hub,
        save_steps=args.save_steps, logging_steps=args.logging_steps, report_to=args.report_to,
        resume_from_checkpoint=args.resume_from_checkpoint, overwrite=args.overwrite,
        show_progress_bar=not args.no_progress, teacher_cache=args.teacher_cache,
    )  # fmt: skip


def build_evaluator(args: argparse.Namespace, benchmarks: list, k_values: list[int], student, teacher):
    """The CLIR evaluator of ``--eval-*`` (``None`` without benchmarks)."""
    if not benchmarks:
        return None
    from optical_st.evaluation import CLIREvaluator

    language_encoders = None
    if args.eval_english_encoder == "teacher":
        from optical_st.search import embedding_dimension

        dims = (embedding_dimension(student), embedding_dimension(teacher))
        if dims[0] != dims[1]:
            raise ValueError(
                f"--eval-english-encoder teacher needs student and teacher embeddings of one size; "
                f"the student gives {dims[0]}, the teacher {dims[1]}"
            )
        language_encoders = {"eng": teacher}
    return CLIREvaluator(
        benchmarks, k_values=k_values,  # MRR/nDCG cut at min(10, largest k, smallest corpus)
        query_prompt=args.eval_prompt, document_prompt=args.eval_prompt,
        show_progress_bar=not args.no_progress and sys.stderr.isatty(), write_json=False,
        language_encoders=language_encoders,
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from optical_st.training import benchmark_texts, distill

    k_values = check_arguments(args)
    recipe = build_recipe(args)  # checks the recipe's own ranges too, still before any slow work
    bitext = load_training_bitext(args.bitext, args.languages)
    if args.romanize:
        from optical_st.training import cross_script_pairs

        bitext = cross_script_pairs(bitext, parse_romanizers([args.romanize])[0], native_share=args.native_share,
                                    teacher_side=args.teacher_side, seed=args.seed)  # fmt: skip
    trained = sorted(set(bitext["language"])) if "language" in bitext.column_names else []

    benchmarks, exclude = [], set()
    if args.eval_benchmark:
        from optical_st.data import load_benchmarks

        eval_languages = args.eval_languages or ",".join(trained) or "all"
        for spec in args.eval_benchmark:
            benchmarks += load_benchmarks(spec, eval_languages, levels=args.eval_levels)
        if not args.keep_eval_overlap:
            exclude = benchmark_texts(benchmarks)

    teacher_name = args.teacher or "intfloat/multilingual-e5-small"
    student_name = args.student or teacher_name
    from optical_st.pretrained import load_sentence_transformer

    teacher = load_sentence_transformer(teacher_name, device=args.device)
    student = load_sentence_transformer(student_name, device=args.device)
    evaluator = build_evaluator(args, benchmarks, k_values, student, teacher)
    final = distill(
        student,
        teacher,
        bitext,
        recipe,
        output_dir=args.output_dir,
        evaluator=evaluator,
        exclude_texts=exclude,
    )
    print(f"trained student: {final}")
    return 0
