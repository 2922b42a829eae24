"""User tables (TSV / CSV / JSON / JSONL / Parquet) with ``english``/``target`` columns, as bitext rows."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from optical_st.data._errors import BitextValidationError
from optical_st.data._lines import read_lines
from optical_st.data._rows import Rows, argument_language, language_of, maybe_code
from optical_st.languages import ENGLISH, is_language_group

TABLE_SUFFIXES = (".tsv", ".csv", ".jsonl", ".parquet")
"""Table files read from a folder (a single file may also be a ``.json`` array of records)."""


def _delimited_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    lines = read_lines(path, strip=False)
    if not lines:
        raise BitextValidationError(f"{path}: empty file (expected a header with english, target).")
    if path.suffix.lower() == ".tsv":
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


def _json_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    lines = read_lines(path)
    if path.suffix.lower() == ".json" and lines and lines[0].startswith("["):
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


def _parquet_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:  # ArrowInvalid: a damaged file or another format
        raise BitextValidationError(f"{path}: not a readable Parquet file ({error}).") from None
    return [(f"{path}: row {i + 1}", record) for i, record in enumerate(table.to_pylist())]


_RECORD_READERS = {
    ".tsv": _delimited_records,
    ".csv": _delimited_records,
    ".jsonl": _json_records,
    ".json": _json_records,
    ".parquet": _parquet_records,
}


def _table_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(location, record) pairs of a table file; locations are ``file:line`` (1-based, header = 1)."""
    reader = _RECORD_READERS.get(path.suffix.lower())
    if reader is None:
        raise BitextValidationError(
            f"{path}: unsupported file type {path.suffix.lower()!r} (use .tsv, .csv, .jsonl or .parquet)."
        )
    return reader(path)


def load_table(path: Path, languages, name: str | None = None, id_prefix: str = "") -> Rows:
    records = _table_records(path)
    rows = Rows()
    default_language = None
    if languages is not None:
        items = [languages] if isinstance(languages, str) else list(languages)
        if len(items) == 1 and "," not in items[0] and not is_language_group(items[0]):
            default_language = argument_language(items[0])
    for index, (where, record) in enumerate(records):
        if "english" not in record and isinstance(record.get("translation"), dict):
            record = {**record, **_from_translation(record["translation"], where)}
        missing = [column for column in ("english", "target") if column not in record]
        if missing:
            raise BitextValidationError(
                f"{where}: missing column(s) {missing}; a bitext table needs english and target "
                f"(and a language column, unless one language is given for the whole file). Found: {sorted(record)}."
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
            language = language_of(str(raw_language), where)
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
    english_keys = [key for key in translation if maybe_code(key) == ENGLISH]
    others = [key for key in translation if key not in english_keys]
    if len(english_keys) != 1 or len(others) != 1:
        raise BitextValidationError(
            f"{where}: a translation record needs one English and one other language, got {sorted(translation)}."
        )
    return {"english": translation[english_keys[0]], "target": translation[others[0]], "language": others[0]}


def table_files(directory: Path, split) -> list[Path]:
    files = sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES and ".cache" not in p.parts
    )
    if split is not None:
        splits = (split,) if isinstance(split, str) else tuple(split)
        files = [
            p for p in files if any(s in re.split(r"[/._-]", str(p.relative_to(directory))) for s in splits)
        ]
        if not files:
            raise ValueError(f"{directory}: no data file for split {split!r}.")
    return files
