"""`optical-st push-benchmark`: publish a CLIR benchmark as a Hub dataset (configs corpus/queries/qrels)."""

from __future__ import annotations

import argparse

from optical_st.commands._hub_args import add_push_arguments, push_options

HELP = "publish a CLIR benchmark as a Hugging Face Hub dataset with a card (corpus/queries/qrels configs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        help="a saved benchmark folder (CLIRBenchmark.save / MTEB layout), or a bitext source "
        "(e.g. ../shared/data/flores200) together with --languages",
    )
    parser.add_argument("repo_id", help="Hub dataset repository, user/name")
    parser.add_argument(
        "--languages", help="build from bitext for these languages, e.g. npi,sin or low (one pair each)"
    )
    parser.add_argument(
        "--direction", default="xx->eng", choices=["xx->eng", "eng->xx"], help="query -> document direction"
    )
    parser.add_argument(
        "--level", default="sentence", choices=["sentence", "document"], help="retrieval unit"
    )
    parser.add_argument("--split", help="bitext split to use (e.g. devtest)")
    parser.add_argument("--license", help="Hub licence id overriding the one derived from the sources")
    parser.add_argument("--pretty-name", help="card title")
    add_push_arguments(
        parser, local_dir_help="folder written before the upload (default ./optical-st-hub/...)"
    )


def build_benchmarks(args: argparse.Namespace) -> list:
    from optical_st import data
    from optical_st.languages import parse_languages

    if not args.languages:
        _check_not_bitext(args.source)
        return [data.load_benchmark(args.source)]
    builder = (
        data.sentence_retrieval_benchmark if args.level == "sentence" else data.document_retrieval_benchmark
    )
    benchmarks = []
    for language in parse_languages(args.languages):
        bitext = data.load_bitext(args.source, language, split=args.split)
        benchmarks.append(builder(bitext, direction=args.direction))
    return benchmarks


def _check_not_bitext(source: str) -> None:
    """A bitext folder without --languages: say so (the saved-benchmark reader said "no queries data")."""
    from pathlib import Path

    from optical_st import data

    folder = Path(source)
    if not folder.is_dir() or data.is_saved_benchmark(folder):
        return
    if any(data.is_saved_benchmark(child) for child in folder.iterdir() if child.is_dir()):
        return  # one benchmark per language pair, as push_benchmark stores them
    try:
        layout = data.detect_layout(folder)
    except (ValueError, OSError):
        return  # neither: the reader names what is missing
    raise ValueError(
        f"{source} is bitext ({layout}), not a saved benchmark: pass --languages (e.g. npi,sin or low) to build "
        "one benchmark per language from it"
    )


def run(args: argparse.Namespace) -> int:
    from optical_st.hub import push_benchmark

    benchmarks = build_benchmarks(args)
    url = push_benchmark(
        benchmarks if len(benchmarks) > 1 else benchmarks[0],
        args.repo_id,
        license=args.license,
        pretty_name=args.pretty_name,
        **push_options(args),
    )
    print(url)
    return 0
