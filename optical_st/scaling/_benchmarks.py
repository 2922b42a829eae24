"""What the study evaluates and trains on: benchmarks filed by language, and the training bitext."""

from __future__ import annotations

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


@dataclass(frozen=True)
class TrainingBitext:
    """The pairs every model of the study is distilled on: a bitext source, sampled per language.

    Args:
        source: anything :func:`optical_st.data.load_bitext` reads.
        languages: bitext languages to train on (``None``: all in ``source``).
        split: bitext split (e.g. ``"dev"``).
        max_pairs: at most this many pairs per language (a seeded random sample); ``None``: all.
        seed: seed of that sample.
    """

    source: str
    languages: tuple[str, ...] | None = None
    split: str | None = None
    max_pairs: int | None = None
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load(self) -> Any:
        """The training pairs (``max_pairs`` per language, sampled with ``seed``)."""
        from optical_st.data import load_bitext

        bitext = load_bitext(self.source, list(self.languages) if self.languages else None, split=self.split)
        if self.max_pairs is None:
            return bitext
        shuffled = bitext.shuffle(seed=self.seed)
        keep, taken = [], {}
        for index, language in enumerate(shuffled["language"]):
            if taken.get(language, 0) < self.max_pairs:
                taken[language] = taken.get(language, 0) + 1
                keep.append(index)
        return shuffled.select(keep)
