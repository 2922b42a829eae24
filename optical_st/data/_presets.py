"""Benchmarks from a specification: every language of a bitext source, the FLORES presets, ``--benchmark``."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from optical_st.data._benchmark import CLIRBenchmark
from optical_st.data._bitext import load_bitext
from optical_st.data._builders import document_retrieval_benchmark, sentence_retrieval_benchmark
from optical_st.data._layouts import LAYOUTS_WITH_DOCUMENTS, detect_layout
from optical_st.data._saved import is_saved_benchmark, load_benchmark
from optical_st.data._xquad import load_xquad_r
from optical_st.hub import hub_id_form
from optical_st.languages import ENGLISH, parse_languages

DIRECTIONS: tuple[str, ...] = ("xx->eng", "eng->xx")
LEVELS: tuple[str, ...] = ("sentence", "document")


def _parse_choice(values: str | Iterable[str], valid: Sequence[str], what: str) -> list[str]:
    items = (
        [v.strip() for v in values.split(",")]
        if isinstance(values, str)
        else [str(v).strip() for v in values]
    )
    items = [v for v in items if v]
    if not items:
        raise ValueError(f"Empty {what} list: choose from {', '.join(valid)}.")
    unknown = [v for v in items if v.replace(" ", "") not in valid]
    if unknown:
        raise ValueError(f"Unknown {what} {unknown[0]!r}: choose from {', '.join(valid)}.")
    return list(dict.fromkeys(v.replace(" ", "") for v in items))


def bitext_benchmarks(
    source: str | Path,
    languages: str | Iterable[str] = "all",
    *,
    directions: str | Iterable[str] = DIRECTIONS,
    levels: str | Iterable[str] = ("sentence",),
    split: str | Iterable[str] | None = None,
    dedupe: bool = False,
    max_pairs: int | None = None,
    seed: int = 0,
) -> list[CLIRBenchmark]:
    """Sentence- and/or document-level retrieval benchmarks for every language of a bitext source.

    Args:
        source: anything :func:`optical_st.data.load_bitext` reads: a ``../shared/data`` folder
            (``flores200``, ``ntrex128``, ``tatoeba_laser``, ...), a user file, or a Hub dataset id.
        languages: ``"npi,sin"``, a tier (``"low"``), ``"all"`` (every language the source has) or a list.
            Named languages the source lacks are an error; ``all`` and tiers keep what is there.
        directions: ``"xx->eng"`` (queries in the South Asian language) and/or ``"eng->xx"``.
        levels: ``"sentence"`` (retrieve the translation) and/or ``"document"`` (retrieve the article the
            sentence comes from; needs ``doc_id``, e.g. FLORES URLs or NTREX document ids).
        split: split(s) to load (e.g. ``"dev"`` of flores200); default all.
        dedupe: drop repeated identical pairs first.
        max_pairs: keep a seeded random sample of this many pair ids, the same ids in every language
            (multi-way parallel sources such as FLORES keep one shared English corpus); ``None``: all.
        seed: seed of that sample.

    Returns:
        Benchmarks ordered by language, then level, then direction.

    Example::

        >>> benchmarks = bitext_benchmarks("shared/data/ntrex128", "low", levels="sentence,document")  # doctest: +SKIP
    """

    directions = _parse_choice(directions, DIRECTIONS, "direction")
    levels = _parse_choice(levels, LEVELS, "level")
    codes = parse_languages(languages)  # raises on an empty list
    named = not (isinstance(languages, str) and languages.strip().casefold() in ("all", "low", "mid", "high"))
    bitext = load_bitext(source, codes if named else None, split=split, dedupe=dedupe)
    present = set(bitext["language"])
    selected = [code for code in codes if code in present]
    if not selected:
        raise ValueError(f"{source}: none of the languages {codes} is present (found {sorted(present)}).")
    keep = _sample_ids(bitext["id"], max_pairs, seed) if max_pairs is not None else None
    builders = {"sentence": sentence_retrieval_benchmark, "document": document_retrieval_benchmark}
    all_languages, ids = bitext["language"], bitext["id"]
    benchmarks = []
    for code in selected:
        rows = [
            i
            for i, (language, pair_id) in enumerate(zip(all_languages, ids, strict=True))
            if language == code and (keep is None or pair_id in keep)
        ]
        subset = bitext.select(rows)
        for level in levels:
            for direction in directions:
                benchmarks.append(builders[level](subset, direction))
    return benchmarks


def _sample_ids(ids: Iterable[str], max_pairs: int, seed: int) -> set[str]:
    """``max_pairs`` pair ids drawn with ``seed`` (ids, not rows: each language keeps the same pairs)."""
    unique = sorted(set(ids))
    return set(random.Random(seed).sample(unique, min(max_pairs, len(unique))))


def flores_benchmarks(
    data_dir: str | Path,
    languages: str | Iterable[str] = "all",
    *,
    directions: str | Iterable[str] = DIRECTIONS,
    levels: str | Iterable[str] = LEVELS,
    split: str | Iterable[str] | None = None,
) -> list[CLIRBenchmark]:
    """The standard FLORES-200 benchmarks: sentence and document level, both directions, per language.

    Args:
        data_dir: a ``flores200`` folder (``{language}.txt`` + ``metadata.tsv``), e.g. ``shared/data/flores200``.
        languages: ``"npi,sin"``, ``"low"``, ``"all"`` or a list (see :func:`optical_st.languages.parse_languages`).
        directions: ``"xx->eng"``, ``"eng->xx"`` or both (default).
        levels: ``"sentence"``, ``"document"`` (sentences grouped into articles by URL) or both (default).
        split: ``"dev"`` or ``"devtest"``; default both (1,040 sentences, 342 articles).

    Example::

        >>> benchmarks = flores_benchmarks("shared/data/flores200", "npi,sin", levels="sentence")  # doctest: +SKIP
        >>> [b.name for b in benchmarks]  # doctest: +SKIP
        ['flores200-sentence-npi_Deva-eng_Latn', 'flores200-sentence-eng_Latn-npi_Deva', ...]
    """

    if not Path(data_dir).is_dir():
        raise FileNotFoundError(f"FLORES folder not found: {data_dir}")
    layout = detect_layout(data_dir)
    if layout != "flores200":
        raise ValueError(f"{data_dir} is a {layout} folder, not flores200 ({{language}}.txt + metadata.tsv).")
    return bitext_benchmarks(data_dir, languages, directions=directions, levels=levels, split=split)


def load_benchmarks(
    spec: str | Path,
    languages: str | Iterable[str] = "all",
    *,
    directions: str | Iterable[str] = DIRECTIONS,
    levels: str | Iterable[str] | None = None,
    split: str | Iterable[str] | None = None,
    query_language: str | None = None,
    document_language: str | None = None,
) -> list[CLIRBenchmark]:
    """Benchmarks from one specification, as the ``--benchmark`` option of ``optical-st evaluate`` takes it.

    ``spec`` is one of

    * a bitext folder (``flores200``, ``ntrex128``, ``tatoeba_laser``, ``floresv1_ne_si``, ``tico19``, ...):
      :func:`bitext_benchmarks` for ``languages``; ``levels`` defaults to sentence and document where
      the source has documents (:data:`~optical_st.data.LAYOUTS_WITH_DOCUMENTS`), else sentence;
    * an XQuAD-R folder: question -> answer sentence, Hindi questions / English sentences (``xx->eng``)
      and the reverse (``eng->xx``);
    * a folder written by :meth:`CLIRBenchmark.save` (or an MTEB-style folder), or a folder of such folders;
      ``query_language``/``document_language`` name the sides when its files have no language column;
    * a Hub dataset id (``user/name``) in that layout;
    * a bitext file (TSV/CSV/JSONL/Parquet, see :func:`optical_st.data.load_bitext`): sentence retrieval.

    Raises:
        FileNotFoundError: for a path that does not exist and is not a Hub id.
        ValueError: for an empty language list or a source without the requested languages.
    """

    path = Path(spec).expanduser()
    codes = parse_languages(languages)
    sides = {"query_language": query_language, "document_language": document_language}
    if not path.exists():
        if hub_id_form(spec):
            return [load_benchmark(spec, **sides)]
        raise FileNotFoundError(f"Benchmark folder not found (and not a Hub id user/name): {spec}")
    if path.is_file():
        return bitext_benchmarks(
            path, languages, directions=directions, levels=levels or ("sentence",), split=split
        )
    if is_saved_benchmark(path):
        benchmark = load_benchmark(path, **sides)
        if benchmark.query_language not in codes and benchmark.document_language not in codes:
            raise ValueError(
                f"{path} is a {benchmark.query_language}->{benchmark.document_language} benchmark, "
                f"not one of the languages {codes}."
            )
        return [benchmark]
    if path.is_dir():
        children = sorted(child for child in path.iterdir() if child.is_dir() and is_saved_benchmark(child))
        if children:
            loaded = [load_benchmark(child, **sides) for child in children]
            kept = [b for b in loaded if b.query_language in codes or b.document_language in codes]
            if not kept:
                found = sorted({f"{b.query_language}->{b.document_language}" for b in loaded})
                raise ValueError(f"{path}: no saved benchmark for the languages {codes} (found {found}).")
            return kept
    layout = detect_layout(path)
    directions = _parse_choice(directions, DIRECTIONS, "direction")
    if layout == "xquad_r":
        if "hin_Deva" not in codes:
            raise ValueError(f"{path} (XQuAD-R) has Hindi only; the languages asked for were {codes}.")
        pairs = {"xx->eng": ("hin_Deva", ENGLISH), "eng->xx": (ENGLISH, "hin_Deva")}
        return [load_xquad_r(path, *pairs[direction]) for direction in directions]
    if levels is None:
        levels = LEVELS if layout in LAYOUTS_WITH_DOCUMENTS else ("sentence",)
    return bitext_benchmarks(path, languages, directions=directions, levels=levels, split=split)
