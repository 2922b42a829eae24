"""TeacherCache: the frozen teacher's outputs once per input, on disk, and OTDistillLoss reading them."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from sentence_transformers import SentenceTransformer
from tiny_models import make_tiny_model

from optical_st.losses import OTDistillLoss
from optical_st.teacher_cache import TeacherCache

ENGLISH = ["the cat sleeps near the river", "a big dog runs", "old house over the city", "a red bird"]
TARGET = ["peelsska tacka", "snurka godka gibka", "ytickа revoka esuohka dloka", "dribka derka"]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[SentenceTransformer, SentenceTransformer]:
    directory = tmp_path_factory.mktemp("cache_models")
    # dropout on: the cache must rely on the teacher being in eval mode, not on a dropout-free model
    student = make_tiny_model(directory / "student", ENGLISH + TARGET, seed=0, dropout=0.1)
    teacher = make_tiny_model(directory / "teacher", ENGLISH + TARGET, seed=1, dropout=0.1)
    return student, teacher


def _batch(model: SentenceTransformer, english: list[str], target: list[str]) -> list[dict]:
    return [model.preprocess(english, prompt="query: "), model.preprocess(target, prompt="query: ")]


@pytest.mark.parametrize("sentence_weight", [0.0, 1.0])
def test_the_loss_with_the_cache_equals_the_loss_without_it(models, tmp_path, sentence_weight):
    student, teacher = models
    batch = _batch(student, ENGLISH, TARGET)
    plain = OTDistillLoss(student, teacher, sentence_weight=sentence_weight)
    expected = plain(batch)
    expected.backward()
    expected_grad = next(student.parameters()).grad.clone()
    student.zero_grad(set_to_none=True)

    cache = TeacherCache(tmp_path, teacher)
    cached = OTDistillLoss(student, teacher, sentence_weight=sentence_weight, teacher_cache=cache)
    cold = cached(batch)  # misses: the teacher runs, its outputs are kept float16
    assert (cache.hits, cache.misses) == (0, len(ENGLISH))
    warm = cached(batch)
    assert (cache.hits, cache.misses) == (len(ENGLISH), len(ENGLISH))
    warm.backward()
    # float16 storage of the teacher's tokens: close, not bit-equal
    assert float(cold.detach()) == pytest.approx(float(expected.detach()), rel=2e-3, abs=1e-4)
    assert float(warm.detach()) == float(cold.detach())  # a cold and a warm cache give the same loss
    torch.testing.assert_close(next(student.parameters()).grad, expected_grad, rtol=2e-2, atol=1e-5)
    student.zero_grad(set_to_none=True)


def test_saved_entries_are_read_back_and_a_changed_teacher_or_text_misses(models, tmp_path):
    student, teacher = models
    inputs = student.preprocess(ENGLISH, prompt="query: ")
    first = TeacherCache(tmp_path, teacher)
    first.fill(teacher, [inputs])
    keys_file = first.save()
    assert keys_file is not None and keys_file.parent == first.directory
    assert first.save() is None  # nothing new, no empty shard

    again = TeacherCache(tmp_path, teacher)
    assert len(again) == len(ENGLISH)
    reread = again.outputs(teacher, inputs)
    assert (again.hits, again.misses) == (len(ENGLISH), 0)
    with torch.no_grad():
        fresh = teacher.eval()(dict(inputs))
    mask = inputs["attention_mask"].bool()
    torch.testing.assert_close(
        reread["token_embeddings"][mask], fresh["token_embeddings"][mask], rtol=2e-3, atol=2e-3
    )
    torch.testing.assert_close(
        reread["sentence_embedding"], fresh["sentence_embedding"], rtol=2e-3, atol=2e-3
    )
    assert bool((reread["token_embeddings"][~mask] == 0).all())

    # another text, another prompt, another length limit: other token ids, so misses
    again.fill(teacher, [student.preprocess(["a small cat"], prompt="query: ")])
    again.fill(teacher, [student.preprocess(ENGLISH[:1], prompt="passage: ")])
    again.fill(teacher, [student.preprocess(ENGLISH[:1], prompt="query: ", max_length=4)])
    assert again.misses == 3

    # a teacher with one weight changed has another fingerprint: nothing of the old teacher is read
    changed = copy.deepcopy(teacher)
    with torch.no_grad():
        next(changed.parameters())[0, 0] += 1e-3
    other = TeacherCache(tmp_path, changed)
    assert other.directory != first.directory and len(other) == 0
    other.fill(changed, [inputs])
    assert (other.hits, other.misses) == (0, len(ENGLISH))


def test_an_unfinished_shard_is_not_read(models, tmp_path):
    student, teacher = models
    cache = TeacherCache(tmp_path, teacher)
    cache.fill(teacher, [student.preprocess(ENGLISH)])
    keys_file = cache.save()
    keys_file.rename(Path(str(keys_file) + ".partial"))  # as if the run died before the keys were written
    assert len(TeacherCache(tmp_path, teacher)) == 0
