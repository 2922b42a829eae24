"""Reading text files: UTF-8 lines, line-aligned pairs of files and headed TSV files, every error with file:line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optical_st.data._errors import BitextValidationError

PathLike = str | Path


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
            "re-encode the file as UTF-8 (for example with iconv -f OLD-ENCODING -t UTF-8)."
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


def read_aligned(english: Path, target: Path, extra: dict[Path, list[str]] | None = None):
    english_lines, target_lines = read_lines(english), read_lines(target)
    _check_same_length({english: english_lines, target: target_lines, **(extra or {})})
    _check_no_empty(english_lines, english)
    _check_no_empty(target_lines, target)
    return english_lines, target_lines


def read_tsv_with_header(path: Path) -> list[dict[str, str]]:
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
