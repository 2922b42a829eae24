"""`optical-st push-model`: push a saved model with its OPTICAL model card to the Hugging Face Hub."""

from __future__ import annotations

import argparse

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
    parser.add_argument("--private", action="store_true", help="create the repository private")
    parser.add_argument("--exist-ok", action="store_true", help="add a commit to an existing repository")
    parser.add_argument(
        "--local-dir", help="folder written before the upload (default: the model directory itself)"
    )
    parser.add_argument("--token", help="Hub token (default: HF_TOKEN or `hf auth login`; prefer those)")
    parser.add_argument("--message", help="commit message")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only write the local folder (card included); no token, no network",
    )


def parse_benchmark_ids(items: list[str]) -> dict[str, str]:
    ids = {}
    for item in items:
        name, sep, repo = item.partition("=")
        if not sep or not name or "/" not in repo:
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
        private=args.private,
        token=args.token,
        local_dir=args.local_dir,
        exist_ok=args.exist_ok,
        commit_message=args.message,
        dry_run=args.dry_run,
    )
    print(url)
    return 0
