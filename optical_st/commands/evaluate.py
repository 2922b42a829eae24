"""``optical-st evaluate``: recall@k / MRR@10 / nDCG@10 of one or more models on CLIR benchmarks.

Examples::

    optical-st evaluate --model intfloat/multilingual-e5-small \\
        --benchmark ../shared/data/flores200 --languages npi,sin --output results/
    optical-st evaluate --model runs/student --model intfloat/multilingual-e5-small \\
        --benchmark ../shared/data/flores200 --languages low --levels sentence   # + paired test
    optical-st evaluate --model runs/ne-si-ot/best --english-model intfloat/multilingual-e5-small \\
        --benchmark ../shared/data/flores200 --languages npi,sin   # OPTICAL: teacher encodes English
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from optical_st.commands._checks import check_device, check_non_negative, check_positive, parse_cutoffs
from optical_st.commands._romanizer_args import add_romanizer_argument, romanizer_views

HELP = "evaluate models on cross-lingual retrieval benchmarks (recall@k, MRR@10, nDCG@10, bootstrap CIs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "--benchmark takes a data folder (flores200, ntrex128, tatoeba_laser, tatoeba_challenge,\n"
        "floresv1_ne_si, tico19 or xquad_r layout), a folder saved by CLIRBenchmark.save (or a folder of\n"
        "them), or a Hub dataset id user/name. With two or more --model, the first is compared with each\n"
        "other one by a paired randomization test on the same queries.\n"
        "Prompts: sentence/document retrieval (translation retrieval) encodes both sides with the query\n"
        "prompt (e5: 'query: ' / 'query: '), query->passage tasks (XQuAD-R) use 'query: ' / 'passage: '.\n"
        "The prompts used head the printed table and are recorded in every results row."
    )
    parser.add_argument("--model", action="append", required=True, metavar="M",
                        help="model folder or Hub id (repeat to compare models)")  # fmt: skip
    parser.add_argument("--benchmark", action="append", required=True, metavar="B",
                        help="benchmark specification (repeatable, see below)")  # fmt: skip
    parser.add_argument("--languages", default="all",
                        help="languages, e.g. npi,sin, a tier (low, mid, high) or all (default); romanized "
                        "views: npi_Latn, low_Latn, all_Latn")  # fmt: skip
    parser.add_argument("--directions", default="xx->eng,eng->xx",
                        help="xx->eng, eng->xx or both (default); xx_Latn->xx: romanized query -> its "
                        "native-script original")  # fmt: skip
    add_romanizer_argument(parser)
    parser.add_argument("--levels", default=None,
                        help="sentence, document or both (default: both where the source has documents)")  # fmt: skip
    parser.add_argument(
        "--split", default=None, help="split of the bitext source, e.g. dev or devtest (default: all)"
    )
    parser.add_argument("--k", default=None,
                        help="recall cut-offs (default 1,5,10,100, those the smallest corpus allows); MRR and "
                        "nDCG are cut at min(10, largest k)")  # fmt: skip
    parser.add_argument("--query-language", default=None, metavar="CODE",
                        help="language of the queries, for benchmark folders without a language column")  # fmt: skip
    parser.add_argument("--document-language", default=None, metavar="CODE",
                        help="language of the documents, for benchmark folders without a language column")  # fmt: skip
    parser.add_argument("--english-model", default=None, metavar="M",
                        help="encode every English text with this fixed model (OPTICAL's frozen teacher) and "
                        "the other language with --model (default: --model encodes both sides)")  # fmt: skip
    parser.add_argument("--query-prompt", default=None,
                        help="query prompt, e.g. 'query: ' (default: the model's saved 'query' prompt)")  # fmt: skip
    parser.add_argument("--document-prompt", default=None,
                        help="document prompt (default depends on the task: the query prompt on both sides for "
                        "sentence and document level, i.e. translation retrieval; the model's saved "
                        "'passage'/'document' prompt for query->passage tasks such as XQuAD-R)")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--device", default=None, help="torch device (default: sentence-transformers' choice)"
    )
    parser.add_argument(
        "--cache-dir", default=None, help="cache corpus embeddings here (keyed by weights + text)"
    )
    parser.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap replicates for 95%% CIs (0: none)"
    )
    parser.add_argument("--columns", default=None,
                        help="metrics in the printed table (default: recall at the smallest and the primary k, "
                        "MRR, nDCG, e.g. recall@1,recall@10,mrr@10,ndcg@10)")  # fmt: skip
    parser.add_argument("--compare-metric", default=None,
                        help="metric of the paired test (default: recall at the primary k, recall@10 when "
                        "10 is among --k)")  # fmt: skip
    parser.add_argument(
        "--output",
        default=None,
        metavar="DIR",
        help="write JSON + markdown results into this folder (or to this .json file)",
    )
    parser.add_argument("--ci", action="store_true", help="print 95%% intervals in the table")


def check_model_argument(name_or_path: str) -> None:
    """A missing local path is an error; a Hub id (``user/name``, or a bare legacy ``name``) is left to the Hub."""
    from optical_st.hub import hub_id_form

    if not hub_id_form(name_or_path, owner_optional=True) and not Path(name_or_path).expanduser().exists():
        raise FileNotFoundError(f"model path does not exist: {name_or_path}")


def load_model(name_or_path: str, device: str | None = None):
    """The model through :func:`optical_st.pretrained.load_sentence_transformer` (folder, Hub or offline route)."""
    from optical_st.pretrained import load_sentence_transformer

    check_model_argument(name_or_path)
    return load_sentence_transformer(name_or_path, device=device)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text.strip("/")).strip("_") or "model"


def _command(args: argparse.Namespace) -> str:
    parts = ["optical-st", "evaluate"]
    for model in args.model:
        parts += ["--model", model]
    for benchmark in args.benchmark:
        parts += ["--benchmark", benchmark]
    options = (
        "english_model",
        "languages",
        "directions",
        "levels",
        "split",
        "k",
        "query_language",
        "document_language",
        "query_prompt",
        "document_prompt",
    )
    for option in options:
        value = getattr(args, option)
        if value is not None:
            parts += [f"--{option.replace('_', '-')}", value]
    if args.bootstrap != 1000:
        parts += ["--bootstrap", str(args.bootstrap)]
    if args.output:
        parts += ["--output", args.output]
    return shlex.join(parts)


def check_output(output: str | None) -> Path | None:
    """``--output`` must be usable before any work: a folder (existing or creatable) or a ``.json`` file name."""
    if output is None:
        return None
    path = Path(output)
    if path.suffix == ".json" and path.is_dir():
        raise ValueError(f"--output {output} is a folder, not a .json file; give another name or the folder")
    if path.suffix != ".json" and path.exists() and not path.is_dir():
        raise ValueError(f"--output {output} is an existing file; give a folder or a name ending in .json")
    existing = (path.parent if path.suffix == ".json" else path).absolute()
    while not existing.exists():  # the folders to create: the nearest existing one must take them
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"--output {output}: {existing} is a file, so no folder can be made there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--output {output}: {existing} is not writable")
    return path


def write_results(write: Callable[[Path], Path], target: Path) -> tuple[Path, bool]:
    """``write(target)``; if that fails, ``write`` into a new temporary folder so that nothing is lost.

    Returns the path written and whether it is the requested one (the reason is printed otherwise).
    """
    try:
        return write(target), True
    except OSError as error:
        spare = Path(tempfile.mkdtemp(prefix="optical-st-results-"))
        path = write(spare / target.name if target.suffix == ".json" else spare)
        print(f"optical-st evaluate: could not write {target} ({error}); the results are in {path} instead",
              file=sys.stderr)  # fmt: skip
        return path, False


def paired_tests_markdown(results: list) -> str:
    """The paired tests of two models, in percentage points, as one markdown table."""
    from optical_st.results import markdown_table

    body = [
        [r.benchmark, f"{100 * r.mean_a:.1f}", f"{100 * r.mean_b:.1f}", f"{100 * r.difference:+.1f}",
         f"[{100 * r.ci_low:+.1f}, {100 * r.ci_high:+.1f}]", f"{r.p_value:.4f}"]
        for r in results
    ]  # fmt: skip
    return markdown_table(["benchmark", "A", "B", "A - B", "95% CI", "p"], body)


def check_arguments(args: argparse.Namespace) -> tuple[list[int] | None, Path | None]:
    """Every value checked before any model is loaded or any text encoded: ``(--k cut-offs, --output)``."""
    k_values = parse_cutoffs("--k", args.k) if args.k is not None else None
    check_positive("--batch-size", args.batch_size)
    check_non_negative("--bootstrap", args.bootstrap, "no intervals")
    check_device("--device", args.device)
    romanizer_views(args.romanizer, args.languages)  # a bad --romanizer fails before the slow part
    output = check_output(args.output)
    for model in [*args.model, args.english_model] if args.english_model else args.model:
        check_model_argument(model)  # fail before the slow part
    return k_values, output


def build_evaluator(args: argparse.Namespace, k_values: list[int] | None):
    """The benchmarks loaded and the evaluator made (no evaluated model loaded yet)."""
    from optical_st.evaluation import CLIREvaluator, load_benchmarks

    benchmarks = []
    for romanizer, languages in romanizer_views(args.romanizer, args.languages):
        for spec in args.benchmark:
            benchmarks += load_benchmarks(
                spec, languages, directions=args.directions, levels=args.levels, split=args.split,
                query_language=args.query_language, document_language=args.document_language,
                romanizer=romanizer,
            )  # fmt: skip
    language_encoders = None
    if args.english_model:
        language_encoders = {"eng": load_model(args.english_model, device=args.device)}
    return CLIREvaluator(
        benchmarks,
        k_values=k_values,
        query_prompt=args.query_prompt,
        document_prompt=args.document_prompt,
        batch_size=args.batch_size,
        cache_dir=args.cache_dir,
        n_bootstrap=args.bootstrap,
        show_progress_bar=sys.stderr.isatty(),
        language_encoders=language_encoders,
    )


def table_columns(args: argparse.Namespace, evaluator) -> tuple[list[str], str]:
    """``(columns of the printed table, metric of the paired test)``; they follow the evaluator's cut-offs."""
    primary = evaluator.primary_metric.rsplit("_", 1)[-1]  # e.g. "recall@10" of "low_macro_recall@10"
    default_columns = [f"recall@{evaluator.k_values[0]}", primary, *evaluator.metrics[-2:]]
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else default_columns
    columns = list(dict.fromkeys(columns))
    compare_metric = args.compare_metric or primary
    unknown = [c for c in [*columns, compare_metric] if c not in evaluator.metrics]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; available: {', '.join(evaluator.metrics)}")
    return columns, compare_metric


def save_model_results(args: argparse.Namespace, evaluator, model, model_name: str, output: Path) -> bool:
    """Write one model's results (JSON + table) with what made them; whether they went where asked."""
    from optical_st.pretrained import model_provenance

    if len(set(args.model)) == 1:
        target = output
    elif output.suffix == ".json":
        target = output.with_name(f"{output.stem}_{_slug(model_name)}.json")
    else:
        target = output / _slug(model_name)
    # Which weights these are: e.g. the 4-bit offline build of intfloat/multilingual-e5-small.
    extra = {
        "model_argument": model_name,
        "command": _command(args),
        "model_provenance": model_provenance(model),
    }
    source = getattr(model, "optical_st_source", None)
    if source is not None:
        extra["model_source"] = {"source": source.source, "note": source.note}
    path, written = write_results(partial(evaluator.save, model=model, extra=extra), target)
    print(f"results written to {path} and {path.with_suffix('.md')}")
    return written


def compare_models(
    args: argparse.Namespace, models: list[str], runs: dict, metric: str, output: Path | None
) -> bool:
    """Paired tests of the first model against each other one; printed and (with --output) written."""
    from optical_st.evaluation import compare_runs

    reference, comparisons = models[0], {}
    for other in models[1:]:
        results = compare_runs(runs[reference], runs[other], metric)
        comparisons[other] = [result.as_dict() for result in results]
        print(f"\n## {reference} vs {other}: {metric}, paired randomization test\n")
        print(paired_tests_markdown(results))
    if output is None:
        return True
    payload = {
        "command": _command(args),
        "reference": reference,
        "metric": metric,
        "comparisons": comparisons,
    }

    def write_comparison(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        from optical_st._atomic import write_text

        path = folder / "comparison.json"
        write_text(path, json.dumps(payload, indent=1, allow_nan=False) + "\n")
        return path

    return write_results(write_comparison, output.parent if output.suffix == ".json" else output)[1]


def run(args: argparse.Namespace) -> int:
    from optical_st.evaluation import results_to_markdown

    k_values, output = check_arguments(args)
    models = list(dict.fromkeys(args.model))
    evaluator = build_evaluator(args, k_values)
    columns, compare_metric = table_columns(args, evaluator)
    runs, all_written = {}, True
    for model_name in models:
        model = load_model(model_name, device=args.device)
        metrics = evaluator(model)
        runs[model_name] = evaluator.per_query
        print(f"\n## {model_name}  ({len(evaluator.benchmarks)} benchmarks)\n")
        print(results_to_markdown(evaluator.results, columns, confidence_intervals=args.ci))
        print(f"\nprimary metric {evaluator.primary_metric} = {metrics[evaluator.primary_metric]:.4f}")
        if output is not None:
            all_written &= save_model_results(args, evaluator, model, model_name, output)
    if len(models) > 1:
        all_written &= compare_models(args, models, runs, compare_metric, output)
    return 0 if all_written else 1
