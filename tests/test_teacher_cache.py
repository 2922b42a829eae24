"""TeacherCache: the frozen teacher's outputs once per input, on disk, and OTDistillLoss reading them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

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


def _run(tiny_path: Path, output_dir: Path, loss: str, seed: int, cache: Path | None) -> dict:
    from datasets import Dataset

    from optical_st.training import DistillationRecipe, distill

    english = [
        *ENGLISH,
        "the red bird sleeps",
        "a dog near the city",
    ] * 2  # 12 pairs, 6 distinct English texts
    pairs = Dataset.from_dict({"id": [str(i) for i in range(12)], "language": ["npi_Deva"] * 12,
                               "english": english, "target": (TARGET * 3)[:12]})  # fmt: skip
    options = {} if loss == "mse" else {"reg": 0.5}
    recipe = DistillationRecipe(loss=loss, steps=3, batch_size=4, lr=1e-3, seed=seed, save_steps=0,
                                show_progress_bar=False, teacher_cache=None if cache is None else str(cache),
                                **options)  # fmt: skip
    student, teacher = (SentenceTransformer(str(tiny_path), device="cpu") for _ in range(2))
    distill(student, teacher, pairs, recipe, output_dir=output_dir)
    return json.loads((output_dir / "training_run.json").read_text())


def test_distill_fills_the_cache_once_and_other_seeds_and_objectives_only_read_it(tmp_path):
    make_tiny_model(tmp_path / "tiny", ENGLISH + TARGET, dropout=0.1)
    tiny, cache = tmp_path / "tiny" / "model", tmp_path / "cache"
    first = _run(tiny, tmp_path / "ot", "ot", 0, cache)
    record = first["teacher_cache"]
    assert record["filled"] == {"hits": 6, "misses": 6}  # 12 pairs, 6 distinct English inputs computed
    assert (record["hits"], record["misses"], record["entries"]) == (12, 0, 6)  # every step read the cache
    assert first["recipe"]["teacher_cache"] == str(cache)
    for name, loss, seed in (("seed1", "ot", 1), ("sentence", "ot+sentence", 0), ("mse", "mse", 0)):
        record = _run(tiny, tmp_path / name, loss, seed, cache)["teacher_cache"]
        assert record["filled"]["misses"] == 0, name  # the teacher never ran again
    # the same run without the cache logs the same losses (up to the float16 teacher outputs)
    plain = _run(tiny, tmp_path / "plain", "ot", 0, None)
    assert plain["teacher_cache"] is None
    logged = [[entry["loss"] for entry in run["log_history"] if "loss" in entry] for run in (first, plain)]
    assert logged[0] == pytest.approx(logged[1], rel=1e-2)


def test_train_and_scale_take_teacher_cache_and_a_study_without_one_keeps_its_cell_config(tmp_path):
    from optical_st.cli import build_parser
    from optical_st.commands import scale, train

    parser = build_parser()
    args = parser.parse_args(["train", "--bitext", "x", "--output-dir", "o", "--teacher-cache", "c"])
    assert train.build_recipe(args).teacher_cache == "c"
    args = parser.parse_args(["scale", "--models", "m", "--benchmark", "x", "--output-dir", "o", "--distill-bitext", "b",
                              "--teacher-cache", "c"])  # fmt: skip
    assert scale._distillation(args)[0].teacher_cache == "c"

    from optical_st.scaling import ScalingStudy, TrainingBitext
    from optical_st.training import DistillationRecipe

    def config(recipe):
        study = SimpleNamespace(recipe=recipe, training_bitext=TrainingBitext("b"), teacher=None)
        return ScalingStudy.distillation_config(study)["recipe"]

    # no cache: the config a study had before the field existed (its stored cells still match)
    assert "teacher_cache" not in config(DistillationRecipe())
    # a cache: recorded (float16 teacher outputs), its folder not (moving it changes no number)
    assert config(DistillationRecipe(teacher_cache=str(tmp_path / "c")))["teacher_cache"] is True


def test_a_large_fill_goes_to_disk_as_it_comes(models, tmp_path, monkeypatch):
    import numpy as np

    from optical_st import teacher_cache

    student, teacher = models
    monkeypatch.setattr(teacher_cache, "FLUSH_BYTES", 1)  # every batch with a miss writes a shard
    cache = TeacherCache(tmp_path, teacher)
    before = cache.outputs(teacher, student.preprocess(ENGLISH))
    cache.fill(teacher, [student.preprocess(["a small cat"])])
    assert len(list(cache.directory.glob("*.keys.json"))) == 2 and cache.save() is None
    assert all(isinstance(tokens.base, np.memmap) or isinstance(tokens, np.memmap) for tokens, _ in
               cache._entries.values())  # fmt: skip
    after = cache.outputs(teacher, student.preprocess(ENGLISH))
    torch.testing.assert_close(after["token_embeddings"], before["token_embeddings"], rtol=0, atol=0)
