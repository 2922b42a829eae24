"""A run's teacher cache (``DistillationRecipe.teacher_cache``): filled once before training, recorded after.

The cache itself is :class:`optical_st.teacher_cache.TeacherCache`. Here it meets a run: the OT losses get
it filled from the run's own batches (the training collator's English features, so every step is a hit),
MSE takes its labels from it, and ``training_run.json`` says what it held and what the run added.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from optical_st._atomic import write_json
from optical_st.teacher_cache import TeacherCache

if TYPE_CHECKING:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

#: Pairs per teacher batch while filling the cache (filling is inference only, larger batches are cheaper).
FILL_BATCH_SIZE = 64


def english_batches(dataset: Dataset, data_collator: Callable, batch_size: int) -> Iterator[dict[str, Any]]:
    """The English column's features as the training collator makes them, in batches of similar length."""
    texts = dataset["english"]
    # sorted by length: little padding, so the teacher computes little that the cache then drops
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    for start in range(0, len(order), batch_size):
        rows = [dataset[index] for index in order[start : start + batch_size]]
        features = data_collator(rows)
        yield {
            key.removeprefix("english_"): value
            for key, value in features.items()
            if key.startswith("english_")
        }


def fill_for_ot(directory: str | Path, loss: Any, dataset: Dataset, data_collator: Callable) -> TeacherCache:
    """A cache of ``loss.teacher`` holding every English input of the run, saved and set on the loss."""
    cache = TeacherCache(directory, loss.teacher)
    loss.fill_teacher_cache(cache, english_batches(dataset, data_collator, FILL_BATCH_SIZE))
    _log_fill(cache)
    cache.save()
    return cache


def cached_teacher_labels(
    texts: list[str], teacher: SentenceTransformer, prompt: str | None, directory: str | Path
) -> tuple[np.ndarray, TeacherCache]:
    """MSE's labels (the teacher's sentence embeddings of ``texts``) from a cache, as ``teacher.encode`` makes them."""
    cache = TeacherCache(directory, teacher)
    rows = []
    for start in range(0, len(texts), FILL_BATCH_SIZE):
        inputs = teacher.preprocess(texts[start : start + FILL_BATCH_SIZE], prompt=prompt)
        rows.append(cache.sentence_embeddings(teacher, inputs))
    _log_fill(cache)
    cache.save()
    return np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32), cache


def _log_fill(cache: TeacherCache) -> None:
    logger.info(
        "teacher cache %s: %d input(s) read, %d computed by the teacher",
        cache.directory,
        cache.hits,
        cache.misses,
    )


def fill_record(cache: TeacherCache | None) -> dict[str, Any] | None:
    """``training_run.json``'s ``teacher_cache`` as the run starts: the folder, and what filling found and added."""
    if cache is None:
        return None
    summary = cache.summary()
    return {**summary, "hits": None, "misses": None, "filled": {"hits": cache.hits, "misses": cache.misses}}


def record_training_use(run_file: Path, cache: TeacherCache | None) -> None:
    """Complete the record with the training steps' own hits and misses (misses: inputs the filling lacked)."""
    if cache is None or not run_file.is_file():
        return
    run = json.loads(run_file.read_text(encoding="utf-8"))
    record = run.get("teacher_cache") or {}
    filled = record.get("filled") or {"hits": 0, "misses": 0}
    record.update(
        hits=cache.hits - filled["hits"], misses=cache.misses - filled["misses"], entries=len(cache)
    )
    run["teacher_cache"] = record
    write_json(run_file, run)
