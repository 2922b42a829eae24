"""``optical-st languages``: the language registry as a table."""

from __future__ import annotations

import argparse

HELP = "list the supported languages, their codes, scripts and resource tiers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tier", choices=["pivot", "high", "mid", "low"], help="only this tier")
    parser.add_argument(
        "--romanized",
        action="store_true",
        help="list the romanized variants (npi_Latn, ...) instead, with their native codes",
    )


def run(args: argparse.Namespace) -> int:
    from optical_st.languages import LANGUAGES, ROMANIZED

    if args.romanized:
        print(f"{'code':<10} {'native':<10} {'name':<22} tier")
        for lang in ROMANIZED:
            if not args.tier or lang.tier == args.tier:
                print(f"{lang.code:<10} {lang.native:<10} {lang.name:<22} {lang.tier}")
        return 0
    print(f"{'code':<10} {'iso1':<5} {'iso3':<5} {'name':<10} {'script':<11} tier")
    for lang in LANGUAGES:
        if args.tier and lang.tier != args.tier:
            continue
        print(
            f"{lang.code:<10} {lang.iso639_1:<5} {lang.iso639_3:<5} {lang.name:<10} {lang.script:<11} {lang.tier}"
        )
    return 0
