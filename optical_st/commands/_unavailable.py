"""Shared body of subcommands whose issue has not landed yet: say so and fail, never fake output."""

from __future__ import annotations

import argparse
import sys


def not_yet_available(command: str, issue: str) -> int:
    print(
        f"optical-st {command}: not yet available in this version (tracked in {issue}).",
        file=sys.stderr,
    )
    return 2


def add_passthrough(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
