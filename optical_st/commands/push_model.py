"""`optical-st push-model`: push a saved model with its OPTICAL model card to the Hugging Face Hub."""

from __future__ import annotations

import argparse

from optical_st.commands._hub_args import add_push_arguments, push_options

HELP = "push a saved model with its OPTICAL model card (and CLIR results) to the Hugging Face Hub"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", help="directory of a saved SentenceTransformer (e.g. `optical-st train --output`)"
    )
    parser.add_argument("repo_id", help="Hub repository, user/name")
    parser.add_argument(
        "--evaluation-results",
        metavar="JSON",
        help="CLIREvaluator results file (clir_results.json); default: the model directory's optical_st_run.json",
    )
    parser.add_argument(
        "--training-info",
        metavar="JSON",
        help="training facts (base_model, teacher, loss, bitext, hyperparameters); default: optical_st_run.json",
    )
    parser.add_argument(
        "--benchmark-id",
        action="append",
        default=[],
        metavar="NAME=USER/DATASET",
        help="Hub dataset id of an evaluated benchmark (repeatable); links results to the data",
    )
    parser.add_argument("--license", help="licence id of the model, e.g. mit")
    add_push_arguments(
        parser, local_dir_help="folder written before the upload (default: the model directory itself)"
    )


def parse_benchmark_ids(items: list[str]) -> dict[str, str]:
    from optical_st.hub import hub_id_form

    ids = {}
    for item in items:
        name, sep, repo = item.partition("=")
        if not sep or not name or not hub_id_form(repo):
            raise ValueError(f"--benchmark-id must look like NAME=user/dataset, got {item!r}.")
        ids[name] = repo
    return ids


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from optical_st.hub import push_model

    training_info = None
    if args.training_info:
        training_info = json.loads(Path(args.training_info).read_text(encoding="utf-8"))
    url = push_model(
        args.model,
        args.repo_id,
        evaluation_results=args.evaluation_results,
        training_info=training_info,
        benchmark_ids=parse_benchmark_ids(args.benchmark_id),
        license=args.license,
        **push_options(args),
    )
    print(url)
    return 0
