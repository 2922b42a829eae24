"""``optical-st``: the command line, one subcommand per module under :mod:`optical_st.commands`.

Each command module exposes ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``;
heavy imports (torch, gradio, ...) happen inside ``run`` so ``optical-st --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from optical_st import __version__

COMMANDS: dict[str, str] = {
    "languages": "optical_st.commands.languages",
    "evaluate": "optical_st.commands.evaluate",
    "train": "optical_st.commands.train",
    "push-model": "optical_st.commands.push_model",
    "push-benchmark": "optical_st.commands.push_benchmark",
    "demo": "optical_st.commands.demo",
    "scale": "optical_st.commands.scale",
    "fetch-model": "optical_st.commands.fetch_model",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optical-st",
        description="OPTICAL optimal-transport distillation and cross-lingual retrieval "
        "for South Asian languages.",
    )
    parser.add_argument("--version", action="version", version=f"optical-st {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        # argparse %-formats help strings; a literal "95%" in a HELP must not break --help.
        text = module.HELP.replace("%", "%%")
        sub = subparsers.add_parser(name, help=text, description=text)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args) or 0)
    except (ValueError, OSError, RuntimeError) as error:
        # Bad input (and a file that cannot be read or written) is reported as one readable line, not a
        # traceback; -v keeps the traceback.
        if args.verbose:
            raise
        print(f"optical-st {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as error:
        if args.verbose:
            raise
        # Ctrl-C, or SIGTERM during training (training.RunTerminated: its message and exit_code 143)
        print(f"optical-st {args.command}: {str(error) or 'interrupted'}", file=sys.stderr)
        return getattr(error, "exit_code", 130)  # the shell's code for Ctrl-C (128 + SIGINT)


if __name__ == "__main__":
    sys.exit(main())
