"""Length-grouped batches: pairs of similar token count share a batch, so less of a step is padding."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer

from sentence_transformers.base.sampler import DefaultBatchSampler


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, *, drop_last: bool, seed: int, group_batches: int = 50
) -> list[list[int]]:
    """Batches of similar-length examples, in a random order (the mega-batch scheme of transformers'
    ``LengthGroupedSampler``).

    The indices are shuffled with ``seed``, cut into groups of ``group_batches * batch_size``, each group is
    sorted by length and cut into batches, and the batch order is shuffled again. Every index appears once.

    Args:
        lengths: one length per example (any monotone proxy of its token count).
        batch_size: examples per batch.
        drop_last: drop a final batch smaller than ``batch_size``.
        seed: the shuffles' seed (vary it per epoch).
        group_batches: batches per sorted group: larger groups pad less and shuffle less.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(lengths), generator=generator).tolist()
    group = group_batches * batch_size
    batches = []
    for start in range(0, len(order), group):
        members = sorted(order[start : start + group], key=lambda index: lengths[index], reverse=True)
        batches += [members[i : i + batch_size] for i in range(0, len(members), batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches = [batch for batch in batches if len(batch) == batch_size]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


class LengthGroupedBatchSampler(DefaultBatchSampler):
    """sentence-transformers batch sampler that groups pairs of similar target length (less padding).

    With random batches of 16 FLoRes/TICO pairs, 40% of the student's token positions were padding (mean
    34 real tokens, 57 padded, multilingual-e5-small tokenizer, 64-token limit); grouping by length cuts
    that, which speeds training on CPU (bench/length_grouping.py). Pass the class, or
    ``functools.partial(LengthGroupedBatchSampler, lengths=...)``, as
    ``SentenceTransformerTrainingArguments(batch_sampler=...)``.

    Args:
        lengths: one length per row, e.g. the student's token counts of the ``target`` column (the side
            with the backward pass); default: character counts of ``target`` (or the first column), a
            rougher proxy across scripts.
    """

    def __init__(self, dataset: Dataset, batch_size: int, drop_last: bool, valid_label_columns=None,
                 generator=None, seed: int = 0, lengths: Sequence[int] | None = None) -> None:  # fmt: skip
        super().__init__(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        if lengths is None:
            column = "target" if "target" in dataset.column_names else dataset.column_names[0]
            lengths = [len(text) for text in dataset[column]]
        if len(lengths) != len(dataset):
            raise ValueError(f"{len(lengths)} lengths for a dataset of {len(dataset)} rows")
        self.lengths = list(lengths)

    def __iter__(self) -> Iterator[list[int]]:
        yield from length_grouped_batches(
            self.lengths, self.batch_size, drop_last=self.drop_last, seed=self.seed + self.epoch
        )

    def __len__(self) -> int:
        full, rest = divmod(len(self.lengths), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1


def length_sampler(
    student: SentenceTransformer, dataset: Dataset, prompt: str | None, max_length: int | None
) -> Callable[..., LengthGroupedBatchSampler]:
    """A :class:`LengthGroupedBatchSampler` factory keyed by the student's token counts of ``target``."""
    texts = [f"{prompt or ''}{text}" for text in dataset["target"]]
    ids = student.tokenizer(texts, truncation=max_length is not None, max_length=max_length)["input_ids"]
    return functools.partial(LengthGroupedBatchSampler, lengths=[len(row) for row in ids])
