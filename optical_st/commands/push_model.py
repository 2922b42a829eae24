"""`optical-st push-model`: not yet available; the Hub issue fills it."""

from __future__ import annotations

import argparse

from optical_st.commands._unavailable import add_passthrough, not_yet_available

HELP = "(not yet available) push-model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_passthrough(parser)


def run(args: argparse.Namespace) -> int:
    return not_yet_available("push-model", "the Hub issue")
