"""``--romanizer``: which romanizer(s) write the romanized languages (``npi_Latn``) of a command."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optical_st.data import Romanizer

ROMANIZER_HELP = (
    "romanizer of the romanized languages (npi_Latn, all_Latn): uroman (default), indic (indic-transliteration "
    "ISO 15919 folded to lowercase ASCII) or indic:SCHEME, each with optional +noise=P (informal spelling) "
    "and +seed=N; repeat to score each romanizer"
)


def add_romanizer_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--romanizer", action="append", default=None, metavar="SPEC", help=ROMANIZER_HELP)


def parse_romanizers(specs: list[str] | None) -> list[Romanizer]:
    """The ``--romanizer`` values (default: uroman alone), each refused with its own message when bad."""
    from optical_st.data import Romanizer

    romanizers = []
    for spec in specs or ["uroman"]:
        try:
            romanizers.append(Romanizer.parse(spec))
        except ValueError as error:
            raise ValueError(f"--romanizer {spec!r}: {error}") from None
    return romanizers


def romanizer_views(specs: list[str] | None, languages: str) -> list[tuple[Romanizer, str]]:
    """``(romanizer, languages)`` per ``--romanizer``: the first takes every language asked for, each
    further one the romanized ones it can write (native-script benchmarks are scored once; the indic
    scheme has no Urdu or Sindhi)."""
    from optical_st.languages import get_language, parse_languages

    romanizers = parse_romanizers(specs)
    romanized = [code for code in parse_languages(languages) if get_language(code).is_romanized]
    if len(romanizers) > 1 and not romanized:
        raise ValueError("several --romanizer need romanized --languages (e.g. npi_Latn or all_Latn)")
    views = [(romanizers[0], languages)]
    for romanizer in romanizers[1:]:
        written = [code for code in romanized if romanizer.supports(code)]
        if written:
            views.append((romanizer, ",".join(written)))
    return views
