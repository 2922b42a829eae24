"""Bitext and CLIR benchmarks: loading, validation and benchmark builders.

Everything downstream (the loss, the evaluator, the demo) receives plain :class:`datasets.Dataset`
objects with fixed columns, so this module is the one place that knows file layouts.

Bitext (:func:`load_bitext`) has the columns

=========  =========================================================================
column     content
=========  =========================================================================
id         unique per language: FLORES SIB-200 id, ``split:line`` (FLoRes v1), ``split:tuid`` (TICO-19),
           0-based line (other files) or the file's own ``id`` column
language   FLORES-200 code of the non-English side, e.g. ``npi_Deva``
english    English sentence
target     its translation
doc_id     source document (FLORES URL, NTREX/FLoRes v1 document id, TICO-19 tuid prefix); ``""`` if unknown
source     dataset name, e.g. ``flores200`` (a key of :data:`SOURCES`) or the user file's name
=========  =========================================================================

A CLIR benchmark (:class:`CLIRBenchmark`) uses the Hub/MTEB retrieval layout: ``queries``
(``_id, text, language``), ``corpus`` (``_id, title, text, language``) and ``qrels``
(``query-id, corpus-id, score``).

Example::

    >>> from optical_st.data import load_bitext, sentence_retrieval_benchmark
    >>> bitext = load_bitext("../shared/data/flores200", "ne", split="dev")  # doctest: +SKIP
    >>> len(bitext)  # doctest: +SKIP
    509
    >>> benchmark = sentence_retrieval_benchmark(bitext, "xx->eng")  # doctest: +SKIP
    >>> benchmark.relevant_docs()["npi_Deva:0"]  # doctest: +SKIP
    {'eng_Latn:0'}
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from datasets import Dataset

from optical_st.languages import ENGLISH, UnknownLanguageError, get_language

BITEXT_COLUMNS = ("id", "language", "english", "target", "doc_id", "source")
QUERY_COLUMNS = ("_id", "text", "language")
CORPUS_COLUMNS = ("_id", "title", "text", "language")
QRELS_COLUMNS = ("query-id", "corpus-id", "score")
Direction = Literal["xx->eng", "eng->xx"]
PathLike = str | Path

# Licence and citation of every dataset in ../shared/data, copied from its SOURCE.md. Benchmarks
# carry the entry of their source so that cards and result tables can attribute the data.
SOURCES: dict[str, dict[str, str]] = {
    "flores200": {
        "name": "FLORES-200 (shared dev/devtest part, SIB-200 ids)",
        "licence": "CC BY-SA 4.0",
        "url": "https://github.com/facebookresearch/flores",
        "citation": r"""@article{nllb2022,
  title   = {No Language Left Behind: Scaling Human-Centered Machine Translation},
  author  = {{NLLB Team} and Costa-juss{\`a}, Marta R. and Cross, James and {\c{C}}elebi, Onur and others},
  journal = {arXiv preprint arXiv:2207.04672},
  year    = {2022}
}
@article{goyal2022flores,
  title   = {The {Flores-101} Evaluation Benchmark for Low-Resource and Multilingual Machine Translation},
  author  = {Goyal, Naman and Gao, Cynthia and Chaudhary, Vishrav and Chen, Peng-Jen and Wenzek, Guillaume and Ju, Da and Krishnan, Sanjana and Ranzato, Marc'Aurelio and Guzm{\'a}n, Francisco and Fan, Angela},
  journal = {Transactions of the Association for Computational Linguistics},
  volume  = {10},
  pages   = {522--538},
  year    = {2022}
}
@misc{adelani2023sib200,
  title         = {SIB-200: A Simple, Inclusive, and Big Evaluation Dataset for Topic Classification in 200+ Languages and Dialects},
  author        = {David Ifeoluwa Adelani and Hannah Liu and Xiaoyu Shen and Nikita Vassilyev and Jesujoba O. Alabi and Yanke Mao and Haonan Gao and Annie En-Shiun Lee},
  year          = {2023},
  eprint        = {2309.07445},
  archivePrefix = {arXiv},
  primaryClass  = {cs.CL}
}""",
    },
    "floresv1_ne_si": {
        "name": "FLoRes v1 Nepali-English and Sinhala-English (Wikipedia)",
        "licence": "CC BY-SA 4.0",
        "url": "https://github.com/facebookresearch/flores",
        "citation": r"""@article{guzman2019flores,
  title   = {Two New Evaluation Datasets for Low-Resource Machine Translation: Nepali-English and Sinhala-English},
  author  = {Guzm\'{a}n, Francisco and Chen, Peng-Jen and Ott, Myle and Pino, Juan and Lample, Guillaume and Koehn, Philipp and Chaudhary, Vishrav and Ranzato, Marc'Aurelio},
  journal = {arXiv preprint arXiv:1902.01382},
  year    = {2019}
}""",
    },
    "ntrex128": {
        "name": "NTREX-128 (news, WMT19 newstest source)",
        "licence": "CC BY-SA 4.0",
        "url": "https://github.com/MicrosoftTranslator/NTREX",
        "citation": r"""@inproceedings{federmann-etal-2022-ntrex,
    title = "{NTREX}-128 {--} News Test References for {MT} Evaluation of 128 Languages",
    author = "Federmann, Christian and Kocmi, Tom and Xin, Ying",
    booktitle = "Proceedings of the First Workshop on Scaling Up Multilingual Evaluation",
    month = "nov",
    year = "2022",
    address = "Online",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/2022.sumeval-1.4",
    pages = "21--24",
}""",
    },
    "tico19": {
        "name": "TICO-19 (Translation Initiative for COVID-19)",
        "licence": "CC0 1.0",
        "url": "https://tico-19.github.io",
        "citation": r"""@misc{tico-19,
author={Anastasopoulos, Antonios and Cattelan, Alessandro and Dou, Zi-Yi and Federico, Marcello and Federmann, Christian and  Genzel, Dmitriy and Guzm\'{a}n, Francisco and Hu, Junjie and Hughes, Macduff and Koehn, Philipp and Lazar, Rosie and Lewis, Will and Neubig, Graham and Niu, Mengmeng and \"{O}ktem, Alp and Paquin, Eric and Tang, Grace and Tur, Sylwia},
title={{TICO}-19: the {T}ranslation Initiative for {CO}vid-19},
year={2020},
note={{arXiv}:2007.01788}
}""",
    },
    "tatoeba_laser": {
        "name": "Tatoeba similarity search (LASER / XTREME)",
        "licence": "CC BY 2.0 FR",
        "url": "https://github.com/facebookresearch/LASER/tree/main/data/tatoeba/v1",
        "citation": r"""@article{artetxe2019massively,
  title   = {Massively Multilingual Sentence Embeddings for Zero-Shot Cross-Lingual Transfer and Beyond},
  author  = {Artetxe, Mikel and Schwenk, Holger},
  journal = {Transactions of the Association for Computational Linguistics},
  volume  = {7},
  pages   = {597--610},
  year    = {2019}
}""",
    },
    "tatoeba_challenge": {
        "name": "Tatoeba Translation Challenge test sets",
        "licence": "CC BY 2.0 FR",
        "url": "https://github.com/Helsinki-NLP/Tatoeba-Challenge",
        "citation": r"""@inproceedings{tiedemann-2020-tatoeba,
  title     = {The {T}atoeba {T}ranslation {C}hallenge -- {R}ealistic Data Sets for Low Resource and Multilingual {MT}},
  author    = {Tiedemann, J{\"o}rg},
  booktitle = {Proceedings of the Fifth Conference on Machine Translation},
  pages     = {1174--1182},
  year      = {2020}
}""",
    },
    "xquad_r": {
        "name": "XQuAD-R (LAReQA)",
        "licence": "CC BY-SA 4.0",
        "url": "https://github.com/google-research-datasets/lareqa",
        "citation": r"""@article{roy2020lareqa,
  title={LAReQA: Language-agnostic answer retrieval from a multilingual pool},
  author={Roy, Uma and Constant, Noah and Al-Rfou, Rami and Barua, Aditya and Phillips, Aaron and Yang, Yinfei},
  journal={arXiv preprint arXiv:2004.05484},
  year={2020}
}
@inproceedings{artetxe-etal-2020-cross,
  title     = {On the Cross-lingual Transferability of Monolingual Representations},
  author    = {Artetxe, Mikel and Ruder, Sebastian and Yogatama, Dani},
  booktitle = {Proceedings of ACL 2020},
  year      = {2020}
}""",
    },
}

SPLITS: dict[str, tuple[str, ...]] = {
    "flores200": ("dev", "devtest"),
    "floresv1_ne_si": ("dev", "devtest", "test"),
    "tico19": ("dev", "test"),
}
"""Splits of the layouts that have them; every other layout has a single unnamed split."""

_TABLE_SUFFIXES = (".tsv", ".csv", ".jsonl", ".parquet")
"""Table files read from a folder (a single file may also be a ``.json`` array of records)."""
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class BitextValidationError(ValueError):
    """Bad bitext input; the message names the file and the 1-based line (or row)."""


class BenchmarkValidationError(ValueError):
    """An inconsistent CLIR benchmark (unknown ids in qrels, a query without a relevant document, ...)."""


class DuplicatePairsWarning(UserWarning):
    """Bitext contains repeated pairs or repeated sentences (counts in the message)."""


class HeldOutDataWarning(UserWarning):
    """FLORES-200 devtest rows from the articles this project keeps held out for final evaluation."""


def is_held_out_flores_article(url: str) -> bool:
    """The project's held-out rule for FLORES-200 devtest articles (see ../shared/data/flores200/SOURCE.md).

    A devtest article is held out iff ``int(sha256(URL as UTF-8).hexdigest(), 16) % 2 == 1``; the
    shared ``flores200`` folder holds only the other half. Not used for the dev split.
    """
    return int(hashlib.sha256(url.encode("utf-8")).hexdigest(), 16) % 2 == 1


# --------------------------------------------------------------------------------------------------
# Reading files


def read_lines(path: PathLike, *, strip: bool = True) -> list[str]:
    """The lines of a UTF-8 text file without line ends (and surrounding whitespace if ``strip``).

    Raises:
        BitextValidationError: for bytes that are not UTF-8, naming the file and 1-based line.
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise BitextValidationError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{raw[error.start]:02x} at byte offset {error.start}); "
            "re-encode the file as UTF-8, e.g. `iconv -f <encoding> -t UTF-8`."
        ) from None
    # split("\n") rather than splitlines(): Unicode line separators inside a sentence must not
    # shift the alignment with the other side.
    lines = text.removeprefix("\ufeff").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.strip() if strip else line.removesuffix("\r") for line in lines]


def _check_no_empty(lines: Sequence[str], path: Path, what: str = "line") -> None:
    empty = [number for number, line in enumerate(lines, start=1) if not line]
    if empty:
        shown = ", ".join(map(str, empty[:10])) + (", ..." if len(empty) > 10 else "")
        raise BitextValidationError(
            f"{path}:{empty[0]}: empty {what} ({len(empty)} empty in all, at lines {shown}); "
            "every line must hold a sentence aligned with the other side."
        )


def _check_same_length(files: dict[Path, Sequence[Any]]) -> None:
    counts = {path: len(lines) for path, lines in files.items()}
    if len(set(counts.values())) > 1:
        listing = "; ".join(f"{path}: {count} lines" for path, count in counts.items())
        raise BitextValidationError(f"Line-aligned files have different line counts: {listing}.")


def _read_aligned(english: Path, target: Path, extra: dict[Path, list[str]] | None = None):
    english_lines, target_lines = read_lines(english), read_lines(target)
    _check_same_length({english: english_lines, target: target_lines, **(extra or {})})
    _check_no_empty(english_lines, english)
    _check_no_empty(target_lines, target)
    return english_lines, target_lines


def _read_tsv_with_header(path: Path) -> list[dict[str, str]]:
    lines = read_lines(path, strip=False)
    if not lines:
        raise BitextValidationError(f"{path}: empty file (expected a header line).")
    header = lines[0].split("\t")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            raise BitextValidationError(
                f"{path}:{number}: {len(cells)} tab-separated fields, the header has {len(header)}."
            )
        rows.append(dict(zip(header, (cell.strip() for cell in cells), strict=True)))
    return rows


# --------------------------------------------------------------------------------------------------
# Bitext rows, validation and duplicates


@dataclass
class _Rows:
    """Columns under construction plus, per row, where it came from (for error messages)."""

    columns: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in BITEXT_COLUMNS})
    where: list[str] = field(default_factory=list)

    def add(self, *, where: str, **values: str) -> None:
        for column in BITEXT_COLUMNS:
            self.columns[column].append(values.get(column, ""))
        self.where.append(where)

    def add_aligned(
        self,
        english: Path,
        target: Path,
        *,
        language: str,
        source: str,
        row_id: Callable[[int], str] = str,
        doc_id: Callable[[int], str] | None = None,
        keep: Callable[[int], bool] | None = None,
        extra: dict[Path, list[str]] | None = None,
    ) -> None:
        """Add one row per line pair of line-aligned files (checked by :func:`_read_aligned` first).

        ``row_id``, ``doc_id`` and ``keep`` map the 0-based line index to the row's id, its document
        id (none by default) and whether to keep it (e.g. only some splits); ``extra`` are further
        files or columns that must have as many lines.
        """
        english_lines, target_lines = _read_aligned(english, target, extra)
        for index, (en, xx) in enumerate(zip(english_lines, target_lines, strict=True)):
            if keep is not None and not keep(index):
                continue
            self.add(
                where=f"{target}:{index + 1}",
                id=row_id(index),
                language=language,
                english=en,
                target=xx,
                doc_id=doc_id(index) if doc_id is not None else "",
                source=source,
            )

    def extend(self, other: _Rows) -> None:
        for column in BITEXT_COLUMNS:
            self.columns[column].extend(other.columns[column])
        self.where.extend(other.where)

    def __len__(self) -> int:
        return len(self.where)


def _language_of(value: str, where: str) -> str:
    try:
        code = get_language(value).code
    except UnknownLanguageError as error:
        raise BitextValidationError(f"{where}: {error}") from None
    if code == ENGLISH:
        raise BitextValidationError(f"{where}: the target language must not be English ({value!r}).")
    return code


def _argument_language(value: str) -> str:
    """A ``language=`` argument as a FLORES code; unknown names raise :class:`UnknownLanguageError`."""
    code = get_language(value).code
    if code == ENGLISH:
        raise ValueError("language= names the non-English side of the bitext, not English.")
    return code


def _check_unique_ids(rows: _Rows) -> None:
    seen: dict[tuple[str, str], str] = {}
    for language, row_id, where in zip(rows.columns["language"], rows.columns["id"], rows.where, strict=True):
        key = (language, row_id)
        if key in seen:
            raise BitextValidationError(
                f"{where}: id {row_id!r} already used at {seen[key]} for {language}; ids must be unique."
            )
        seen[key] = where


def _duplicates_report(rows: _Rows) -> dict[str, dict[str, int]]:
    """Per language: repeated (english, target) pairs and repeated English / target sentences."""
    report: dict[str, dict[str, int]] = {}
    by_language: dict[str, list[int]] = defaultdict(list)
    for index, language in enumerate(rows.columns["language"]):
        by_language[language].append(index)
    english, target = rows.columns["english"], rows.columns["target"]
    for language, indices in by_language.items():
        pairs = Counter((english[i], target[i]) for i in indices)
        english_counts = Counter(english[i] for i in indices)
        target_counts = Counter(target[i] for i in indices)
        counts = {
            "duplicate_pairs": sum(n - 1 for n in pairs.values()),
            "repeated_english": sum(n - 1 for n in english_counts.values()),
            "repeated_target": sum(n - 1 for n in target_counts.values()),
        }
        if any(counts.values()):
            report[language] = counts
    return report


def _dedupe(rows: _Rows) -> _Rows:
    kept = _Rows()
    seen: set[tuple[str, str, str]] = set()
    columns = rows.columns
    for index, where in enumerate(rows.where):
        key = (columns["language"][index], columns["english"][index], columns["target"][index])
        if key in seen:
            continue
        seen.add(key)
        kept.add(where=where, **{c: columns[c][index] for c in BITEXT_COLUMNS})
    return kept


def _finish(rows: _Rows, origin: str, dedupe: bool) -> Dataset:
    if not len(rows):
        raise BitextValidationError(f"{origin}: no bitext rows found.")
    _check_unique_ids(rows)
    report = _duplicates_report(rows)
    if report:
        details = "; ".join(
            f"{language}: {c['duplicate_pairs']} duplicate pairs, {c['repeated_english']} repeated English "
            f"sentences, {c['repeated_target']} repeated target sentences"
            for language, c in report.items()
        )
        action = (
            "duplicate pairs removed (dedupe=True)" if dedupe else "pass dedupe=True to drop duplicate pairs"
        )
        warnings.warn(f"{origin}: {details} ({action}).", DuplicatePairsWarning, stacklevel=3)
    if dedupe:
        rows = _dedupe(rows)
    return Dataset.from_dict(rows.columns)


# --------------------------------------------------------------------------------------------------
# Layouts


def detect_layout(directory: PathLike) -> str:
    """Name the layout of a data folder: a key of :data:`SOURCES`, ``"aligned"`` or ``"table"``.

    ``aligned`` is a folder of line-aligned ``{language}.txt`` files including ``eng_Latn.txt``
    (FLORES style without metadata); ``table`` a folder of TSV/CSV/JSONL/Parquet files with
    ``english``/``target`` columns (e.g. a Hub dataset snapshot).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"Not a data folder: {directory}")
    names = {path.name for path in directory.iterdir()}
    if "metadata.tsv" in names and "eng_Latn.txt" in names:
        return "flores200"
    if "document_ids.txt" in names and "eng_Latn.txt" in names:
        return "ntrex128"
    if any(re.fullmatch(r"wikipedia\.\w+\.\w+-en\.doc_id", name) for name in names):
        return "floresv1_ne_si"
    if any(re.fullmatch(r"\w+\.eng_Latn-\w+\.eng_Latn", name) for name in names):
        return "tico19"
    if any(re.fullmatch(r"tatoeba\.\w+-eng\.eng", name) for name in names):
        return "tatoeba_laser"
    if any(re.fullmatch(r"\w+-eng\..+\.eng", name) for name in names):
        return "tatoeba_challenge"
    if _looks_like_xquad(directory):
        return "xquad_r"
    if "eng_Latn.txt" in names:
        return "aligned"
    if any(path.suffix in _TABLE_SUFFIXES for path in directory.rglob("*") if ".cache" not in path.parts):
        return "table"
    raise BitextValidationError(
        f"{directory}: unrecognised data folder (expected one of the layouts {sorted(SOURCES)}, "
        "line-aligned {language}.txt files with eng_Latn.txt, or TSV/JSONL/Parquet files with "
        "english/target columns)."
    )


def _looks_like_xquad(directory: Path) -> bool:
    for path in directory.glob("*.json"):
        with path.open("rb") as file:
            head = file.read(20_000)
        if b'"sentence_breaks"' in head:
            return True
    return False


def _wanted_languages(
    requested: str | Iterable[str] | None, available: Iterable[str], origin: str
) -> list[str]:
    """Resolve ``language`` against what a source offers (aliases, tiers and ``all`` accepted)."""
    available = list(dict.fromkeys(available))
    if requested is None:
        return available
    items = [requested] if isinstance(requested, str) else list(requested)
    items = [part.strip() for item in items for part in str(item).split(",") if part.strip()]
    if not items:
        raise ValueError(
            "language is empty: give a code such as 'npi_Deva', 'ne', 'Nepali', a tier or 'all'."
        )
    wanted: list[str] = []
    for item in items:
        key = item.casefold()
        if key == "all":
            selected = available
        elif key in ("low", "mid", "high"):
            selected = [code for code in available if get_language(code).tier == key]
        else:
            code = get_language(item).code
            if code not in available:
                raise ValueError(
                    f"{origin} has no {code} ({get_language(code).name}) data; available: {', '.join(available)}."
                )
            selected = [code]
        wanted.extend(code for code in selected if code not in wanted)
    if not wanted:
        raise ValueError(f"{origin}: no language matches {requested!r}; available: {', '.join(available)}.")
    return wanted


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


def _load_flores200(directory: Path, languages, splits) -> _Rows:
    metadata_path = directory / "metadata.tsv"
    metadata = _read_tsv_with_header(metadata_path)
    missing = {"id", "flores_split", "URL"} - set(metadata[0] if metadata else {})
    if missing:
        raise BitextValidationError(f"{metadata_path}:1: missing columns {sorted(missing)}.")
    files = _language_files(directory)
    rows = _Rows()
    english = directory / f"{ENGLISH}.txt"
    for language in _wanted_languages(languages, sorted(files), str(directory)):
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


def _load_ntrex128(directory: Path, languages, splits) -> _Rows:
    english = directory / f"{ENGLISH}.txt"
    doc_path = directory / "document_ids.txt"
    doc_ids = read_lines(doc_path)
    files = _language_files(directory)
    rows = _Rows()
    for language in _wanted_languages(languages, sorted(files), str(directory)):
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


def _load_floresv1(directory: Path, languages, splits) -> _Rows:
    files = sorted(directory.glob("wikipedia.*.*-en.doc_id"))
    available = {}
    for path in files:
        file_code = path.name.split(".")[2].split("-")[0]
        code = _maybe_code(file_code)
        if code is not None:
            available.setdefault(code, file_code)
    rows = _Rows()
    for language in _wanted_languages(languages, sorted(available), str(directory)):
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


def _load_tico19(directory: Path, languages, splits) -> _Rows:
    available = sorted(
        {
            m.group(1)
            for p in directory.iterdir()
            if (m := re.fullmatch(r"\w+\.eng_Latn-(\w+)\.eng_Latn", p.name))
        }
    )
    rows = _Rows()
    for language in _wanted_languages(languages, available, str(directory)):
        for split in splits:
            stem = f"{split}.{ENGLISH}-{language}"
            ids_path = directory / f"{stem}.ids.tsv"
            ids = _read_tsv_with_header(ids_path)
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


def _load_tatoeba(directory: Path, languages, splits, *, laser: bool) -> _Rows:
    pattern = r"tatoeba\.(\w+)-eng\.eng" if laser else r"(\w+)-eng\.(.+)\.eng"
    pairs: dict[str, tuple[Path, Path]] = {}
    for path in sorted(directory.iterdir()):
        match = re.fullmatch(pattern, path.name)
        if match:
            file_code = match.group(1)
            target = path.with_name(path.name[: -len("eng")] + file_code)
            code = _maybe_code(file_code)
            # Upstream folders hold languages outside the registry (e.g. LASER's 112): skip those.
            if code is not None and code != ENGLISH:
                pairs[code] = (path, target)
    rows = _Rows()
    name = "tatoeba_laser" if laser else "tatoeba_challenge"
    for language in _wanted_languages(languages, sorted(pairs), str(directory)):
        english, target = pairs[language]
        rows.add_aligned(english, target, language=language, source=name)
    return rows


def _language_files(directory: Path) -> dict[str, Path]:
    """``{FLORES code: path}`` of the non-English ``{language}.txt`` files of a folder."""
    files = {}
    for path in sorted(directory.glob("*.txt")):
        code = _maybe_code(path.stem)
        if code is not None and code != ENGLISH:
            files.setdefault(code, path)
    return files


def _load_aligned_dir(directory: Path, languages, splits) -> _Rows:
    files = _language_files(directory)
    rows = _Rows()
    english = directory / f"{ENGLISH}.txt"
    for language in _wanted_languages(languages, sorted(files), str(directory)):
        target = files[language]
        rows.add_aligned(english, target, language=language, source=directory.name)
    return rows


def _maybe_code(text: str) -> str | None:
    try:
        return get_language(text).code
    except UnknownLanguageError:
        return None


# --------------------------------------------------------------------------------------------------
# User tables (TSV / CSV / JSONL / Parquet)


def _table_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(location, record) pairs of a table file; locations are ``file:line`` (1-based, header = 1)."""
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".csv"):
        lines = read_lines(path, strip=False)
        if not lines:
            raise BitextValidationError(f"{path}: empty file (expected a header with english, target).")
        if suffix == ".tsv":
            # No quoting in TSV: sentences may contain quote characters verbatim.
            table = [line.split("\t") for line in lines]
        else:
            table = list(csv.reader(io.StringIO("\n".join(lines))))
        header = [cell.strip() for cell in table[0]]
        records = []
        for number, cells in enumerate(table[1:], start=2):
            if len(cells) != len(header):
                raise BitextValidationError(
                    f"{path}:{number}: {len(cells)} fields, but the header {header} has {len(header)}."
                )
            records.append((f"{path}:{number}", dict(zip(header, cells, strict=True))))
        return records
    if suffix in (".jsonl", ".json"):
        lines = read_lines(path)
        if suffix == ".json" and lines and lines[0].startswith("["):
            try:
                data = json.loads("\n".join(lines))
            except json.JSONDecodeError as error:
                raise BitextValidationError(f"{path}:{error.lineno}: invalid JSON ({error.msg}).") from None
            return [(f"{path}: record {i + 1}", record) for i, record in enumerate(data)]
        records = []
        for number, line in enumerate(lines, start=1):
            if not line:
                raise BitextValidationError(f"{path}:{number}: empty line in a JSON-lines file.")
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise BitextValidationError(f"{path}:{number}: invalid JSON ({error.msg}).") from None
            if not isinstance(record, dict):
                raise BitextValidationError(
                    f"{path}:{number}: expected a JSON object, got {type(record).__name__}."
                )
            records.append((f"{path}:{number}", record))
        return records
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return [(f"{path}: row {i + 1}", record) for i, record in enumerate(pq.read_table(path).to_pylist())]
    raise BitextValidationError(
        f"{path}: unsupported file type {suffix!r} (use .tsv, .csv, .jsonl or .parquet)."
    )


def _load_table(path: Path, languages, name: str | None = None, id_prefix: str = "") -> _Rows:
    records = _table_records(path)
    rows = _Rows()
    default_language = None
    if languages is not None:
        items = [languages] if isinstance(languages, str) else list(languages)
        if (
            len(items) == 1
            and "," not in items[0]
            and items[0].casefold() not in ("all", "low", "mid", "high")
        ):
            default_language = _argument_language(items[0])
    for index, (where, record) in enumerate(records):
        if "english" not in record and isinstance(record.get("translation"), dict):
            record = {**record, **_from_translation(record["translation"], where)}
        missing = [column for column in ("english", "target") if column not in record]
        if missing:
            raise BitextValidationError(
                f"{where}: missing column(s) {missing}; a bitext table needs english and target "
                f"(and language unless load_bitext(..., language=...) is given). Found: {sorted(record)}."
            )
        values = {}
        for column in ("english", "target"):
            value = record[column]
            if value is not None and not isinstance(value, str):  # JSON/Parquet: 123 is not a sentence
                raise BitextValidationError(
                    f"{where}: {column} must be text, got the {type(value).__name__} {value!r}."
                )
            if value is None or not value.strip():
                raise BitextValidationError(f"{where}: empty {column} sentence.")
            values[column] = value.strip()
        raw_language = record.get("language")
        if raw_language not in (None, ""):
            language = _language_of(str(raw_language), where)
        elif default_language is not None:
            language = default_language
        else:
            raise BitextValidationError(
                f"{where}: no language column and no language= argument; pass e.g. "
                "load_bitext(path, language='npi_Deva')."
            )
        rows.add(
            where=where,
            id=str(record["id"]) if record.get("id") not in (None, "") else f"{id_prefix}{index}",
            language=language,
            doc_id=str(record.get("doc_id") or ""),
            source=str(record.get("source") or name or path.stem),
            **values,
        )
    return rows


def _from_translation(translation: dict[str, Any], where: str) -> dict[str, Any]:
    """The Hub's translation format ``{"en": ..., "ne": ...}`` as english / target / language."""
    english_keys = [key for key in translation if _maybe_code(key) == ENGLISH]
    others = [key for key in translation if key not in english_keys]
    if len(english_keys) != 1 or len(others) != 1:
        raise BitextValidationError(
            f"{where}: a translation record needs one English and one other language, got {sorted(translation)}."
        )
    return {"english": translation[english_keys[0]], "target": translation[others[0]], "language": others[0]}


def _filter_languages(rows: _Rows, languages, origin: str) -> _Rows:
    if languages is None:
        return rows
    wanted = set(_wanted_languages(languages, rows.columns["language"], origin))
    kept = _Rows()
    for index, where in enumerate(rows.where):
        if rows.columns["language"][index] in wanted:
            kept.add(where=where, **{c: rows.columns[c][index] for c in BITEXT_COLUMNS})
    return kept


def _table_files(directory: Path, split) -> list[Path]:
    files = sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and p.suffix.lower() in _TABLE_SUFFIXES and ".cache" not in p.parts
    )
    if split is not None:
        splits = (split,) if isinstance(split, str) else tuple(split)
        files = [
            p for p in files if any(s in re.split(r"[/._-]", str(p.relative_to(directory))) for s in splits)
        ]
        if not files:
            raise ValueError(f"{directory}: no data file for split {split!r}.")
    return files


# --------------------------------------------------------------------------------------------------
# load_bitext


def load_bitext(
    source: PathLike | tuple[PathLike, PathLike],
    language: str | Iterable[str] | None = None,
    *,
    split: str | Iterable[str] | None = None,
    dedupe: bool = False,
    revision: str | None = None,
) -> Dataset:
    """Load English <-> South Asian bitext as a validated :class:`datasets.Dataset`.

    Args:
        source: where the bitext lives, one of

            * a folder in one of the layouts of ``../shared/data`` (``flores200``, ``floresv1_ne_si``,
              ``ntrex128``, ``tico19``, ``tatoeba_laser``, ``tatoeba_challenge``), detected from its files;
            * a folder of line-aligned ``{language}.txt`` files with ``eng_Latn.txt``;
            * a pair ``(english_file, target_file)`` of line-aligned text files (``language`` required);
            * a TSV (header line, tab-separated, no quoting), CSV, JSONL or Parquet file with columns
              ``english``, ``target`` and optionally ``language``, ``id``, ``doc_id`` (JSONL/Parquet
              may instead hold the Hub translation format ``{"translation": {"en": ..., "ne": ...}}``);
            * a Hub dataset id (``user/name``), downloaded through :mod:`optical_st.hub`.
        language: the non-English language(s) to keep, in any spelling (``ne``, ``npi``, ``npi_Deva``,
            ``Nepali``), a tier (``low``), ``all``, or a list. ``None`` keeps every language present.
        split: ``dev``/``devtest`` (flores200), ``dev``/``devtest``/``test`` (floresv1_ne_si),
            ``dev``/``test`` (tico19), or the split name in a Hub snapshot's file names. ``None``: all.
        dedupe: drop repeated identical (language, english, target) pairs, keeping the first.
        revision: Hub revision (branch, tag or commit) when ``source`` is a Hub id.

    Returns:
        A dataset with columns ``id, language, english, target, doc_id, source``.

    Raises:
        BitextValidationError: mismatched line counts, empty lines, non-UTF-8 bytes, an unknown
            language in a ``language`` column, missing columns, repeated ids; the message names the
            file and the 1-based line.
        UnknownLanguageError: for an unknown ``language`` argument (lists the valid codes).

    Warns:
        DuplicatePairsWarning: with counts of duplicate pairs and repeated sentences per language.

    Example::

        >>> bitext = load_bitext("../shared/data/floresv1_ne_si", "ne", split="test")  # doctest: +SKIP
        >>> len(bitext), bitext[0]["language"]  # doctest: +SKIP
        (2924, 'npi_Deva')
    """
    if isinstance(source, (tuple, list)):
        if len(source) != 2:
            raise ValueError("A file pair must be (english_file, target_file).")
        if language is None or not isinstance(language, str):
            raise ValueError(
                "Loading a file pair needs language=, e.g. load_bitext((en, ne), language='ne')."
            )
        if split is not None:
            raise ValueError("A file pair has no splits; call load_bitext without split=.")
        english, target = (Path(p) for p in source)
        code = _argument_language(language)
        english_lines, target_lines = _read_aligned(english, target)
        rows = _Rows()
        for index, (en, xx) in enumerate(zip(english_lines, target_lines, strict=True)):
            rows.add(where=f"{target}:{index + 1}", id=str(index), language=code, english=en, target=xx,
                     source=target.stem)  # fmt: skip
        return _finish(rows, f"{english} + {target}", dedupe)

    path = Path(source)
    if path.is_file():
        if split is not None:
            raise ValueError(f"{path}: a single file has no splits; call load_bitext without split=.")
        rows = _filter_languages(_load_table(path, language), language, str(path))
        return _finish(rows, str(path), dedupe)
    if path.is_dir():
        return _finish(_load_directory(path, language, split), str(path), dedupe)
    if isinstance(source, str) and _HUB_ID.match(source):
        snapshot = _download_dataset(source, revision)
        return _finish(_load_directory(snapshot, language, split, name=source), source, dedupe)
    raise FileNotFoundError(f"No such file or folder, and not a Hub dataset id (user/name): {source!r}.")


def _load_directory(directory: Path, language, split, name: str | None = None) -> _Rows:
    layout = detect_layout(directory)
    origin = str(directory)
    if layout == "xquad_r":
        raise ValueError(f"{directory} is XQuAD-R, a retrieval benchmark, not bitext: use load_xquad_r().")
    if layout == "table":
        rows = _Rows()
        files = [path for path in _table_files(directory, split) if path.name != "metadata.json"]
        for path in files:
            # Row numbers restart in every file: prefix them with the file so ids stay unique.
            prefix = f"{path.relative_to(directory).with_suffix('')}:" if len(files) > 1 else ""
            rows.extend(_load_table(path, language, name=name, id_prefix=prefix))
        return _filter_languages(rows, language, origin)
    splits = _wanted_splits(layout, split, origin)
    loaders = {
        "flores200": _load_flores200,
        "ntrex128": _load_ntrex128,
        "floresv1_ne_si": _load_floresv1,
        "tico19": _load_tico19,
        "aligned": _load_aligned_dir,
    }
    if layout in loaders:
        return loaders[layout](directory, language, splits)
    return _load_tatoeba(directory, language, splits, laser=layout == "tatoeba_laser")


def _download_dataset(repo_id: str, revision: str | None) -> Path:
    try:
        from optical_st.hub import download_dataset
    except ImportError as error:
        raise ImportError(
            f"Loading the Hub dataset {repo_id!r} needs optical_st.hub.download_dataset ({error})."
        ) from error
    try:
        return Path(download_dataset(repo_id, revision=revision))
    except RuntimeError as error:  # optical_st.hub.HubError and its subclasses
        # "user/name" is also what a mistyped relative path looks like: say both
        raise type(error)(
            f"{repo_id!r}: no such file or folder, and not a Hub dataset that can be used ({error})"
        ) from None


# --------------------------------------------------------------------------------------------------
# CLIR benchmarks


@dataclass
class CLIRBenchmark:
    """A cross-lingual retrieval benchmark in the Hub/MTEB retrieval layout.

    Args:
        name: short identifier, e.g. ``flores200-sentence-npi_Deva-eng_Latn``.
        queries: columns ``_id, text, language``.
        corpus: columns ``_id, title, text, language``.
        qrels: columns ``query-id, corpus-id, score``; ``score > 0`` means relevant.
        query_language: FLORES code of the queries.
        document_language: FLORES code of the documents.
        metadata: ``source``, ``licence``, ``citation``, ``level`` (``sentence``, ``document`` or
            ``passage``) and how the benchmark was built (counts of merged duplicates, ...).

    The constructor validates: unique ids, non-empty texts, qrels that point at known ids, and at
    least one relevant document per query (:class:`BenchmarkValidationError` otherwise).

    Example::

        >>> from datasets import Dataset
        >>> benchmark = CLIRBenchmark(
        ...     name="toy",
        ...     queries=Dataset.from_dict({"_id": ["q1"], "text": ["नमस्ते"], "language": ["npi_Deva"]}),
        ...     corpus=Dataset.from_dict({"_id": ["d1", "d2"], "title": ["", ""], "text": ["Hello", "Bye"],
        ...                               "language": ["eng_Latn", "eng_Latn"]}),
        ...     qrels=Dataset.from_dict({"query-id": ["q1"], "corpus-id": ["d1"], "score": [1]}),
        ...     query_language="npi_Deva", document_language="eng_Latn", metadata={"level": "sentence"},
        ... )
        >>> benchmark.relevant_docs()
        {'q1': {'d1'}}
    """

    name: str
    queries: Dataset
    corpus: Dataset
    qrels: Dataset
    query_language: str
    document_language: str
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.query_language = get_language(self.query_language).code
        self.document_language = get_language(self.document_language).code
        self.validate()

    @classmethod
    def from_texts(
        cls,
        name: str,
        queries: Mapping[str, str],
        corpus: Mapping[str, str],
        qrels: Mapping[str, Iterable[str] | Mapping[str, int]],
        query_language: str,
        document_language: str,
        metadata: dict | None = None,
        titles: Mapping[str, str] | None = None,
    ) -> CLIRBenchmark:
        """A validated benchmark from ``{id: text}`` mappings (see :meth:`tables_from_texts` for the args).

        Example::

            >>> benchmark = CLIRBenchmark.from_texts(
            ...     "toy", {"q1": "नमस्ते"}, {"d1": "Hello", "d2": "Bye"}, {"q1": ["d1"]}, "ne", "en"
            ... )
            >>> benchmark.relevant_docs(), benchmark.query_language
            ({'q1': {'d1'}}, 'npi_Deva')
        """
        return cls(
            name=name,
            **cls.tables_from_texts(queries, corpus, qrels, query_language, document_language, titles),
            query_language=query_language,
            document_language=document_language,
            metadata=dict(metadata or {}),
        )

    @staticmethod
    def tables_from_texts(
        queries: Mapping[str, str],
        corpus: Mapping[str, str],
        qrels: Mapping[str, Iterable[str] | Mapping[str, int]],
        query_language: str,
        document_language: str,
        titles: Mapping[str, str] | None = None,
    ) -> dict[str, Dataset]:
        """The ``queries``, ``corpus`` and ``qrels`` tables, unvalidated, in id order of the mappings.

        Args:
            queries: ``{query_id: text}``.
            corpus: ``{document_id: text}``.
            qrels: ``{query_id: [document_id, ...]}`` (score 1 each) or, as in BEIR,
                ``{query_id: {document_id: score}}``.
            query_language, document_language: any spelling of a language (``ne``, ``npi_Deva``);
                stored as the FLORES code in the ``language`` columns.
            titles: ``{document_id: title}``; a missing title is ``""``.
        """
        query_language = get_language(query_language).code
        document_language = get_language(document_language).code
        titles = titles or {}
        return {
            "queries": Dataset.from_dict(
                {
                    "_id": list(queries),
                    "text": list(queries.values()),
                    "language": [query_language] * len(queries),
                }
            ),
            "corpus": Dataset.from_dict(
                {
                    "_id": list(corpus),
                    "title": [titles.get(doc_id, "") for doc_id in corpus],
                    "text": list(corpus.values()),
                    "language": [document_language] * len(corpus),
                }
            ),
            "qrels": _qrels_dataset(qrels),
        }

    def relevant_docs(self) -> dict[str, set[str]]:
        """``{query_id: {corpus_id, ...}}`` for the qrels with ``score > 0``."""
        relevant: dict[str, set[str]] = defaultdict(set)
        for query_id, corpus_id, score in zip(
            _column(self.qrels, "query-id"),
            _column(self.qrels, "corpus-id"),
            _column(self.qrels, "score"),
            strict=True,
        ):
            if score > 0:
                relevant[query_id].add(corpus_id)
        return dict(relevant)

    def validate(self) -> None:
        """Raise :class:`BenchmarkValidationError` for any inconsistency (see the class docstring)."""
        for part, table, columns in (
            ("queries", self.queries, QUERY_COLUMNS),
            ("corpus", self.corpus, CORPUS_COLUMNS),
            ("qrels", self.qrels, QRELS_COLUMNS),
        ):
            missing = [c for c in columns if c not in table.column_names]
            if missing:
                raise BenchmarkValidationError(
                    f"{self.name}: {part} lacks column(s) {missing} (has {table.column_names})."
                )
        for part, table in (("queries", self.queries), ("corpus", self.corpus)):
            ids = _column(table, "_id")
            if len(set(ids)) != len(ids):
                repeated = next(i for i, n in Counter(ids).items() if n > 1)
                raise BenchmarkValidationError(f"{self.name}: {part} id {repeated!r} occurs more than once.")
            empty = [
                i
                for i, text in zip(ids, _column(table, "text"), strict=True)
                if not text or not str(text).strip()
            ]
            if empty:
                raise BenchmarkValidationError(
                    f"{self.name}: {part} {empty[0]!r} has empty text ({len(empty)} in all)."
                )
        query_ids, corpus_ids = set(_column(self.queries, "_id")), set(_column(self.corpus, "_id"))
        for row, (query_id, corpus_id) in enumerate(
            zip(_column(self.qrels, "query-id"), _column(self.qrels, "corpus-id"), strict=True), 1
        ):
            if query_id not in query_ids:
                raise BenchmarkValidationError(
                    f"{self.name}: qrels row {row} names unknown query id {query_id!r}."
                )
            if corpus_id not in corpus_ids:
                raise BenchmarkValidationError(
                    f"{self.name}: qrels row {row} names unknown corpus id {corpus_id!r}."
                )
        without = query_ids - set(self.relevant_docs())
        if without:
            example = sorted(without)[0]
            raise BenchmarkValidationError(
                f"{self.name}: {len(without)} queries have no relevant document (score > 0), e.g. {example!r}; "
                "remove them or add their qrels."
            )

    def save(self, directory: PathLike) -> Path:
        """Write ``corpus/``, ``queries/``, ``qrels/`` (one ``test.parquet`` each) and ``metadata.json``.

        The folder can be read back with :func:`load_benchmark` and uploaded as a Hub dataset with
        configs ``corpus``, ``queries`` and ``qrels``.
        """
        import pyarrow.parquet as pq

        directory = Path(directory)
        for part, table in (("corpus", self.corpus), ("queries", self.queries), ("qrels", self.qrels)):
            (directory / part).mkdir(parents=True, exist_ok=True)
            pq.write_table(table.with_format("arrow")[:], directory / part / "test.parquet")
        info = {
            "name": self.name,
            "query_language": self.query_language,
            "document_language": self.document_language,
            "metadata": self.metadata,
        }
        (directory / "metadata.json").write_text(
            json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        return directory

    def __repr__(self) -> str:
        level = self.metadata.get("level", "?")
        return (
            f"CLIRBenchmark(name={self.name!r}, {self.query_language}->{self.document_language}, level={level}, "
            f"queries={len(self.queries)}, corpus={len(self.corpus)}, qrels={len(self.qrels)})"
        )


def _column(table: Dataset, name: str) -> list:
    """A column as a Python list (``Dataset[name]`` iterates row by row, which is slow)."""
    return table.with_format("arrow")[name].to_pylist()


def _source_metadata(sources: Iterable[str]) -> dict[str, str]:
    names = sorted(set(sources))
    entries = [SOURCES.get(name) for name in names]
    known = [entry for entry in entries if entry]
    unknown = [name for name, entry in zip(names, entries, strict=True) if not entry]
    return {
        "source": ", ".join(names),
        "source_name": "; ".join([e["name"] for e in known] + unknown),
        # one licence per source, in the order of source_name (hub.py pairs them by position)
        "licence": "; ".join([e["licence"] for e in known] + ["unknown (user data)"] * len(unknown)),
        "citation": "\n".join(e["citation"] for e in known),
        "url": " ".join(e["url"] for e in known),
    }


def _parse_direction(direction: str, language: str) -> tuple[str, str]:
    compact = direction.replace(" ", "")
    if compact == "xx->eng":
        return language, ENGLISH
    if compact == "eng->xx":
        return ENGLISH, language
    parts = compact.split("->")
    if len(parts) == 2 and all(_maybe_code(part) for part in parts):
        query, document = (_maybe_code(part) for part in parts)
        if {query, document} == {language, ENGLISH}:
            return query, document
    raise ValueError(
        f"direction must be 'xx->eng' or 'eng->xx' (or e.g. '{language}->{ENGLISH}'), got {direction!r}."
    )


def _single_language(bitext: Dataset) -> str:
    missing = [c for c in ("id", "language", "english", "target") if c not in bitext.column_names]
    if missing:
        raise ValueError(f"bitext lacks column(s) {missing}; load it with load_bitext().")
    languages = sorted(set(_column(bitext, "language")))
    if len(languages) != 1:
        raise ValueError(
            f"bitext holds {len(languages)} languages ({', '.join(languages)}); build one benchmark per "
            "language, e.g. bitext.filter(lambda row: row['language'] == 'npi_Deva')."
        )
    return languages[0]


def sentence_retrieval_benchmark(
    bitext: Dataset, direction: Direction | str = "xx->eng", name: str | None = None
) -> CLIRBenchmark:
    """Bitext retrieval: each sentence must retrieve its translation among all translations.

    Identical texts are merged on both sides, so no correct answer is ever scored as a miss: a
    repeated English line becomes one document relevant to all its translations' queries, and a
    repeated query text becomes one query relevant to all its translations (the counts are in
    ``metadata["merged_duplicate_documents"]`` / ``["merged_duplicate_queries"]``). Ids are
    ``{language}:{bitext id}`` of the first pair with that text (``npi_Deva:12`` -> ``eng_Latn:12``), so
    a query never shares its id with its answer (BEIR-style evaluators drop such hits).

    Args:
        bitext: output of :func:`load_bitext` with a single language.
        direction: ``"xx->eng"`` (queries in the bitext language, English documents) or ``"eng->xx"``.
        name: benchmark name; default ``{source}-sentence-{query_language}-{document_language}``.

    Example::

        >>> from datasets import Dataset
        >>> bitext = Dataset.from_dict({"id": ["0", "1"], "language": ["npi_Deva"] * 2,
        ...     "english": ["Hello", "Thanks"], "target": ["नमस्ते", "धन्यवाद"], "doc_id": ["", ""],
        ...     "source": ["toy", "toy"]})
        >>> sentence_retrieval_benchmark(bitext, "xx->eng").relevant_docs()
        {'npi_Deva:0': {'eng_Latn:0'}, 'npi_Deva:1': {'eng_Latn:1'}}
    """
    language = _single_language(bitext)
    query_language, document_language = _parse_direction(direction, language)
    query_column, document_column = (
        ("target", "english") if query_language == language else ("english", "target")
    )
    queries, corpus, qrels = _group_pairs(
        _column(bitext, "id"),
        _column(bitext, query_column),
        _column(bitext, document_column),
        query_language,
        document_language,
    )
    sources = _column(bitext, "source") if "source" in bitext.column_names else ["unknown"]
    meta = _source_metadata(sources)
    name = name or f"{meta['source'].replace(', ', '+')}-sentence-{query_language}-{document_language}"
    metadata = {
        **meta,
        "level": "sentence",
        "direction": f"{query_language}->{document_language}",
        "n_pairs": len(bitext),
        "merged_duplicate_queries": len(bitext) - len(queries),
        "merged_duplicate_documents": len(bitext) - len(corpus),
        "note": "identical texts are merged into one query / one document whose relevant set is the union.",
    }
    return CLIRBenchmark.from_texts(name, queries, corpus, qrels, query_language, document_language, metadata)


def _group_pairs(
    ids: Sequence[str],
    query_texts: Sequence[str],
    document_texts: Sequence[str],
    query_language: str,
    document_language: str,
):
    """Merge identical texts: ({query_id: text}, {doc_id: text}, {query_id: [doc_id, ...]}).

    Ids are ``{language}:{bitext id}``: a query and its translation must not share an id, because
    BEIR-style evaluators drop retrieved documents whose id equals the query id.
    """
    query_by_text: dict[str, str] = {}
    document_by_text: dict[str, str] = {}
    qrels: dict[str, list[str]] = defaultdict(list)
    for row_id, query, document in zip(ids, query_texts, document_texts, strict=True):
        query_id = query_by_text.setdefault(query, f"{query_language}:{row_id}")
        document_id = document_by_text.setdefault(document, f"{document_language}:{row_id}")
        if document_id not in qrels[query_id]:
            qrels[query_id].append(document_id)
    queries = {query_id: text for text, query_id in query_by_text.items()}
    corpus = {document_id: text for text, document_id in document_by_text.items()}
    return queries, corpus, qrels


def _qrels_dataset(qrels: Mapping[str, Iterable[str] | Mapping[str, int]]) -> Dataset:
    rows = [
        (query_id, doc_id, docs[doc_id] if isinstance(docs, Mapping) else 1)
        for query_id, docs in qrels.items()
        for doc_id in docs
    ]
    return Dataset.from_dict(
        {
            "query-id": [q for q, _, _ in rows],
            "corpus-id": [d for _, d, _ in rows],
            "score": [score for _, _, score in rows],
        }
    )


def document_retrieval_benchmark(
    bitext: Dataset, direction: Direction | str = "xx->eng", name: str | None = None
) -> CLIRBenchmark:
    """Sentence -> document retrieval: each sentence must retrieve the article it comes from.

    The documents are the other-language side grouped by ``doc_id`` (FLORES URL, NTREX document,
    FLoRes v1 article title, TICO-19 tuid prefix): the sentences of one document joined by a space in
    bitext order, with exact repeats inside a document kept once. The document ``_id`` is the
    ``doc_id``; titles are left empty because some ``doc_id`` values (URLs, titles) would leak the answer.
    A query text occurring in several documents is one query relevant to all of them; query ids are
    ``{language}:{bitext id}`` as in :func:`sentence_retrieval_benchmark`.

    Args:
        bitext: output of :func:`load_bitext` with a single language and non-empty ``doc_id``.
        direction: ``"xx->eng"`` or ``"eng->xx"`` as in :func:`sentence_retrieval_benchmark`.
        name: default ``{source}-document-{query_language}-{document_language}``.

    Example::

        >>> from datasets import Dataset
        >>> bitext = Dataset.from_dict({"id": ["0", "1", "2"], "language": ["npi_Deva"] * 3,
        ...     "english": ["A cat.", "It sleeps.", "Rain."], "target": ["बिरालो।", "सुत्छ।", "पानी।"],
        ...     "doc_id": ["cats", "cats", "weather"], "source": ["toy"] * 3})
        >>> benchmark = document_retrieval_benchmark(bitext, "xx->eng")
        >>> benchmark.corpus["text"][:], benchmark.relevant_docs()["npi_Deva:1"]
        (['A cat. It sleeps.', 'Rain.'], {'cats'})
    """
    language = _single_language(bitext)
    if "doc_id" not in bitext.column_names:
        raise ValueError("bitext has no doc_id column; document retrieval needs documents.")
    doc_ids = _column(bitext, "doc_id")
    without = [row_id for row_id, doc_id in zip(_column(bitext, "id"), doc_ids, strict=True) if not doc_id]
    if without:
        raise ValueError(
            f"{len(without)} bitext rows have no doc_id (e.g. id {without[0]!r}); document retrieval needs "
            "a document for every sentence (flores200, ntrex128, floresv1_ne_si and tico19 have them)."
        )
    query_language, document_language = _parse_direction(direction, language)
    query_column, document_column = (
        ("target", "english") if query_language == language else ("english", "target")
    )
    documents: dict[str, list[str]] = defaultdict(list)
    query_by_text: dict[str, str] = {}
    qrels: dict[str, list[str]] = defaultdict(list)
    for row_id, doc_id, query, sentence in zip(
        _column(bitext, "id"),
        doc_ids,
        _column(bitext, query_column),
        _column(bitext, document_column),
        strict=True,
    ):
        if sentence not in documents[doc_id]:
            documents[doc_id].append(sentence)
        query_id = query_by_text.setdefault(query, f"{query_language}:{row_id}")
        if doc_id not in qrels[query_id]:
            qrels[query_id].append(doc_id)
    queries = {query_id: text for text, query_id in query_by_text.items()}
    meta = _source_metadata(_column(bitext, "source") if "source" in bitext.column_names else ["unknown"])
    name = name or f"{meta['source'].replace(', ', '+')}-document-{query_language}-{document_language}"
    metadata = {
        **meta,
        "level": "document",
        "direction": f"{query_language}->{document_language}",
        "n_pairs": len(bitext),
        "n_documents": len(documents),
        "merged_duplicate_queries": len(bitext) - len(queries),
        "note": "documents = sentences grouped by doc_id in bitext order, joined by a space; "
        "a document holds only the sentences present in the loaded bitext.",
    }
    corpus = {doc_id: " ".join(sentences) for doc_id, sentences in documents.items()}
    return CLIRBenchmark.from_texts(name, queries, corpus, qrels, query_language, document_language, metadata)


def load_xquad_r(
    directory: PathLike, query_language: str = "hin_Deva", document_language: str = "eng_Latn"
) -> CLIRBenchmark:
    """XQuAD-R question -> answer-sentence retrieval (LAReQA), one query and one document language.

    Queries are the questions of ``{query_language}.json``; the corpus is every candidate sentence
    (``sentences`` of every paragraph) of ``{document_language}.json``. Questions share their ``id``
    across languages, so the relevant sentence is found in the document-language file: the sentence
    whose ``sentence_breaks`` span contains the question's ``answer_start`` there. Identical candidate
    sentences are merged into one document (relevant if any copy is).

    Args:
        directory: folder holding ``hi.json``, ``en.json`` (file names use ISO 639-1 codes).
        query_language: language of the questions (any spelling, e.g. ``hi``).
        document_language: language of the candidate sentences.

    Example::

        >>> benchmark = load_xquad_r("../shared/data/xquad_r", "hi", "en")  # doctest: +SKIP
        >>> len(benchmark.queries), len(benchmark.corpus)  # doctest: +SKIP
        (1190, 1180)
    """
    directory = Path(directory)
    query_language, document_language = (
        get_language(query_language).code,
        get_language(document_language).code,
    )
    query_file = _xquad_file(directory, query_language)
    document_file = _xquad_file(directory, document_language)
    questions: dict[str, str] = {}
    for _, _, paragraph in _xquad_paragraphs(query_file):
        for qa in paragraph["qas"]:
            questions[qa["id"]] = qa["question"].strip()
    corpus: dict[str, str] = {}
    id_by_text: dict[str, str] = {}
    relevant: dict[str, list[str]] = defaultdict(list)
    candidates = 0
    for article, number, paragraph in _xquad_paragraphs(document_file):
        sentences, breaks = paragraph["sentences"], paragraph["sentence_breaks"]
        if len(sentences) != len(breaks):
            raise BenchmarkValidationError(
                f"{document_file}: article {article} paragraph {number} has {len(sentences)} sentences but "
                f"{len(breaks)} sentence_breaks."
            )
        sentence_ids = []
        for index, sentence in enumerate(sentences):
            candidates += 1
            text = sentence.strip()
            sentence_ids.append(id_by_text.setdefault(text, f"{article}-{number}-{index}"))
            corpus.setdefault(sentence_ids[-1], text)
        for qa in paragraph["qas"]:
            if qa["id"] not in questions:
                continue
            for answer in qa["answers"]:
                start = answer["answer_start"]
                hits = [i for i, (begin, end) in enumerate(breaks) if begin <= start < end]
                if not hits:
                    raise BenchmarkValidationError(
                        f"{document_file}: question {qa['id']}: answer_start {start} lies in no sentence span."
                    )
                if sentence_ids[hits[0]] not in relevant[qa["id"]]:
                    relevant[qa["id"]].append(sentence_ids[hits[0]])
    unmatched = set(questions) - set(relevant)
    if unmatched:
        raise BenchmarkValidationError(
            f"{len(unmatched)} questions of {query_file} are missing from {document_file} (e.g. {sorted(unmatched)[0]})."
        )
    metadata = {
        **_source_metadata(["xquad_r"]),
        "level": "passage",
        "direction": f"{query_language}->{document_language}",
        "n_candidate_sentences": candidates,
        "merged_duplicate_documents": candidates - len(corpus),
        "note": "relevant = the candidate sentence containing answer_start of the same question id in the "
        "document-language file (LAReQA); identical candidate sentences merged.",
    }
    return CLIRBenchmark.from_texts(
        f"xquad_r-passage-{query_language}-{document_language}",
        questions,
        corpus,
        relevant,
        query_language,
        document_language,
        metadata,
    )


def _xquad_file(directory: Path, language: str) -> Path:
    lang = get_language(language)
    for stem in (lang.iso639_1, lang.iso639_3, lang.code):
        path = directory / f"{stem}.json"
        if path.is_file():
            return path
    present = sorted(p.name for p in directory.glob("*.json"))
    raise FileNotFoundError(
        f"{directory}: no XQuAD-R file for {lang.code} ({lang.iso639_1}.json); found {present}."
    )


def _xquad_paragraphs(path: Path):
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BenchmarkValidationError(f"{path}: not a UTF-8 SQuAD-style JSON file ({error}).") from None
    for article_index, article in enumerate(data["data"]):
        for paragraph_index, paragraph in enumerate(article["paragraphs"]):
            yield article_index, paragraph_index, paragraph


# --------------------------------------------------------------------------------------------------
# Loading saved / Hub benchmarks


def load_benchmark(
    source: PathLike,
    *,
    query_language: str | None = None,
    document_language: str | None = None,
    split: str = "test",
    revision: str | None = None,
) -> CLIRBenchmark:
    """Load a benchmark saved with :meth:`CLIRBenchmark.save`, an MTEB-style folder, or a Hub dataset.

    A folder holds the configs ``corpus/``, ``queries/`` and ``qrels/`` (or ``default/``, MTEB's
    name for qrels) as Parquet/JSONL/TSV files, or MTEB's ``corpus.jsonl``, ``queries.jsonl`` and
    ``qrels/test.tsv``; ``metadata.json`` is optional. A Hub id is downloaded with
    :func:`optical_st.hub.download_dataset` first.

    Args:
        source: folder or Hub dataset id (``user/name``).
        query_language, document_language: keep only queries / documents of these languages (for
            multilingual pools); required when the files have no ``language`` column and no metadata.
        split: when the qrels come in several split files (MTEB's ``qrels/{train,dev,test}.tsv``),
            the one to use; the queries are then restricted to those of that split.
        revision: Hub revision when ``source`` is a Hub id.

    Example::

        >>> benchmark = load_benchmark("benchmarks/flores-npi-eng")  # doctest: +SKIP
        >>> benchmark = load_benchmark("user/clir-benchmarks", query_language="ne", document_language="en")  # doctest: +SKIP
    """
    path, hub_id = Path(source), None
    if not path.is_dir():
        if isinstance(source, str) and _HUB_ID.match(source) and not path.exists():
            path, hub_id = _download_dataset(source, revision), source
        else:
            raise FileNotFoundError(f"No benchmark folder and not a Hub dataset id (user/name): {source!r}.")
    root, path = path, _benchmark_folder(path, query_language, document_language)
    info = {}
    if (path / "metadata.json").is_file():
        info = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    if hub_id is not None:
        # Results on this benchmark can then name the Hub dataset and the config its queries load from
        # (hub.push_benchmark: "queries", or "{query}-{document}-queries" in a multi-pair repository).
        prefix = f"{path.name}-" if path != root else ""
        info.setdefault("metadata", {}).update(dataset_id=hub_id, dataset_config=f"{prefix}queries")
    parts = {part: _read_benchmark_part(path, part) for part in ("queries", "corpus")}
    parts["qrels"], split_files = _read_benchmark_part(path, "qrels", split), _qrels_split_files(path, split)
    if split_files:
        # MTEB keeps every split's queries in one file: evaluate only the queries of this split.
        in_split = set(_column(parts["qrels"], "query-id"))
        ids = _column(parts["queries"], "_id")
        parts["queries"] = parts["queries"].select([i for i, q in enumerate(ids) if q in in_split])
        info.setdefault("metadata", {})["split"] = split
    query_language = query_language or info.get("query_language")
    document_language = document_language or info.get("document_language")
    queries = _with_language(parts["queries"], query_language, "queries", path)
    corpus = _with_language(parts["corpus"], document_language, "corpus", path)
    if "title" not in corpus.column_names:
        corpus = corpus.add_column("title", [""] * len(corpus))
    query_language = query_language or queries[0]["language"]
    document_language = document_language or corpus[0]["language"]
    qrels = parts["qrels"]
    if len(queries) < len(parts["queries"]) or len(corpus) < len(parts["corpus"]):
        # A language filter removed rows of a multilingual pool: keep the qrels of what is left.
        query_ids, corpus_ids = set(_column(queries, "_id")), set(_column(corpus, "_id"))
        keep = [
            i
            for i, (q, d) in enumerate(
                zip(_column(qrels, "query-id"), _column(qrels, "corpus-id"), strict=True)
            )
            if q in query_ids and d in corpus_ids
        ]
        qrels = qrels.select(keep)
    return CLIRBenchmark(
        name=info.get("name", path.name if path.name else str(source)),
        queries=queries.select_columns(list(QUERY_COLUMNS)),
        corpus=corpus.select_columns(list(CORPUS_COLUMNS)),
        qrels=qrels,
        query_language=query_language,
        document_language=document_language,
        metadata=info.get("metadata", {}),
    )


def _is_benchmark_folder(path: Path) -> bool:
    return (path / "queries").is_dir() or (path / "queries.jsonl").is_file()


def _benchmark_folder(path: Path, query_language: str | None, document_language: str | None) -> Path:
    """The folder of one benchmark: ``path`` itself, or its ``{query}-{document}`` sub-folder.

    ``hub.push_benchmark`` stores several language pairs in one repository, one sub-folder each.
    """
    if _is_benchmark_folder(path):
        return path
    pairs = sorted(child.name for child in path.iterdir() if child.is_dir() and _is_benchmark_folder(child))
    if not pairs:
        return path  # _read_benchmark_part names what is missing
    if query_language and document_language:
        wanted = f"{get_language(query_language).code}-{get_language(document_language).code}"
        if wanted in pairs:
            return path / wanted
        raise BenchmarkValidationError(
            f"{path}: no {wanted} benchmark; language pairs present: {', '.join(pairs)}."
        )
    if len(pairs) == 1:
        return path / pairs[0]
    raise BenchmarkValidationError(
        f"{path} holds {len(pairs)} benchmarks ({', '.join(pairs)}); pass query_language= and document_language=."
    )


_SPLIT_NAMES = ("train", "dev", "validation", "test")


def _part_files(directory: Path, part: str) -> list[Path]:
    folders = [directory / part] + ([directory / "default"] if part == "qrels" else [])
    files = [
        p
        for folder in folders
        if folder.is_dir()
        for p in sorted(folder.rglob("*"))
        if p.suffix in (".parquet", ".jsonl", ".tsv", ".csv")
    ]
    return files or [p for suffix in (".parquet", ".jsonl") if (p := directory / f"{part}{suffix}").is_file()]


def _split_of(path: Path) -> str | None:
    tokens = re.split(r"[._-]", path.name)
    return next((token for token in tokens if token in _SPLIT_NAMES), None)


def _qrels_split_files(directory: Path, split: str) -> list[Path]:
    """The qrels files of ``split`` when the qrels are stored per split (else ``[]``: use them all)."""
    files = _part_files(directory, "qrels")
    splits = {_split_of(path) for path in files} - {None}
    if len(splits) < 2:
        return []
    chosen = [path for path in files if _split_of(path) == split]
    if not chosen:
        raise BenchmarkValidationError(
            f"{directory}: no qrels for split {split!r}; splits present: {sorted(splits)}."
        )
    return chosen


def _read_benchmark_part(directory: Path, part: str, split: str = "test") -> Dataset:
    import pandas as pd

    files = (_qrels_split_files(directory, split) if part == "qrels" else []) or _part_files(directory, part)
    if not files:
        raise BenchmarkValidationError(
            f"{directory}: no {part} data (expected {part}/*.parquet, {part}/*.jsonl or {part}.jsonl)."
        )
    frames = []
    for path in files:
        if path.stat().st_size == 0:  # pandas would read no columns and the error would name a column
            raise BenchmarkValidationError(f"{path} is empty: no {part} rows.")
        if path.suffix == ".parquet":
            frames.append(pd.read_parquet(path))
        elif path.suffix == ".jsonl":
            frames.append(pd.read_json(path, lines=True, dtype=False))
        else:
            frames.append(
                pd.read_csv(
                    path, sep="\t" if path.suffix == ".tsv" else ",", dtype=str, keep_default_na=False
                )
            )
    frame = pd.concat(frames, ignore_index=True)
    for column in ("_id", "query-id", "corpus-id"):
        if column in frame.columns:
            frame[column] = frame[column].astype(str)
    for column in ("title", "text"):
        if column in frame.columns:
            frame[column] = frame[column].fillna("").astype(str)
    if "language" in frame.columns:
        frame["language"] = [_maybe_code(str(value)) or str(value) for value in frame["language"]]
    if part == "qrels":
        if "score" not in frame.columns:
            raise BenchmarkValidationError(
                f"{files[0]}: qrels need a score column (query-id, corpus-id, score)."
            )
        frame["score"] = frame["score"].astype(int)
    return Dataset.from_pandas(frame, preserve_index=False)


def _with_language(table: Dataset, language: str | None, part: str, where: Path) -> Dataset:
    side = "query_language" if part == "queries" else "document_language"
    if "language" in table.column_names:
        present = set(_column(table, "language"))
        if language is None:
            if len(present) > 1:
                raise BenchmarkValidationError(
                    f"{where}: {part} mix languages ({', '.join(sorted(present))}); pass {side}= "
                    f"(--{side.replace('_', '-')}) to pick one."
                )
            return table
        code = get_language(language).code
        if code not in present:
            raise BenchmarkValidationError(
                f"{where}: {part} has no {code} rows (languages present: {', '.join(sorted(present))})."
            )
        if len(present) == 1:
            return table
        return table.select([i for i, value in enumerate(_column(table, "language")) if value == code])
    if language is None:
        raise BenchmarkValidationError(
            f"{where}: {part} has no language column; pass {side}= (--{side.replace('_', '-')})."
        )
    return table.add_column("language", [get_language(language).code] * len(table))


__all__ = [
    "BITEXT_COLUMNS",
    "SOURCES",
    "SPLITS",
    "BenchmarkValidationError",
    "BitextValidationError",
    "CLIRBenchmark",
    "DuplicatePairsWarning",
    "HeldOutDataWarning",
    "detect_layout",
    "document_retrieval_benchmark",
    "is_held_out_flores_article",
    "load_benchmark",
    "load_bitext",
    "load_xquad_r",
    "read_lines",
    "sentence_retrieval_benchmark",
]
