"""The folder layouts of ../shared/data: how each is recognised, which splits it has, how it is read."""

from __future__ import annotations

import functools
import hashlib
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optical_st.data._errors import BitextValidationError, HeldOutDataWarning
from optical_st.data._lines import PathLike, read_lines, read_tsv_with_header
from optical_st.data._rows import Rows, filter_languages, maybe_code, wanted_languages
from optical_st.data._tables import TABLE_SUFFIXES, load_table, table_files
from optical_st.languages import ENGLISH
from optical_st.sources import SOURCES


def is_held_out_flores_article(url: str) -> bool:
    """The project's held-out rule for FLORES-200 devtest articles (see ../shared/data/flores200/SOURCE.md).

    A devtest article is held out iff ``int(sha256(URL as UTF-8).hexdigest(), 16) % 2 == 1``; the
    shared ``flores200`` folder holds only the other half. Not used for the dev split.
    """
    return int(hashlib.sha256(url.encode("utf-8")).hexdigest(), 16) % 2 == 1


def detect_layout(directory: PathLike) -> str:
    """Name the layout of a data folder: a key of :data:`SOURCES`, ``"aligned"`` or ``"table"``.

    ``aligned`` is a folder of line-aligned ``{language}.txt`` files including ``eng_Latn.txt``
    (FLORES style without metadata); ``table`` a folder of TSV/CSV/JSONL/Parquet files with
    ``english``/``target`` columns (e.g. a Hub dataset snapshot). The first of :data:`LAYOUTS` whose
    files are there wins.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"Not a data folder: {directory}")
    names = {path.name for path in directory.iterdir()}
    for layout in LAYOUTS:
        if layout.detect(directory, names):
            return layout.name
    raise BitextValidationError(
        f"{directory}: unrecognised data folder (expected one of the layouts {sorted(SOURCES)}, "
        "line-aligned {language}.txt files with eng_Latn.txt, or TSV/JSONL/Parquet files with "
        "english/target columns)."
    )


def _any_name(pattern: str) -> Callable[[Path, set[str]], bool]:
    return lambda directory, names: any(re.fullmatch(pattern, name) for name in names)


def _has_tables(directory: Path, names: set[str]) -> bool:
    return any(path.suffix in TABLE_SUFFIXES for path in directory.rglob("*") if ".cache" not in path.parts)


def _looks_like_xquad(directory: Path, names: set[str]) -> bool:
    for path in directory.glob("*.json"):
        with path.open("rb") as file:
            head = file.read(20_000)
        if b'"sentence_breaks"' in head:
            return True
    return False


def _wanted_splits(layout: str, split: str | Iterable[str] | None, origin: str) -> tuple[str, ...] | None:
    if split is None:
        return SPLITS.get(layout)
    splits = (split,) if isinstance(split, str) else tuple(split)
    valid = SPLITS.get(layout)
    if valid is None:
        raise ValueError(f"{origin} ({layout}) has no named splits; call load_bitext without split=.")
    unknown = [s for s in splits if s not in valid]
    if unknown:
        raise ValueError(f"{origin}: unknown split {unknown[0]!r}; {layout} has splits {', '.join(valid)}.")
    return splits


def _load_flores200(directory: Path, languages, splits) -> Rows:
    metadata_path = directory / "metadata.tsv"
    metadata = read_tsv_with_header(metadata_path)
    missing = {"id", "flores_split", "URL"} - set(metadata[0] if metadata else {})
    if missing:
        raise BitextValidationError(f"{metadata_path}:1: missing columns {sorted(missing)}.")
    files = _language_files(directory)
    rows = Rows()
    english = directory / f"{ENGLISH}.txt"
    for language in wanted_languages(languages, sorted(files), str(directory)):
        target = files[language]
        rows.add_aligned(
            english,
            target,
            language=language,
            source="flores200",
            row_id=lambda index: metadata[index]["id"],
            doc_id=lambda index: metadata[index]["URL"],
            keep=lambda index: splits is None or metadata[index]["flores_split"] in splits,
            # compare data rows of metadata.tsv (header excluded) with the sentence lines
            extra={metadata_path: [""] * len(metadata)},
        )
    held_out = {
        meta["URL"]
        for meta in metadata
        if meta["flores_split"] == "devtest" and is_held_out_flores_article(meta["URL"])
    }
    if held_out:
        warnings.warn(
            f"{metadata_path}: {len(held_out)} FLORES-200 devtest articles are in the project's held-out "
            "half (sha256(URL) odd): keep them for the final evaluation only, never for tuning.",
            HeldOutDataWarning,
            stacklevel=4,
        )
    return rows


def _load_ntrex128(directory: Path, languages, splits) -> Rows:
    english = directory / f"{ENGLISH}.txt"
    doc_path = directory / "document_ids.txt"
    doc_ids = read_lines(doc_path)
    files = _language_files(directory)
    rows = Rows()
    for language in wanted_languages(languages, sorted(files), str(directory)):
        target = files[language]
        rows.add_aligned(
            english,
            target,
            language=language,
            source="ntrex128",
            doc_id=doc_ids.__getitem__,
            extra={doc_path: doc_ids},
        )
    return rows


def _load_floresv1(directory: Path, languages, splits) -> Rows:
    files = sorted(directory.glob("wikipedia.*.*-en.doc_id"))
    available = {}
    for path in files:
        file_code = path.name.split(".")[2].split("-")[0]
        code = maybe_code(file_code)
        if code is not None:
            available.setdefault(code, file_code)
    rows = Rows()
    for language in wanted_languages(languages, sorted(available), str(directory)):
        file_code = available[language]
        for split in splits:
            stem = directory / f"wikipedia.{split}.{file_code}-en"
            doc_path = Path(f"{stem}.doc_id")
            doc_ids = read_lines(doc_path)
            target = Path(f"{stem}.{file_code}")
            rows.add_aligned(
                Path(f"{stem}.en"),
                target,
                language=language,
                source="floresv1_ne_si",
                row_id=lambda index, split=split: f"{split}:{index}",
                doc_id=doc_ids.__getitem__,
                extra={doc_path: doc_ids},
            )
    return rows


def _load_tico19(directory: Path, languages, splits) -> Rows:
    available = sorted(
        {
            m.group(1)
            for p in directory.iterdir()
            if (m := re.fullmatch(r"\w+\.eng_Latn-(\w+)\.eng_Latn", p.name))
        }
    )
    rows = Rows()
    for language in wanted_languages(languages, available, str(directory)):
        for split in splits:
            stem = f"{split}.{ENGLISH}-{language}"
            ids_path = directory / f"{stem}.ids.tsv"
            ids = read_tsv_with_header(ids_path)
            target = directory / f"{stem}.{language}"
            rows.add_aligned(
                directory / f"{stem}.{ENGLISH}",
                target,
                language=language,
                source="tico19",
                row_id=lambda index, split=split, ids=ids: f"{split}:{ids[index]['tuid']}",
                doc_id=lambda index, ids=ids: ids[index]["tuid"].rsplit(":", 1)[0],
                extra={ids_path: [""] * len(ids)},
            )
    return rows


def _load_tatoeba(directory: Path, languages, splits, *, laser: bool) -> Rows:
    pattern = r"tatoeba\.(\w+)-eng\.eng" if laser else r"(\w+)-eng\.(.+)\.eng"
    pairs: dict[str, tuple[Path, Path]] = {}
    for path in sorted(directory.iterdir()):
        match = re.fullmatch(pattern, path.name)
        if match:
            file_code = match.group(1)
            target = path.with_name(path.name[: -len("eng")] + file_code)
            code = maybe_code(file_code)
            # Upstream folders hold languages outside the registry (e.g. LASER's 112): skip those.
            if code is not None and code != ENGLISH:
                pairs[code] = (path, target)
    rows = Rows()
    name = "tatoeba_laser" if laser else "tatoeba_challenge"
    for language in wanted_languages(languages, sorted(pairs), str(directory)):
        english, target = pairs[language]
        rows.add_aligned(english, target, language=language, source=name)
    return rows


def _language_files(directory: Path) -> dict[str, Path]:
    """``{FLORES code: path}`` of the non-English ``{language}.txt`` files of a folder."""
    files = {}
    for path in sorted(directory.glob("*.txt")):
        code = maybe_code(path.stem)
        if code is not None and code != ENGLISH:
            files.setdefault(code, path)
    return files


def _load_aligned_dir(directory: Path, languages, splits) -> Rows:
    files = _language_files(directory)
    rows = Rows()
    english = directory / f"{ENGLISH}.txt"
    for language in wanted_languages(languages, sorted(files), str(directory)):
        target = files[language]
        rows.add_aligned(english, target, language=language, source=directory.name)
    return rows


def _load_tables(directory: Path, language, split, name: str | None) -> Rows:
    rows = Rows()
    files = [path for path in table_files(directory, split) if path.name != "metadata.json"]
    for path in files:
        # Row numbers restart in every file: prefix them with the file so ids stay unique.
        prefix = f"{path.relative_to(directory).with_suffix('')}:" if len(files) > 1 else ""
        rows.extend(load_table(path, language, name=name, id_prefix=prefix))
    return filter_languages(rows, language, str(directory))


@dataclass(frozen=True)
class Layout:
    """One folder layout: how it is recognised, its named splits, how it is read, whether it has documents.

    Attributes:
        name: ``flores200``, ... (the key of its :data:`~optical_st.sources.SOURCES` entry), ``aligned``
            or ``table``.
        detect: ``detect(directory, file_names)``: whether a folder is in this layout.
        load: ``load(directory, languages, splits)`` -> rows; ``None`` for a layout that is not bitext.
        splits: the named splits, ``None`` for one unnamed split.
        has_documents: every row has a ``doc_id`` (a FLORES URL, NTREX document, FLoRes v1 article,
            TICO-19 tuid prefix), so document-level benchmarks can be built.
    """

    name: str
    detect: Callable[[Path, set[str]], bool]
    load: Callable[[Path, Any, Any], Rows] | None
    splits: tuple[str, ...] | None = None
    has_documents: bool = False


LAYOUTS: tuple[Layout, ...] = (
    Layout("flores200", lambda d, names: {"metadata.tsv", f"{ENGLISH}.txt"} <= names, _load_flores200,
           ("dev", "devtest"), has_documents=True),
    Layout("ntrex128", lambda d, names: {"document_ids.txt", f"{ENGLISH}.txt"} <= names, _load_ntrex128,
           has_documents=True),
    Layout("floresv1_ne_si", _any_name(r"wikipedia\.\w+\.\w+-en\.doc_id"), _load_floresv1,
           ("dev", "devtest", "test"), has_documents=True),
    Layout("tico19", _any_name(r"\w+\.eng_Latn-\w+\.eng_Latn"), _load_tico19, ("dev", "test"), has_documents=True),
    Layout("tatoeba_laser", _any_name(r"tatoeba\.\w+-eng\.eng"), functools.partial(_load_tatoeba, laser=True)),
    Layout("tatoeba_challenge", _any_name(r"\w+-eng\..+\.eng"), functools.partial(_load_tatoeba, laser=False)),
    Layout("xquad_r", _looks_like_xquad, None),
    Layout("aligned", lambda d, names: f"{ENGLISH}.txt" in names, _load_aligned_dir),
    Layout("table", _has_tables, None),  # user tables: read by _load_tables, split names select files
)  # fmt: skip
"""Every layout, in detection order (the first that matches names a folder)."""

SPLITS: dict[str, tuple[str, ...]] = {layout.name: layout.splits for layout in LAYOUTS if layout.splits}
"""Splits of the layouts that have them; every other layout has a single unnamed split."""

LAYOUTS_WITH_DOCUMENTS: tuple[str, ...] = tuple(layout.name for layout in LAYOUTS if layout.has_documents)
"""Layouts whose bitext has document ids: document-level benchmarks by default (``load_benchmarks``)."""

_BY_NAME = {layout.name: layout for layout in LAYOUTS}


def load_directory(directory: Path, language, split, name: str | None = None) -> Rows:
    """The bitext rows of a data folder, read by the loader of its layout."""
    layout = _BY_NAME[detect_layout(directory)]
    if layout.name == "xquad_r":
        raise ValueError(f"{directory} is XQuAD-R, a retrieval benchmark, not bitext: use load_xquad_r().")
    if layout.name == "table":
        return _load_tables(directory, language, split, name)
    return layout.load(directory, language, _wanted_splits(layout.name, split, str(directory)))
