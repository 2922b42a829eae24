"""Benchmarks from a specification: every language of a bitext source, the FLORES presets, ``--benchmark``."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from optical_st.data._benchmark import CLIRBenchmark
from optical_st.data._bitext import load_bitext
from optical_st.data._builders import (
    CROSS_SCRIPT_DIRECTION,
    document_retrieval_benchmark,
    sentence_retrieval_benchmark,
)
from optical_st.data._layouts import LAYOUTS_WITH_DOCUMENTS, detect_layout
from optical_st.data._romanized import mark_romanized, romanize_benchmark, romanize_bitext
from optical_st.data._romanizer import Romanizer
from optical_st.data._saved import is_saved_benchmark, load_benchmark
from optical_st.data._xquad import load_xquad_r
from optical_st.hub import hub_id_form
from optical_st.languages import ENGLISH, get_language, is_language_group, native_code, parse_languages

DIRECTIONS: tuple[str, ...] = ("xx->eng", "eng->xx")
"""The default directions; romanized languages also take ``xx_Latn->xx`` (:data:`ALL_DIRECTIONS`)."""
ALL_DIRECTIONS: tuple[str, ...] = (*DIRECTIONS, CROSS_SCRIPT_DIRECTION)
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
    romanizer: Romanizer | None = None,
) -> list[CLIRBenchmark]:
    """Sentence- and/or document-level retrieval benchmarks for every language of a bitext source.

    Args:
        source: anything :func:`optical_st.data.load_bitext` reads: a ``../shared/data`` folder
            (``flores200``, ``ntrex128``, ``tatoeba_laser``, ...), a user file, or a Hub dataset id.
        languages: ``"npi,sin"``, a tier (``"low"``), ``"all"`` (every language the source has) or a list.
            Named languages the source lacks are an error; ``all`` and tiers keep what is there.
            Romanized languages (``npi_Latn``, ``low_Latn``, ``all_Latn``) are views of the native text
            written by ``romanizer``.
        directions: ``"xx->eng"`` (queries in the South Asian language) and/or ``"eng->xx"``, and for
            romanized languages ``"xx_Latn->xx"`` (romanized query -> native-script original; native
            languages skip it).
        levels: ``"sentence"`` (retrieve the translation) and/or ``"document"`` (retrieve the article the
            sentence comes from; needs ``doc_id``, e.g. FLORES URLs or NTREX document ids).
        split: split(s) to load (e.g. ``"dev"`` of flores200); default all.
        dedupe: drop repeated identical pairs first.
        max_pairs: keep a seeded random sample of this many pair ids, the same ids in every language
            (multi-way parallel sources such as FLORES keep one shared English corpus); ``None``: all.
        seed: seed of that sample.
        romanizer: writes the romanized languages (default :class:`Romanizer`: uroman). With a group
            (``all_Latn``) a language it cannot write is left out; named, it is an error.

    Returns:
        Benchmarks ordered by language, then level, then direction.

    Example::

        >>> benchmarks = bitext_benchmarks("shared/data/ntrex128", "low", levels="sentence,document")  # doctest: +SKIP
    """

    directions = _parse_choice(directions, ALL_DIRECTIONS, "direction")
    levels = _parse_choice(levels, LEVELS, "level")
    codes = parse_languages(languages)  # raises on an empty list
    romanizer = romanizer or Romanizer()
    if is_language_group(languages):
        codes = [code for code in codes if romanizer.supports(code)]
    natives = list(dict.fromkeys(native_code(code) for code in codes))
    bitext = load_bitext(
        source, None if is_language_group(languages) else natives, split=split, dedupe=dedupe
    )
    present = set(bitext["language"])
    selected = [code for code in codes if native_code(code) in present]
    if not selected:
        raise ValueError(f"{source}: none of the languages {codes} is present (found {sorted(present)}).")
    keep = _sample_ids(bitext["id"], max_pairs, seed) if max_pairs is not None else None
    all_languages, ids = bitext["language"], bitext["id"]
    benchmarks = []
    for code in selected:
        rows = [
            i
            for i, (language, pair_id) in enumerate(zip(all_languages, ids, strict=True))
            if language == native_code(code) and (keep is None or pair_id in keep)
        ]
        subset = bitext.select(rows)
        romanized = get_language(code).is_romanized
        if romanized:
            subset = romanize_bitext(subset, romanizer)
        for level in levels:
            for direction in directions:
                if direction == CROSS_SCRIPT_DIRECTION and not romanized:
                    continue
                benchmark = _BUILDERS[level](subset, direction)
                benchmarks.append(mark_romanized(benchmark, romanizer) if romanized else benchmark)
    return benchmarks


_BUILDERS = {"sentence": sentence_retrieval_benchmark, "document": document_retrieval_benchmark}


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
    romanizer: Romanizer | None = None,
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

    Romanized languages (``npi_Latn``, ``all_Latn``) give romanized views written by ``romanizer``
    (default uroman): of the bitext (with the ``xx_Latn->xx`` direction when asked for), of XQuAD-R's
    Hindi side, and of a saved or Hub benchmark's native side.

    Raises:
        FileNotFoundError: for a path that does not exist and is not a Hub id.
        ValueError: for an empty language list or a source without the requested languages.
    """

    path = Path(spec).expanduser()
    codes = parse_languages(languages)
    sides = {"query_language": query_language, "document_language": document_language}
    romanizer = romanizer or Romanizer()
    if not path.exists():
        if hub_id_form(spec):
            return _saved_views([load_benchmark(spec, **sides)], codes, romanizer, spec)
        raise FileNotFoundError(f"Benchmark folder not found (and not a Hub id user/name): {spec}")
    if path.is_file():
        return bitext_benchmarks(
            path,
            languages,
            directions=directions,
            levels=levels or ("sentence",),
            split=split,
            romanizer=romanizer,
        )
    if is_saved_benchmark(path):
        return _saved_views([load_benchmark(path, **sides)], codes, romanizer, path)
    if path.is_dir():
        children = sorted(child for child in path.iterdir() if child.is_dir() and is_saved_benchmark(child))
        if children:
            return _saved_views(
                [load_benchmark(child, **sides) for child in children], codes, romanizer, path
            )
    layout = detect_layout(path)
    if layout == "xquad_r":
        return _xquad_views(path, codes, _parse_choice(directions, DIRECTIONS, "direction"), romanizer)
    if levels is None:
        levels = LEVELS if layout in LAYOUTS_WITH_DOCUMENTS else ("sentence",)
    return bitext_benchmarks(
        path, languages, directions=directions, levels=levels, split=split, romanizer=romanizer
    )


def _saved_views(
    loaded: list[CLIRBenchmark], codes: list[str], romanizer: Romanizer, where: str | Path
) -> list[CLIRBenchmark]:
    """The saved benchmarks in ``codes``, and romanized views of those whose ``_Latn`` variant is asked for."""
    kept = []
    for benchmark in loaded:
        languages = (benchmark.query_language, benchmark.document_language)
        if any(code in codes for code in languages):
            kept.append(benchmark)
        wanted = {native_code(code) for code in codes if get_language(code).is_romanized}
        if any(code in wanted for code in languages):
            kept.append(romanize_benchmark(benchmark, romanizer))
    if not kept and len(loaded) == 1:
        raise ValueError(
            f"{where} is a {loaded[0].query_language}->{loaded[0].document_language} benchmark, "
            f"not one of the languages {codes}."
        )
    if not kept:
        found = sorted({f"{b.query_language}->{b.document_language}" for b in loaded})
        raise ValueError(f"{where}: no saved benchmark for the languages {codes} (found {found}).")
    return kept


def _xquad_views(
    path: Path, codes: list[str], directions: list[str], romanizer: Romanizer
) -> list[CLIRBenchmark]:
    """XQuAD-R question -> answer sentence benchmarks: Hindi and/or romanized Hindi (``hin_Latn``)."""
    if "hin_Deva" not in codes and "hin_Latn" not in codes:
        raise ValueError(f"{path} (XQuAD-R) has Hindi only; the languages asked for were {codes}.")
    pairs = {"xx->eng": ("hin_Deva", ENGLISH), "eng->xx": (ENGLISH, "hin_Deva")}
    native = [load_xquad_r(path, *pairs[direction]) for direction in directions]
    romanized = [romanize_benchmark(b, romanizer) for b in native] if "hin_Latn" in codes else []
    return (native if "hin_Deva" in codes else []) + romanized
