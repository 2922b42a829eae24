"""The training pairs: blank, other-language and evaluation-overlapping pairs dropped and counted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)


def clean_bitext(
    bitext: Dataset,
    *,
    languages: Iterable[str] | None = None,
    exclude_texts: Iterable[str] = (),
) -> tuple[Dataset, dict[str, int]]:
    """Keep the usable training pairs: both sides non-blank, wanted languages, not in evaluation data.

    Args:
        bitext: a dataset with ``english`` and ``target`` columns (and ``language`` when filtering);
            the :func:`optical_st.data.load_bitext` layout.
        languages: keep only these languages (any code :func:`optical_st.languages.normalize_code` reads).
        exclude_texts: sentences that must not be trained on (e.g. every text of the evaluation
            benchmarks); a pair is dropped when its English or target side (stripped) is among them.

    Returns:
        the filtered dataset and counts ``{"input", "blank", "other_language", "overlap", "kept"}``.

    Raises:
        ValueError: a required column is missing, or no pair is left.
    """
    missing = {"english", "target"} - set(bitext.column_names)
    if missing:
        raise ValueError(f"bitext lacks column(s) {sorted(missing)}; it has {bitext.column_names}")
    counts = {"input": len(bitext), "blank": 0, "other_language": 0, "overlap": 0}
    english, target = bitext["english"], bitext["target"]
    keep_languages = None
    if languages is not None:
        from optical_st.languages import normalize_code

        keep_languages = {normalize_code(code) for code in languages}
        if "language" not in bitext.column_names:
            raise ValueError("cannot filter by language: the bitext has no `language` column")
        row_languages = bitext["language"]
    excluded = {text.strip() for text in exclude_texts}
    # cross-script pairs keep the native sentence beside its romanization: it must not be evaluated either
    natives = bitext["native"] if "native" in bitext.column_names else [""] * len(bitext)
    keep = []
    for index, (source, translation) in enumerate(zip(english, target, strict=True)):
        source, translation = (source or "").strip(), (translation or "").strip()
        if not source or not translation:
            counts["blank"] += 1
        elif keep_languages is not None and row_languages[index] not in keep_languages:
            counts["other_language"] += 1
        elif source in excluded or translation in excluded or (natives[index] or "").strip() in excluded:
            counts["overlap"] += 1
        else:
            keep.append(index)
    counts["kept"] = len(keep)
    if not keep:
        raise ValueError(
            f"no training pairs left after validation ({counts['input']} input: {counts['blank']} blank, "
            f"{counts['other_language']} in other languages, {counts['overlap']} overlapping the evaluation data)"
        )
    return bitext.select(keep), counts


def drop_repeats(bitext: Dataset, columns: Iterable[str]) -> Dataset:
    """One row per distinct value of ``columns`` (the first kept, order unchanged): e.g. ``("english",
    "target")`` for repeated pairs, ``("language", "target")`` for sentences a source repeats."""
    columns = list(columns)
    seen: set[tuple[str, ...]] = set()
    keep = []
    for index, key in enumerate(zip(*(bitext[column] for column in columns), strict=True)):
        if key not in seen:
            seen.add(key)
            keep.append(index)
    return bitext.select(keep) if len(keep) < len(bitext) else bitext


# Training reads at most max_length tokens of a text (512 in e5), yet the tokenizer reads all of it first: a
# 20 MB line took 7 GB. 20,000 characters are ten times what 512 tokens of any of the project's tokenizers hold.
MAX_TEXT_CHARS = 20_000


def cut_long_texts(bitext: Dataset, counts: dict[str, int], limit: int = MAX_TEXT_CHARS) -> Dataset:
    """Cut ``english`` and ``target`` texts longer than ``limit`` characters, with a warning and a count
    (``counts["cut_to_max_chars"]``, added when some were cut).

    The tokens training sees are unchanged (they come from the start of the text, and ``limit`` characters
    hold far more than ``max_length`` tokens); only the memory and time of tokenizing the rest are saved.
    """
    lengths = [
        max(len(e or ""), len(t or "")) for e, t in zip(bitext["english"], bitext["target"], strict=True)
    ]
    long_rows = [i for i, n in enumerate(lengths) if n > limit]
    if not long_rows:
        return bitext
    first = long_rows[0]
    where = f"id {bitext['id'][first]!r}" if "id" in bitext.column_names else f"row {first + 1}"
    logger.warning(
        "%d training pair(s) have a side longer than %d characters (the longest %d, first at %s): cut to %d "
        "characters before tokenizing (training reads only max_length tokens of it)",
        len(long_rows), limit, max(lengths), where, limit,
    )  # fmt: skip
    cut = bitext.map(
        lambda row: {"english": (row["english"] or "")[:limit], "target": (row["target"] or "")[:limit]},
        desc=None,
    )
    counts["cut_to_max_chars"] = len(long_rows)
    return cut


def benchmark_texts(benchmarks: Iterable[Any]) -> set[str]:
    """Every query and document text of some :class:`~optical_st.data.CLIRBenchmark` objects (stripped)."""
    texts: set[str] = set()
    for benchmark in benchmarks:
        texts.update(text.strip() for text in benchmark.queries["text"])
        texts.update(text.strip() for text in benchmark.corpus["text"])
    return texts


def evaluator_languages(evaluator: Any) -> set[str]:
    """Languages an evaluator covers: its ``languages`` (CLIREvaluator's), else those of its ``benchmarks``."""
    languages = getattr(evaluator, "languages", None)
    if languages is not None:
        return set(languages)
    return {
        code
        for benchmark in getattr(evaluator, "benchmarks", [])
        for code in (benchmark.query_language, benchmark.document_language)
    }


def check_languages_evaluated(bitext_languages: Iterable[str], evaluated: set[str]) -> None:
    """Refuse to train on a language the evaluation cannot measure (so its effect would go unseen)."""
    missing = sorted(set(bitext_languages) - evaluated)
    if missing:
        raise ValueError(
            f"the bitext has language(s) {missing} that the evaluation benchmarks lack "
            f"(they cover {sorted(evaluated)}); add benchmarks for them or filter the bitext"
        )


def bitext_summary(bitext: Dataset) -> list[dict[str, Any]]:
    """One entry per (source, language) with its pair count, for the model card; pairs written by a
    romanizer (:func:`~optical_st.training.cross_script_pairs`) also name it (``romanizer``)."""
    sources = bitext["source"] if "source" in bitext.column_names else ["bitext"] * len(bitext)
    languages = bitext["language"] if "language" in bitext.column_names else [""] * len(bitext)
    romanizers = bitext["romanizer"] if "romanizer" in bitext.column_names else [""] * len(bitext)
    counts: dict[tuple[str, str, str], int] = {}
    for key in zip(sources, languages, romanizers, strict=True):
        counts[key] = counts.get(key, 0) + 1
    summary = []
    for (name, language, romanizer), n in sorted(counts.items()):
        entry: dict[str, Any] = {"name": name, "language": language, "pairs": n}
        if romanizer:
            entry["romanizer"] = json.loads(romanizer)
        summary.append(entry)
    return summary


def with_teacher_labels(
    bitext: Dataset,
    teacher: SentenceTransformer,
    prompt: str | None,
    batch_size: int,
    show_progress_bar: bool,
    labels: Any = None,
) -> Dataset:
    """``target`` + ``label`` (the teacher's embedding of ``english``), MSELoss's input layout.

    ``labels``: the embeddings when already computed (e.g. read from a teacher cache), else encoded here.
    """
    if labels is None:
        labels = teacher.encode(
            bitext["english"], prompt=prompt, batch_size=max(batch_size, 32), convert_to_numpy=True,
            show_progress_bar=show_progress_bar,
        )  # fmt: skip
    return bitext.select_columns(["target"]).add_column("label", [row.tolist() for row in labels])


def pairs_for_steps(
    bitext: Dataset, counts: dict[str, int], *, steps: int | None, batch_size: int, seed: int, world_size: int
) -> Dataset:
    """The pairs a run of ``steps`` (or whole epochs) uses; ``counts`` gains ``used`` (and ``uneven_remainder``)."""
    if steps is not None:
        # A fixed step budget sees at most steps x batch x processes pairs: take them from a seeded shuffle up
        # front, so every objective trains on the same pairs and MSE labels only the pairs it uses.
        needed = steps * batch_size * world_size
        if len(bitext) > needed:
            bitext = bitext.shuffle(seed=seed).select(range(needed))
    elif world_size > 1 and len(bitext) % (batch_size * world_size):
        # Distributed, the trainer drops uneven last batches (and accelerate would pad a shard with repeats):
        # leave the remainder out up front, so that the count below is what was trained on.
        usable = len(bitext) // (batch_size * world_size) * batch_size * world_size
        if usable == 0:
            raise ValueError(
                f"{len(bitext)} training pairs are fewer than one step of {batch_size} pairs x {world_size} processes"
            )
        counts["uneven_remainder"] = len(bitext) - usable
        bitext = bitext.shuffle(seed=seed).select(range(usable))
    counts["used"] = len(bitext)
    return bitext
