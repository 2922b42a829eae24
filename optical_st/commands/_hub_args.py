"""Options shared by the commands that push to the Hugging Face Hub (``push-model``, ``push-benchmark``)."""

from __future__ import annotations

import argparse
from typing import Any


def add_push_arguments(parser: argparse.ArgumentParser, *, local_dir_help: str) -> None:
    """``--private``, ``--exist-ok``, ``--local-dir``, ``--token``, ``--message``, ``--dry-run``."""
    parser.add_argument("--private", action="store_true", help="create the repository private")
    parser.add_argument("--exist-ok", action="store_true", help="add a commit to an existing repository")
    parser.add_argument("--local-dir", help=local_dir_help)
    parser.add_argument("--token", help="Hub token (default: HF_TOKEN or `hf auth login`; prefer those)")
    parser.add_argument("--message", help="commit message")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only write the local folder (card included); no token, no network",
    )


def push_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``optical_st.hub.push_*`` set by :func:`add_push_arguments`."""
    return {
        "private": args.private,
        "token": args.token,
        "local_dir": args.local_dir,
        "exist_ok": args.exist_ok,
        "commit_message": args.message,
        "dry_run": args.dry_run,
    }
