"""Bitext rows under construction: where each came from, languages resolved, ids and duplicates checked."""

from __future__ import annotations

import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset

from optical_st.data._errors import BitextValidationError, DuplicatePairsWarning
from optical_st.data._lines import read_aligned
from optical_st.languages import ENGLISH, UnknownLanguageError, get_language

BITEXT_COLUMNS = ("id", "language", "english", "target", "doc_id", "source")


@dataclass
class Rows:
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
        """Add one row per line pair of line-aligned files (checked by :func:`read_aligned` first).

        ``row_id``, ``doc_id`` and ``keep`` map the 0-based line index to the row's id, its document
        id (none by default) and whether to keep it (e.g. only some splits); ``extra`` are further
        files or columns that must have as many lines.
        """
        english_lines, target_lines = read_aligned(english, target, extra)
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

    def extend(self, other: Rows) -> None:
        for column in BITEXT_COLUMNS:
            self.columns[column].extend(other.columns[column])
        self.where.extend(other.where)

    def __len__(self) -> int:
        return len(self.where)


def language_of(value: str, where: str) -> str:
    try:
        code = get_language(value).code
    except UnknownLanguageError as error:
        raise BitextValidationError(f"{where}: {error}") from None
    if code == ENGLISH:
        raise BitextValidationError(f"{where}: the target language must not be English ({value!r}).")
    return code


def argument_language(value: str) -> str:
    """A ``language=`` argument as a FLORES code; unknown names raise :class:`UnknownLanguageError`."""
    code = get_language(value).code
    if code == ENGLISH:
        raise ValueError("language= names the non-English side of the bitext, not English.")
    return code


def _check_unique_ids(rows: Rows) -> None:
    seen: dict[tuple[str, str], str] = {}
    for language, row_id, where in zip(rows.columns["language"], rows.columns["id"], rows.where, strict=True):
        key = (language, row_id)
        if key in seen:
            raise BitextValidationError(
                f"{where}: id {row_id!r} already used at {seen[key]} for {language}; ids must be unique."
            )
        seen[key] = where


def _duplicates_report(rows: Rows) -> dict[str, dict[str, int]]:
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


def _dedupe(rows: Rows) -> Rows:
    kept = Rows()
    seen: set[tuple[str, str, str]] = set()
    columns = rows.columns
    for index, where in enumerate(rows.where):
        key = (columns["language"][index], columns["english"][index], columns["target"][index])
        if key in seen:
            continue
        seen.add(key)
        kept.add(where=where, **{c: columns[c][index] for c in BITEXT_COLUMNS})
    return kept


def finish_rows(rows: Rows, origin: str, dedupe: bool) -> Dataset:
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


def wanted_languages(
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


def maybe_code(text: str) -> str | None:
    try:
        return get_language(text).code
    except UnknownLanguageError:
        return None


def filter_languages(rows: Rows, languages, origin: str) -> Rows:
    if languages is None:
        return rows
    wanted = set(wanted_languages(languages, rows.columns["language"], origin))
    kept = Rows()
    for index, where in enumerate(rows.where):
        if rows.columns["language"][index] in wanted:
            kept.add(where=where, **{c: rows.columns[c][index] for c in BITEXT_COLUMNS})
    return kept
