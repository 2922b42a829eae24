"""Benchmarks on disk and on the Hub: folders written by ``CLIRBenchmark.save``, MTEB folders, Hub datasets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from datasets import Dataset

from optical_st.data._benchmark import (
    CORPUS_COLUMNS,
    QUERY_COLUMNS,
    CLIRBenchmark,
    column_values,
    first_fractional_score,
)
from optical_st.data._bitext import download_hub_dataset
from optical_st.data._errors import BenchmarkValidationError
from optical_st.data._lines import PathLike
from optical_st.data._rows import maybe_code
from optical_st.hub import looks_like_hub_id
from optical_st.languages import get_language


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
        if looks_like_hub_id(source):
            path, hub_id = download_hub_dataset(source, revision), source
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
        in_split = set(column_values(parts["qrels"], "query-id"))
        ids = column_values(parts["queries"], "_id")
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
        query_ids, corpus_ids = set(column_values(queries, "_id")), set(column_values(corpus, "_id"))
        keep = [
            i
            for i, (q, d) in enumerate(
                zip(column_values(qrels, "query-id"), column_values(qrels, "corpus-id"), strict=True)
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


def is_saved_benchmark(path: Path) -> bool:
    """A folder of one benchmark: ``queries/`` or ``queries.jsonl`` (MTEB), or the ``metadata.json`` that
    :meth:`CLIRBenchmark.save` writes (so a folder that lost a part is read, and its error names the part)."""
    return path.is_dir() and (
        (path / "queries").is_dir()
        or (path / "queries.jsonl").is_file()
        or (path / "metadata.json").is_file()
    )


def _benchmark_folder(path: Path, query_language: str | None, document_language: str | None) -> Path:
    """The folder of one benchmark: ``path`` itself, or its ``{query}-{document}`` sub-folder.

    ``hub.push_benchmark`` stores several language pairs in one repository, one sub-folder each.
    """
    if is_saved_benchmark(path):
        return path
    pairs = sorted(child.name for child in path.iterdir() if child.is_dir() and is_saved_benchmark(child))
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


def _read_frame(path: Path) -> Any:
    """One benchmark file as a pandas frame (ids and texts as strings, as the files hold them)."""
    import pandas as pd

    if path.suffix == ".parquet":
        import pyarrow as pa

        try:
            return pd.read_parquet(path)
        except (pa.ArrowException, OSError) as error:  # ArrowInvalid: a damaged file or another format
            raise BenchmarkValidationError(f"{path}: not a readable Parquet file ({error}).") from None
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", dtype=str, keep_default_na=False)


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
        frames.append(_read_frame(path))
    frame = pd.concat(frames, ignore_index=True)
    for column in ("_id", "query-id", "corpus-id"):
        if column in frame.columns:
            frame[column] = frame[column].astype(str)
    for column in ("title", "text"):
        if column in frame.columns:
            frame[column] = frame[column].fillna("").astype(str)
    if "language" in frame.columns:
        frame["language"] = [maybe_code(str(value)) or str(value) for value in frame["language"]]
    if part == "qrels":
        if "score" not in frame.columns:
            raise BenchmarkValidationError(
                f"{files[0]}: qrels need a score column (query-id, corpus-id, score)."
            )
        bad_score = first_fractional_score(frame["score"])
        if bad_score is not None:  # astype(int) would turn 0.5 into 0 without a word
            raise BenchmarkValidationError(f"{', '.join(map(str, files))}: qrels {bad_score}")
        frame["score"] = frame["score"].astype(int)
    return Dataset.from_pandas(frame, preserve_index=False)


def _with_language(table: Dataset, language: str | None, part: str, where: Path) -> Dataset:
    side = "query_language" if part == "queries" else "document_language"
    if "language" in table.column_names:
        present = set(column_values(table, "language"))
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
        return table.select([i for i, value in enumerate(column_values(table, "language")) if value == code])
    if language is None:
        raise BenchmarkValidationError(
            f"{where}: {part} has no language column; pass {side}= (--{side.replace('_', '-')})."
        )
    return table.add_column("language", [get_language(language).code] * len(table))
