"""``load_bitext``: English <-> South Asian bitext from a data folder, a user file, a file pair or the Hub."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from datasets import Dataset

from optical_st.data._layouts import load_directory
from optical_st.data._lines import PathLike, read_aligned
from optical_st.data._rows import Rows, argument_language, filter_languages, finish_rows
from optical_st.data._tables import load_table
from optical_st.hub import hub_id_form


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
        code = argument_language(language)
        english_lines, target_lines = read_aligned(english, target)
        rows = Rows()
        for index, (en, xx) in enumerate(zip(english_lines, target_lines, strict=True)):
            rows.add(where=f"{target}:{index + 1}", id=str(index), language=code, english=en, target=xx,
                     source=target.stem)  # fmt: skip
        return finish_rows(rows, f"{english} + {target}", dedupe)

    path = Path(source)
    if path.is_file():
        if split is not None:
            raise ValueError(f"{path}: a single file has no splits; call load_bitext without split=.")
        rows = filter_languages(load_table(path, language), language, str(path))
        return finish_rows(rows, str(path), dedupe)
    if path.is_dir():
        return finish_rows(load_directory(path, language, split), str(path), dedupe)
    if hub_id_form(source):
        snapshot = download_hub_dataset(source, revision)
        return finish_rows(load_directory(snapshot, language, split, name=source), source, dedupe)
    raise FileNotFoundError(f"No such file or folder, and not a Hub dataset id (user/name): {source!r}.")


def download_hub_dataset(repo_id: str, revision: str | None) -> Path:
    """The local snapshot of a Hub dataset (:func:`optical_st.hub.download_dataset`, looked up when called)."""
    from optical_st.hub import download_dataset

    try:
        return Path(download_dataset(repo_id, revision=revision))
    except RuntimeError as error:  # optical_st.hub.HubError and its subclasses
        # "user/name" is also what a mistyped relative path looks like: say both
        raise type(error)(
            f"{repo_id!r}: no such file or folder, and not a Hub dataset that can be used ({error})"
        ) from None
