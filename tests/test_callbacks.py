"""OTDistillCallback with the real SentenceTransformerTrainer and OTDistillLoss on tiny models."""

from __future__ import annotations

import functools
import itertools
import json
import math

import pytest
from datasets import Dataset
from sentence_transformers import (
    SentenceTransformer,
    SentenceTransformerTrainer,
    SentenceTransformerTrainingArguments,
)
from tiny_models import make_tiny_model
from transformers import TrainerCallback

from optical_st.callbacks import BEST_DIRNAME, BEST_INFO_FILE, OTDistillCallback, Schedule
from optical_st.losses import OTDistillLoss

ENGLISH = ["the cat sat on the mat", "a dog runs in the park", "retrieval across languages needs alignment",
           "the park is green", "a cat and a dog"]  # fmt: skip
TARGET = ["नेपाल एक सुन्दर देश हो", "ශ්‍රී ලංකාව දූපතකි", "यह एक परीक्षण वाक्य है", "नेपाल देश", "ලංකාව"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny")
    make_tiny_model(directory / "base", [*ENGLISH, *TARGET])
    return directory / "base" / "model"


@pytest.fixture
def models(tiny_dir):
    return SentenceTransformer(str(tiny_dir), device="cpu"), SentenceTransformer(str(tiny_dir), device="cpu")


def bitext(n: int = 8) -> Dataset:
    return Dataset.from_dict({"english": (ENGLISH * 4)[:n], "target": (TARGET * 4)[:n]})


def make_trainer(student, loss, tmp_path, steps=4, callbacks=(), logging_steps=1):
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "checkpoints"), max_steps=steps, per_device_train_batch_size=4,
        logging_steps=logging_steps, save_strategy="no", report_to="none", disable_tqdm=True, seed=0,
    )  # fmt: skip
    return SentenceTransformerTrainer(
        model=student, args=args, train_dataset=bitext(), loss=loss, callbacks=list(callbacks)
    )


class Recorder(TrainerCallback):
    """Stands in for a reporter (TensorBoard/W&B): records what it is given in on_log."""

    def __init__(self):
        self.seen = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.seen.append(dict(logs or {}))


class SequenceEvaluator:
    """Returns the next value of a fixed sequence each call (and counts calls), like an evaluator."""

    def __init__(self, values, key="clir_low_macro_recall@10"):
        self.values, self.key, self.calls = list(values), key, []

    def __call__(self, model):
        value = self.values[len(self.calls)]
        self.calls.append(model.training)
        return {self.key: value, "clir_macro_recall@10": value / 2}


@pytest.mark.parametrize(
    ("schedule", "progress", "expected"),
    [
        (Schedule(0.1, 0.0, "linear"), 0.25, 0.075),
        (Schedule(1.0, 0.0, "cosine"), 0.5, 0.5),
        (Schedule(1.0, 0.0, "cosine"), 0.1, 0.5 * (1 + math.cos(math.pi * 0.1))),
        (Schedule(0.3, 9.0, "constant"), 0.7, 0.3),
        (Schedule(0.2, 0.4), 2.0, 0.4),  # clamped past the end
    ],
)
def test_schedule_values(schedule, progress, expected):
    assert schedule(progress) == pytest.approx(expected)


def test_schedule_parse_and_errors():
    assert Schedule.parse("0.1:0.02:cosine") == Schedule(0.1, 0.02, "cosine")
    assert Schedule.parse("0.5") == Schedule(0.5, 0.5, "constant")
    with pytest.raises(ValueError, match="bad schedule"):
        Schedule.parse("a:b")
    with pytest.raises(ValueError, match="unknown schedule kind"):
        Schedule(0.1, 0.2, "exponential")


def test_constructor_errors(models):
    student, teacher = models
    loss = OTDistillLoss(student, teacher, reg=0.5)
    with pytest.raises(ValueError, match="no such attribute"):
        OTDistillCallback(loss, schedules={"temperature": Schedule(1, 0)})
    with pytest.raises(ValueError, match="metric"):
        OTDistillCallback(loss, evaluator=SequenceEvaluator([0.1]))
    with pytest.raises(ValueError, match="eval_steps"):
        OTDistillCallback(loss, evaluator=SequenceEvaluator([0.1]), metric="m", output_dir=".", eval_steps=0)


def test_diagnostics_and_schedules_reach_the_logs_and_reporters(models, tmp_path):
    student, teacher = models
    loss = OTDistillLoss(student, teacher, reg=0.5, sentence_weight=0.0)
    reporter = Recorder()
    callback = OTDistillCallback(
        loss, schedules={"reg": Schedule(0.5, 0.1, "linear"), "sentence_weight": Schedule(0.0, 1.0, "cosine")}
    )
    trainer = make_trainer(student, loss, tmp_path, steps=5, callbacks=[reporter])
    callback.attach(trainer)
    assert trainer.callback_handler.callbacks[0] is callback
    trainer.train()

    history = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(history) == 5
    for entry in history:
        for key in (
            "ot/transport_cost",
            "ot/plan_entropy",
            "ot/marginal_error",
            "ot/plan_sharpness",
            "ot/reg",
        ):
            assert key in entry and math.isfinite(entry[key]), key
    regs = [entry["ot/reg"] for entry in history]
    assert regs[0] == pytest.approx(0.5) and regs[-1] == pytest.approx(0.1)
    assert all(a > b for a, b in itertools.pairwise(regs))
    weights = [entry["ot/sentence_weight"] for entry in history]
    assert weights[0] == pytest.approx(0.0) and weights[-1] == pytest.approx(1.0)
    # the sentence term switched on as its weight grew: the logged value is the loss's own statistic
    assert math.isfinite(history[-1]["ot/sentence_loss"])
    assert loss.reg == pytest.approx(0.1)
    # the reporter registered before attach() still saw the OT values in the same log call
    seen = [logs for logs in reporter.seen if "loss" in logs]
    assert all("ot/transport_cost" in logs for logs in seen)
    # the logged transport cost is the loss's own statistic, averaged over the window (window = 1 step here)
    assert history[-1]["ot/transport_cost"] == pytest.approx(loss.last_stats["transport_cost"])


def test_periodic_evaluation_keeps_the_best_checkpoint(models, tmp_path):
    student, teacher = models
    loss = OTDistillLoss(student, teacher, reg=0.5)
    evaluator = SequenceEvaluator([0.2, 0.6, 0.4])
    callback = OTDistillCallback(
        loss, evaluator=evaluator, eval_steps=2, metric="clir_low_macro_recall@10", output_dir=tmp_path
    )
    trainer = make_trainer(student, loss, tmp_path, steps=6, logging_steps=100)
    callback.attach(trainer)
    trainer.train()

    assert [e["step"] for e in callback.evaluations] == [2, 4, 6]
    assert evaluator.calls == [False, False, False]  # evaluated in eval mode ...
    assert student.training  # ... and handed back in train mode
    assert callback.best_metric == pytest.approx(0.6) and callback.best_step == 4
    info = json.loads((tmp_path / BEST_DIRNAME / BEST_INFO_FILE).read_text())
    assert info["step"] == 4 and info["value"] == pytest.approx(0.6)
    assert not (tmp_path / f"{BEST_DIRNAME}.partial").exists()
    # the saved best is a loadable model and differs from the final weights (training went on after it)
    best = SentenceTransformer(str(tmp_path / BEST_DIRNAME), device="cpu")
    assert best.encode(["नेपाल"]).shape == student.encode(["नेपाल"]).shape
    evaluated = {
        entry["step"]: entry
        for entry in trainer.state.log_history
        if "eval_clir_low_macro_recall@10" in entry
    }
    assert sorted(evaluated) == [2, 4, 6]
    assert trainer.state.best_global_step == 4


def test_missing_metric_key_is_a_clear_error(models, tmp_path):
    student, teacher = models
    loss = OTDistillLoss(student, teacher, reg=0.5)
    callback = OTDistillCallback(loss, evaluator=SequenceEvaluator([0.1]), eval_steps=1, metric="nope",
                                 output_dir=tmp_path)  # fmt: skip
    trainer = make_trainer(student, loss, tmp_path, steps=1)
    callback.attach(trainer)
    with pytest.raises(KeyError, match="available keys"):
        trainer.train()


def test_failed_push_keeps_checkpoint_and_training_continues(models, tmp_path):
    student, teacher = models
    loss = OTDistillLoss(student, teacher, reg=0.5)
    pushed = []

    def flaky_push(path, repo_id):
        pushed.append((path, repo_id))
        if len(pushed) == 1:
            raise ConnectionError("hub unreachable")
        return "https://hub/commit/1"

    callback = OTDistillCallback(
        loss, evaluator=SequenceEvaluator([0.1, 0.3]), eval_steps=1, metric="clir_low_macro_recall@10",
        output_dir=tmp_path, hub_model_id="user/model", push_fn=flaky_push,
    )  # fmt: skip
    trainer = make_trainer(student, loss, tmp_path, steps=2)
    callback.attach(trainer)
    trainer.train()
    assert trainer.state.global_step == 2
    assert [e["step"] for e in callback.push_errors] == [1]
    assert "hub unreachable" in callback.push_errors[0]["error"]
    assert [p["step"] for p in callback.pushed] == [2]
    assert (tmp_path / BEST_DIRNAME / "model.safetensors").is_file()


def test_push_to_unreachable_endpoint_through_hub_module(models, tmp_path):
    from optical_st.hub import push_model

    student, teacher = models
    loss = OTDistillLoss(student, teacher, reg=0.5)
    unreachable = functools.partial(
        push_model, endpoint="http://127.0.0.1:9", token="hf_test_token", exist_ok=True
    )
    callback = OTDistillCallback(
        loss, evaluator=SequenceEvaluator([0.5]), eval_steps=1, metric="clir_low_macro_recall@10",
        output_dir=tmp_path, hub_model_id="user/model", push_fn=unreachable, run_info={"languages": ["npi_Deva"]},
    )  # fmt: skip
    trainer = make_trainer(student, loss, tmp_path, steps=1)
    callback.attach(trainer)
    trainer.train()
    assert len(callback.push_errors) == 1 and not callback.pushed
    best = tmp_path / BEST_DIRNAME
    assert (best / "model.safetensors").is_file()
    assert json.loads((best / "optical_st_run.json").read_text())["training_info"]["languages"] == [
        "npi_Deva"
    ]


def test_resume_restores_best_metric(models, tmp_path):
    student, teacher = models
    loss = OTDistillLoss(student, teacher, reg=0.5)
    first = OTDistillCallback(loss, evaluator=SequenceEvaluator([0.7]), eval_steps=1,
                              metric="clir_low_macro_recall@10", output_dir=tmp_path)  # fmt: skip
    trainer = make_trainer(student, loss, tmp_path, steps=1)
    first.attach(trainer)
    trainer.train()
    # a new session on the same output dir: a worse score must not replace the saved best
    second = OTDistillCallback(loss, evaluator=SequenceEvaluator([0.5]), eval_steps=1,
                               metric="clir_low_macro_recall@10", output_dir=tmp_path)  # fmt: skip
    trainer = make_trainer(student, loss, tmp_path, steps=1)
    second.attach(trainer)
    trainer.train()
    assert second.best_metric == pytest.approx(0.7) and second.best_step == 1
    assert json.loads((tmp_path / BEST_DIRNAME / BEST_INFO_FILE).read_text())["value"] == pytest.approx(0.7)
