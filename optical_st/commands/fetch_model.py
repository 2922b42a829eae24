"""`optical-st fetch-model`: not yet available; the demo issue fills it."""

from __future__ import annotations

import argparse

from optical_st.commands._unavailable import add_passthrough, not_yet_available

HELP = "(not yet available) fetch-model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_passthrough(parser)


def run(args: argparse.Namespace) -> int:
    return not_yet_available("fetch-model", "the demo issue")
