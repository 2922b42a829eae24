"""What the study evaluates and trains on: benchmarks filed by language, and the distillation recipe."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from optical_st.languages import ENGLISH

if TYPE_CHECKING:
    from optical_st.data import CLIRBenchmark


def benchmark_language(benchmark: CLIRBenchmark) -> str:
    """The non-English side of a benchmark (the language its results are filed under)."""
    query, document = benchmark.query_language, benchmark.document_language
    if query != ENGLISH:
        return query
    return document


def direction_of(benchmark: CLIRBenchmark) -> str:
    if benchmark.document_language == ENGLISH and benchmark.query_language != ENGLISH:
        return "xx->eng"
    if benchmark.query_language == ENGLISH and benchmark.document_language != ENGLISH:
        return "eng->xx"
    return f"{benchmark.query_language}->{benchmark.document_language}"


def task_of(benchmark: CLIRBenchmark) -> str:
    """The benchmark name with its language replaced by ``xx``: the same task across languages."""
    return benchmark.name.replace(benchmark_language(benchmark), "xx")


def bitext_benchmarks(
    source: str | os.PathLike[str],
    languages: str | Iterable[str] = "all",
    *,
    directions: Sequence[str] = ("xx->eng",),
    split: str | None = None,
    max_pairs: int | None = None,
    seed: int = 0,
) -> list[CLIRBenchmark]:
    """Sentence-level bitext retrieval benchmarks, one per language and direction, from a bitext source.

    Args:
        source: anything :func:`optical_st.data.load_bitext` reads (e.g. ``shared/data/flores200``).
        languages: languages in any spelling, a tier or ``"all"``; one the source lacks raises a
            ``ValueError`` listing the languages it has.
        directions: ``"xx->eng"`` and/or ``"eng->xx"``.
        split: bitext split (``None``: all).
        max_pairs: keep a seeded random sample of this many pair ids, the same ids in every language
            (multi-way parallel sources such as FLORES keep one shared English corpus); ``None``: all.
        seed: seed of that sample.
    """
    import random

    from optical_st.data import load_bitext, sentence_retrieval_benchmark

    bitext = load_bitext(source, languages, split=split)
    wanted = list(dict.fromkeys(bitext["language"]))
    keep = None
    if max_pairs is not None:
        ids = sorted(set(bitext["id"]))
        keep = set(random.Random(seed).sample(ids, min(max_pairs, len(ids))))
    benchmarks = []
    for language in wanted:
        rows = [
            i
            for i, (code, pair_id) in enumerate(zip(bitext["language"], bitext["id"], strict=True))
            if code == language and (keep is None or pair_id in keep)
        ]
        subset = bitext.select(rows)
        benchmarks.extend(sentence_retrieval_benchmark(subset, direction) for direction in directions)
    return benchmarks


@dataclass(frozen=True)
class DistillationRecipe:
    """How each model is OT-distilled before its ``"ot-distilled"`` evaluation.

    Args:
        bitext: training bitext, anything :func:`optical_st.data.load_bitext` reads.
        languages: bitext languages to train on (``None``: all in ``bitext``).
        split: bitext split (e.g. ``"dev"``).
        max_pairs: at most this many pairs per language (a seeded random sample); ``None``: all.
        teacher: teacher spec (:func:`parse_model_spec`, one model); ``None``: each model's own
            full-depth source (OPTICAL's frozen copy; the untruncated model for a truncated student).
        loss: ``"ot"`` or ``"ot+sentence"`` (see :func:`optical_st.training.distill`).
        steps, epochs, batch_size, max_length, lr, reg, seed: passed to :func:`optical_st.training.distill`.
        freeze_embeddings: train only the non-embedding parameters (every ``nn.Embedding`` frozen):
            cheaper on CPU (no update of the ~96M-parameter multilingual vocabulary table) and keeps the
            embedding part of the parameter count identical before and after distillation.
    """

    bitext: str
    languages: tuple[str, ...] | None = None
    split: str | None = None
    max_pairs: int | None = None
    teacher: str | None = None
    loss: str = "ot"
    steps: int | None = None
    epochs: float = 1.0
    batch_size: int = 16
    max_length: int = 128
    lr: float = 2e-5
    reg: float = 0.05
    seed: int = 0
    freeze_embeddings: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_bitext(self) -> Any:
        """The training pairs (``max_pairs`` per language, sampled with ``seed``)."""
        from optical_st.data import load_bitext

        bitext = load_bitext(self.bitext, list(self.languages) if self.languages else None, split=self.split)
        if self.max_pairs is None:
            return bitext
        shuffled = bitext.shuffle(seed=self.seed)
        keep, taken = [], {}
        for index, language in enumerate(shuffled["language"]):
            if taken.get(language, 0) < self.max_pairs:
                taken[language] = taken.get(language, 0) + 1
                keep.append(index)
        return shuffled.select(keep)
