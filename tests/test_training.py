"""distill() and `optical-st train` on tiny models: the three objectives, bad input, resume, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from tiny_models import make_tiny_model
from transformers import TrainerCallback

from optical_st.cli import main
from optical_st.training import (
    DistillationRecipe,
    OutputDirectoryInUseError,
    benchmark_texts,
    check_languages_evaluated,
    clean_bitext,
    distill,
    evaluator_languages,
    length_grouped_batches,
)

ENGLISH = ["the cat sat on the mat", "a dog runs in the park", "retrieval across languages needs alignment",
           "the park is green", "a cat and a dog", "the mat is red"]  # fmt: skip
TARGET = ["नेपाल एक सुन्दर देश हो", "ශ්‍රී ලංකාව දූපතකි", "यह एक परीक्षण वाक्य है", "नेपाल देश", "ලංකාව",
          "सुन्दर देश"]  # fmt: skip
FAST_OT = {"reg": 0.5}  # converges in few Sinkhorn iterations on random tiny models


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny")
    make_tiny_model(directory / "base", [*ENGLISH, *TARGET])
    return directory / "base" / "model"


def load(path) -> SentenceTransformer:
    return SentenceTransformer(str(path), device="cpu")


def bitext(language: str = "npi_Deva", n: int = 12) -> Dataset:
    return Dataset.from_dict({
        "id": [str(i) for i in range(n)], "language": [language] * n,
        "english": (ENGLISH * 4)[:n], "target": (TARGET * 4)[:n], "doc_id": [""] * n, "source": ["toy"] * n,
    })  # fmt: skip


def weights(model: SentenceTransformer) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in model.parameters()])


@pytest.mark.parametrize("loss", ["ot", "mse", "ot+sentence"])
def test_each_objective_trains_the_student_only(tiny_dir, tmp_path, loss):
    student, teacher = load(tiny_dir), load(tiny_dir)
    before_student, before_teacher = weights(student), weights(teacher)
    final = distill(student, teacher, bitext(),
                    DistillationRecipe(loss=loss, steps=2, batch_size=4, lr=1e-3, save_steps=0,
                                       show_progress_bar=False, **({} if loss == "mse" else FAST_OT)),
                    output_dir=tmp_path)  # fmt: skip
    assert not torch.equal(weights(student), before_student)
    assert torch.equal(weights(teacher), before_teacher)
    reloaded = load(final)
    assert torch.allclose(
        torch.as_tensor(reloaded.encode(["नेपाल"])), torch.as_tensor(student.encode(["नेपाल"]))
    )
    run = json.loads((tmp_path / "training_run.json").read_text())
    assert run["status"] == "done" and run["global_step"] == 2 and run["loss"] == loss
    assert run["pairs"]["kept"] == 12 and run["pairs"]["used"] == 8 and run["languages"] == ["npi_Deva"]
    card_info = json.loads((final / "optical_st_run.json").read_text())["training_info"]
    assert card_info["hyperparameters"]["objective"] == loss
    logged = [entry for entry in run["log_history"] if "loss" in entry]
    assert logged and all(torch.isfinite(torch.tensor(entry["loss"])) for entry in logged)
    if loss != "mse":
        assert "ot/transport_cost" in logged[0]


@pytest.mark.parametrize("loss", ["ot", "mse"])
def test_frozen_input_embeddings_stay_fixed_and_are_recorded(tiny_dir, tmp_path, loss):
    student, teacher = load(tiny_dir), load(tiny_dir)
    embeddings = student[0].auto_model.get_input_embeddings().weight.detach().clone()
    before = weights(student)
    final = distill(student, teacher, bitext(),
                    DistillationRecipe(loss=loss, steps=2, batch_size=4, lr=1e-3, save_steps=0,
                                       show_progress_bar=False, freeze_embeddings=True,
                                       **({} if loss == "mse" else FAST_OT)),
                    output_dir=tmp_path)  # fmt: skip
    assert torch.equal(student[0].auto_model.get_input_embeddings().weight, embeddings)
    assert not torch.equal(weights(student), before)  # the rest trained
    run = json.loads((tmp_path / "training_run.json").read_text())
    assert run["frozen_parameters"] == ["0.model.embeddings.word_embeddings.weight"]
    card_info = json.loads((final / "optical_st_run.json").read_text())["training_info"]
    assert card_info["hyperparameters"]["frozen_parameters"] == run["frozen_parameters"]


def test_length_grouped_batches_cover_every_pair_once_and_pad_less():
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(5, 200, (1000,), generator=generator).tolist()
    batches = length_grouped_batches(lengths, 16, drop_last=False, seed=3)
    assert sorted(i for batch in batches for i in batch) == list(range(1000))
    assert len(batches) == 63 and sum(len(b) < 16 for b in batches) == 1

    def padded(bs):
        return sum(max(lengths[i] for i in b) * len(b) for b in bs)

    random_batches = [list(range(i, min(i + 16, 1000))) for i in range(0, 1000, 16)]
    assert padded(batches) < 0.8 * padded(random_batches)
    assert batches != length_grouped_batches(lengths, 16, drop_last=False, seed=4)  # a new order per epoch
    dropped = length_grouped_batches(lengths, 16, drop_last=True, seed=3)
    assert len(dropped) == 62 and all(len(b) == 16 for b in dropped)


def test_group_by_length_trains_and_is_recorded(tiny_dir, tmp_path):
    student, teacher = load(tiny_dir), load(tiny_dir)
    before = weights(student)
    distill(student, teacher, bitext(),
            DistillationRecipe(loss="ot", steps=3, batch_size=4, save_steps=0, show_progress_bar=False,
                               group_by_length=True, **FAST_OT),
            output_dir=tmp_path)  # fmt: skip
    assert not torch.equal(weights(student), before)
    run = json.loads((tmp_path / "training_run.json").read_text())
    assert run["group_by_length"] is True and run["global_step"] == 3


def test_prompt_names_resolve_per_model_so_a_teacher_without_prompts_gets_none(tiny_dir, tmp_path):
    student, teacher = load(tiny_dir), load(tiny_dir)
    student.prompts = {"query": "query: "}
    teacher.prompts = {}
    distill(student, teacher, bitext(),
            DistillationRecipe(loss="mse", steps=1, batch_size=4, save_steps=0, show_progress_bar=False,
                               prompt="query"),
            output_dir=tmp_path)  # fmt: skip
    run = json.loads((tmp_path / "training_run.json").read_text())
    assert run["prompt"] == "query: " and run["teacher_prompt"] is None


@pytest.mark.parametrize("loss", ["ot", "mse"])
def test_max_length_truncates_training_inputs_but_not_the_models(tiny_dir, tmp_path, loss):
    student, teacher = load(tiny_dir), load(tiny_dir)
    full_length = student.max_seq_length
    seen: list[int] = []

    def record_training_input(module, args):
        if module.training:  # model-card and evaluation encodes run in eval mode
            seen.append(args[0]["input_ids"].shape[1])

    student[0].register_forward_pre_hook(record_training_input)
    final = distill(student, teacher, bitext(),
                    DistillationRecipe(loss=loss, steps=2, batch_size=4, max_length=4, save_steps=0,
                                       show_progress_bar=False, **({} if loss == "mse" else FAST_OT)),
                    output_dir=tmp_path)  # fmt: skip
    assert seen and max(seen) == 4  # the long sentences were cut to 4 tokens in training
    # ... and nowhere else: evaluation and users of the saved model see full-length inputs
    assert student.max_seq_length == teacher.max_seq_length == full_length
    assert load(final).max_seq_length == full_length


def test_idf_marginals_are_fitted_on_the_training_pairs(tiny_dir, tmp_path):
    student, teacher = load(tiny_dir), load(tiny_dir)
    distill(student, teacher, bitext(),
            DistillationRecipe(loss="ot", steps=1, batch_size=4, save_steps=0, show_progress_bar=False,
                               loss_options={"marginals": "idf"}, **FAST_OT),
            output_dir=tmp_path)  # fmt: skip
    run = json.loads((tmp_path / "training_run.json").read_text())
    assert run["status"] == "done" and run["loss_config"]["marginals"] == "idf"


def test_clean_bitext_counts_and_errors():
    data = Dataset.from_dict({
        "english": ["a", " ", "b", "c", "d"], "target": ["x", "y", "", "z", "w"],
        "language": ["npi_Deva", "npi_Deva", "npi_Deva", "sin_Sinh", "npi_Deva"],
    })  # fmt: skip
    kept, counts = clean_bitext(data, languages=["ne"], exclude_texts={"w "})
    assert kept["english"] == ["a"]
    assert counts == {"input": 5, "blank": 2, "other_language": 1, "overlap": 1, "kept": 1}
    with pytest.raises(ValueError, match="no training pairs left"):
        clean_bitext(data, languages=["hi"])
    with pytest.raises(ValueError, match="lacks column"):
        clean_bitext(data.remove_columns("target"))


def test_zero_pairs_after_validation(tiny_dir, tmp_path):
    data = bitext()
    with pytest.raises(ValueError, match="no training pairs left"):
        distill(load(tiny_dir), load(tiny_dir), data,
                DistillationRecipe(steps=1),
                output_dir=tmp_path, exclude_texts=set(ENGLISH))  # fmt: skip


def test_teacher_and_student_on_different_devices(tiny_dir, tmp_path):
    teacher = load(tiny_dir).to("meta")
    with pytest.raises(ValueError, match="same device"):
        distill(load(tiny_dir), teacher, bitext(), DistillationRecipe(steps=1), output_dir=tmp_path)


def test_bitext_language_the_evaluation_lacks(tiny_dir, tmp_path):
    from optical_st.data import sentence_retrieval_benchmark

    benchmark = sentence_retrieval_benchmark(bitext("sin_Sinh"))
    assert benchmark_texts([benchmark]) >= {ENGLISH[0], TARGET[0]}

    class Evaluator:
        def __init__(self):
            self.benchmarks = [benchmark]

    assert evaluator_languages(Evaluator()) == {"sin_Sinh", "eng_Latn"}
    with pytest.raises(ValueError, match=r"npi_Deva.*evaluation benchmarks lack"):
        check_languages_evaluated(["npi_Deva"], evaluator_languages(Evaluator()))
    with pytest.raises(ValueError, match="evaluation benchmarks lack"):
        distill(load(tiny_dir), load(tiny_dir), bitext("npi_Deva"),
                DistillationRecipe(steps=1),
                output_dir=tmp_path, evaluator=Evaluator())  # fmt: skip


def test_output_dir_with_another_run_is_refused_unless_overwrite(tiny_dir, tmp_path):
    (tmp_path / "notes.txt").write_text("someone else's run")
    with pytest.raises(OutputDirectoryInUseError, match="--overwrite"):
        distill(load(tiny_dir), load(tiny_dir), bitext(), DistillationRecipe(steps=1), output_dir=tmp_path)
    final = distill(load(tiny_dir), load(tiny_dir), bitext(),
                    DistillationRecipe(steps=1, batch_size=4, overwrite=True, save_steps=0,
                                       show_progress_bar=False, **FAST_OT),
                    output_dir=tmp_path)  # fmt: skip
    assert (final / "model.safetensors").is_file()


def test_resume_from_checkpoint_continues_the_step_count(tiny_dir, tmp_path):
    common = {"batch_size": 4, "save_steps": 2, "show_progress_bar": False, **FAST_OT}
    distill(load(tiny_dir), load(tiny_dir), bitext(),
            DistillationRecipe(steps=2, **common),
            output_dir=tmp_path)  # fmt: skip
    assert (tmp_path / "checkpoints" / "checkpoint-2").is_dir()
    from transformers import TrainerCallback

    steps = []

    class StepCounter(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            steps.append(state.global_step)

    distill(load(tiny_dir), load(tiny_dir), bitext(),
            DistillationRecipe(steps=3, resume_from_checkpoint=True, **common),
            output_dir=tmp_path, callbacks=[StepCounter()])  # fmt: skip
    run = json.loads((tmp_path / "training_run.json").read_text())
    assert run["global_step"] == 3 and steps == [3]  # only the step after checkpoint-2 ran
    # history restored: steps 1 and 2 (logged at the checkpoint) from the first session, then the last step
    assert [entry["step"] for entry in run["log_history"] if "loss" in entry] == [1, 2, 3]


def test_cli_train_with_evaluation_and_refusal(tiny_dir, tmp_path, capsys):
    from optical_st.data import sentence_retrieval_benchmark

    data = tmp_path / "pairs.tsv"
    lines = ["english\ttarget\tlanguage"] + [
        f"{e}\t{t}\tnpi_Deva" for e, t in zip(ENGLISH, TARGET, strict=True)
    ]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    evaluation = Dataset.from_dict({
        "id": ["0", "1"], "language": ["npi_Deva"] * 2, "english": ["a new sentence", "another one"],
        "target": ["नयाँ वाक्य", "अर्को"], "doc_id": ["", ""], "source": ["held-out"] * 2,
    })  # fmt: skip
    benchmark_dir = sentence_retrieval_benchmark(evaluation).save(tmp_path / "bench")
    out = tmp_path / "run"
    argv = ["train", "--teacher", str(tiny_dir), "--student", str(tiny_dir), "--bitext", str(data),
            "--loss", "ot", "--reg", "0.5", "--reg-schedule", "0.5:0.2:cosine", "--steps", "2",
            "--batch-size", "3", "--eval-benchmark", str(benchmark_dir), "--eval-k", "1,2", "--eval-steps", "1",
            "--metric", "macro_recall@1", "--save-steps", "0", "--output-dir", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert "trained student" in capsys.readouterr().out
    run = json.loads((out / "training_run.json").read_text())
    assert run["best"]["metric"] == "clir_macro_recall@1" and (out / "best" / "model.safetensors").is_file()
    assert run["schedules"]["reg"] == {"start": 0.5, "end": 0.2, "kind": "cosine"}
    # the same output dir again: refused with a readable error, nothing overwritten
    assert main(argv) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0
    assert "language_encoders" not in json.loads((out / "training_run.json").read_text())["evaluator"]
    # OPTICAL's inference setup: the frozen teacher encodes English in every evaluation
    assert main([*argv, "--overwrite", "--eval-english-encoder", "teacher"]) == 0
    run = json.loads((out / "training_run.json").read_text())
    assert list(run["evaluator"]["language_encoders"]) == ["eng_Latn"]


def test_cli_rejects_bad_bitext_spec_and_mse_schedules(tmp_path, capsys):
    assert main(["train", "--bitext", "x::", "--output-dir", str(tmp_path / "o")]) == 1
    assert "no split" in capsys.readouterr().err
    assert main(["train", "--bitext", "x", "--loss", "mse", "--reg-schedule", "0.1:0.2",
                 "--output-dir", str(tmp_path / "o")]) == 1  # fmt: skip
    assert "schedules apply to the OT loss" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--epochs", "0", "--epochs must be positive"),
        ("--warmup-ratio", "2", "--warmup-ratio must be between 0 and 1"),
        ("--save-steps", "-1", "--save-steps must be 0 or more"),
        ("--max-length", "0", "--max-length must be positive"),
        ("--batch-size", "0", "--batch-size must be positive"),
        ("--lr", "nan", "--lr must be a finite number"),
        ("--logging-steps", "0", "--logging-steps must be positive"),
        ("--eval-k", "1,abc", "--eval-k takes comma-separated whole numbers like 1,5,10; 'abc'"),
        ("--device", "cuda:7", "--device 'cuda:7' cannot be used on this machine"),
        ("--reg", "inf", "--reg must be a finite number"),
        ("--reg", "0", "--reg must be positive"),
        ("--anneal", "-1", "--anneal must be 0 or more"),
        ("--reg-schedule", "0.5:0", "--reg-schedule 0.5:0: reg must stay positive over the whole run, got 0"),
    ],
)
def test_cli_train_rejects_bad_numbers_up_front(tmp_path, capsys, flag, value, message):
    # the bitext does not exist: a check that ran after loading anything would report that instead
    argv = [
        "train",
        "--bitext",
        str(tmp_path / "missing.tsv"),
        "--output-dir",
        str(tmp_path / "o"),
        flag,
        value,
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_unconverged_sinkhorn_is_warned_once_and_counted_in_the_run_record(tiny_dir, tmp_path, caplog):
    student, teacher = load(tiny_dir), load(tiny_dir)
    with caplog.at_level("WARNING", logger="optical_st.losses"):
        distill(student, teacher, bitext(),
                DistillationRecipe(loss="ot", steps=3, batch_size=4, save_steps=0, show_progress_bar=False,
                                   loss_options={"reg": 1e-6, "reg_scale": "absolute", "max_iter": 20}),
                output_dir=tmp_path)  # fmt: skip
    warnings = [r.getMessage() for r in caplog.records if "Sinkhorn stopped at max_iter=20" in r.getMessage()]
    assert len(warnings) == 1 and "marginal error up to" in warnings[0]
    run = json.loads((tmp_path / "training_run.json").read_text())
    assert run["status"] == "done" and run["sinkhorn_unconverged_steps"] == 3


def test_max_length_is_capped_at_the_models_positions_and_must_be_positive(tiny_dir, tmp_path):
    student, teacher = load(tiny_dir), load(tiny_dir)
    assert student.max_seq_length == 64  # the tiny model has 64 (+2) positions; 128 would overflow them
    long_pairs = bitext(n=4).map(lambda row: {"english": " ".join([row["english"]] * 20),
                                              "target": " ".join([row["target"]] * 20)})  # fmt: skip
    final = distill(student, teacher, long_pairs,
                    DistillationRecipe(steps=1, batch_size=4, max_length=128, save_steps=0,
                                       show_progress_bar=False, **FAST_OT),
                    output_dir=tmp_path)  # fmt: skip
    run = json.loads((tmp_path / "training_run.json").read_text())
    assert run["status"] == "done" and run["max_length"] == 64
    assert (
        json.loads((final / "optical_st_run.json").read_text())["training_info"]["hyperparameters"][
            "max_length"
        ]
        == 64
    )
    for bad in (0, -3):
        with pytest.raises(ValueError, match="max_length must be a positive"):
            distill(load(tiny_dir), load(tiny_dir), bitext(),
                    DistillationRecipe(steps=1, max_length=bad),
                    output_dir=tmp_path / "x")  # fmt: skip


class FailAt(TrainerCallback):
    """Raise when a step begins: a crash in the middle of training."""

    def __init__(self, step: int, error: BaseException | None = None):
        self.step, self.error = step, error or RuntimeError("simulated crash")

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step + 1 == self.step:
            raise self.error


def finished_run(tiny_dir, directory) -> dict:
    """A finished run in ``directory``: final/, checkpoints/, training_run.json; returns what it wrote."""
    distill(load(tiny_dir), load(tiny_dir), bitext(),
            DistillationRecipe(steps=2, batch_size=4, save_steps=1, show_progress_bar=False, **FAST_OT),
            output_dir=directory)  # fmt: skip
    return {path.relative_to(directory): path.read_bytes() for path in directory.rglob("*") if path.is_file()}


def test_overwrite_keeps_the_previous_run_until_the_new_one_is_valid_and_has_saved(tiny_dir, tmp_path):
    before = finished_run(tiny_dir, tmp_path)
    assert Path("final/model.safetensors") in before and Path("training_run.json") in before

    def unchanged() -> bool:
        now = {
            path.relative_to(tmp_path): path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()
        }
        return now == before

    # refused by validation: no pair left, a training language the evaluation lacks
    with pytest.raises(ValueError, match="no training pairs left"):
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(steps=1, overwrite=True),
                output_dir=tmp_path, exclude_texts=set(ENGLISH))  # fmt: skip
    assert unchanged()
    from optical_st.data import sentence_retrieval_benchmark

    class SinhalaOnly:
        def __init__(self):
            self.benchmarks = [sentence_retrieval_benchmark(bitext("sin_Sinh"))]

    with pytest.raises(ValueError, match="evaluation benchmarks lack"):
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(steps=1, overwrite=True),
                output_dir=tmp_path, evaluator=SinhalaOnly())  # fmt: skip
    assert unchanged()
    # a crash before the new run saved any model: the previous run is put back as it was
    with pytest.raises(RuntimeError, match="simulated crash"):
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(steps=2, batch_size=4, overwrite=True, save_steps=0,
                                   show_progress_bar=False, **FAST_OT),
                output_dir=tmp_path, callbacks=[FailAt(1)])  # fmt: skip
    assert unchanged()
    # a successful overwrite: the new run, and the old one gone once the new one saved a model
    distill(load(tiny_dir), load(tiny_dir), bitext(),
            DistillationRecipe(steps=3, batch_size=4, overwrite=True, save_steps=0, show_progress_bar=False,
                               **FAST_OT),
            output_dir=tmp_path)  # fmt: skip
    run = json.loads((tmp_path / "training_run.json").read_text())
    assert run["status"] == "done" and run["global_step"] == 3
    assert not list(tmp_path.glob("checkpoints/checkpoint-*")) and not (tmp_path / "previous-run").exists()


def test_cli_overwrite_refused_by_validation_leaves_the_run(tiny_dir, tmp_path, capsys):
    from optical_st.data import sentence_retrieval_benchmark

    data = tmp_path / "pairs.tsv"
    data.write_text("english\ttarget\tlanguage\n" + "".join(
        f"{e}\t{t}\tnpi_Deva\n" for e, t in zip(ENGLISH, TARGET, strict=True)), encoding="utf-8")  # fmt: skip
    sinhala = sentence_retrieval_benchmark(bitext("sin_Sinh", n=4)).save(tmp_path / "sin-bench")
    before = finished_run(tiny_dir, tmp_path / "run")
    # Nepali training pairs, a Sinhala-only evaluation: refused once everything is loaded
    argv = ["train", "--teacher", str(tiny_dir), "--bitext", str(data), "--steps", "1", "--eval-benchmark",
            str(sinhala), "--eval-languages", "sin", "--eval-k", "1", "--output-dir", str(tmp_path / "run"),
            "--overwrite", "--no-progress"]  # fmt: skip
    assert main(argv) == 1
    assert "evaluation benchmarks lack" in capsys.readouterr().err
    after = {
        p.relative_to(tmp_path / "run"): p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()
    }
    assert after == before


def test_a_failed_resume_leaves_the_finished_run_record_alone(tiny_dir, tmp_path):
    distill(load(tiny_dir), load(tiny_dir), bitext(),
            DistillationRecipe(steps=1, batch_size=4, save_steps=0, show_progress_bar=False, **FAST_OT),
            output_dir=tmp_path)  # fmt: skip
    record = (tmp_path / "training_run.json").read_bytes()
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume"):
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(steps=2, resume_from_checkpoint=True),
                output_dir=tmp_path)  # fmt: skip
    with pytest.raises(FileNotFoundError, match="checkpoint to resume from not found"):
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(steps=2,
                                   resume_from_checkpoint=str(tmp_path / "checkpoints" / "checkpoint-9")),
                output_dir=tmp_path)  # fmt: skip
    assert (tmp_path / "training_run.json").read_bytes() == record


def test_a_crash_leaves_status_failed_with_the_error(tiny_dir, tmp_path):
    with pytest.raises(RuntimeError, match="simulated crash"):
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(steps=3, batch_size=4, save_steps=0, show_progress_bar=False, **FAST_OT),
                output_dir=tmp_path, callbacks=[FailAt(2)])  # fmt: skip
    run = json.loads((tmp_path / "training_run.json").read_text())
    assert run["status"] == "failed" and run["error"] == "RuntimeError: simulated crash"
    with pytest.raises(KeyboardInterrupt):
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(steps=3, batch_size=4, save_steps=0, show_progress_bar=False, **FAST_OT),
                output_dir=tmp_path / "ctrl-c", callbacks=[FailAt(2, KeyboardInterrupt())])  # fmt: skip
    assert json.loads((tmp_path / "ctrl-c" / "training_run.json").read_text())["status"] == "interrupted"


def test_train_loss_after_a_resume_is_the_whole_runs_mean(tiny_dir, tmp_path):
    common = {
        "steps": 4,
        "batch_size": 2,
        "lr": 1e-3,
        "logging_steps": 10,
        "show_progress_bar": False,
        **FAST_OT,
    }
    distill(load(tiny_dir), load(tiny_dir), bitext(),
            DistillationRecipe(save_steps=0, **common),
            output_dir=tmp_path / "straight")  # fmt: skip
    with pytest.raises(RuntimeError):  # killed after the checkpoint at step 2
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(save_steps=2, **common),
                output_dir=tmp_path / "resumed", callbacks=[FailAt(3)])  # fmt: skip
    distill(load(tiny_dir), load(tiny_dir), bitext(),
            DistillationRecipe(save_steps=2, resume_from_checkpoint=True, **common),
            output_dir=tmp_path / "resumed")  # fmt: skip
    straight = json.loads((tmp_path / "straight" / "training_run.json").read_text())
    resumed = json.loads((tmp_path / "resumed" / "training_run.json").read_text())
    assert resumed["status"] == "done" and resumed["global_step"] == 4
    assert resumed["train_loss"] == pytest.approx(straight["train_loss"], rel=1e-5)


def test_saved_student_has_explicit_prompts_and_the_run_record_names_hub_models(tiny_dir, tmp_path):
    """A student saved with only query/passage prompts gets an empty "document" prompt from
    sentence-transformers: encode_document (and mteb) then add no prefix where optical-st adds "passage: "."""
    import shutil

    from optical_st.pretrained import write_provenance

    # A local folder like the offline e5 build: its PROVENANCE.md names the Hub model it derives from.
    base = tmp_path / "e5-like"
    shutil.copytree(tiny_dir, base)
    config = json.loads((base / "config_sentence_transformers.json").read_text())
    config["prompts"] = {"query": "query: ", "passage": "passage: "}
    (base / "config_sentence_transformers.json").write_text(json.dumps(config))
    write_provenance(base, base_model="intfloat/multilingual-e5-small", license="mit", note="4-bit build")
    assert load(base).prompts.get("document") == ""  # the trap, as sentence-transformers loads it

    final = distill(str(base), str(base), bitext(),
                    DistillationRecipe(loss="ot", steps=1, batch_size=4, save_steps=0,
                                       show_progress_bar=False, **FAST_OT),
                    output_dir=tmp_path / "run")  # fmt: skip
    saved = json.loads((final / "config_sentence_transformers.json").read_text())["prompts"]
    assert saved["document"] == saved["passage"] == "passage: " and saved["query"] == "query: "
    student = load(final)
    texts = ["नेपाल एक सुन्दर देश हो"]
    assert torch.allclose(
        torch.as_tensor(student.encode_document(texts)),
        torch.as_tensor(student.encode(texts, prompt="passage: ")),
    )
    info = json.loads((final / "optical_st_run.json").read_text())["training_info"]
    assert info["base_model"] == info["teacher"] == "intfloat/multilingual-e5-small"
    assert info["base_model_license"] == "mit" and info["teacher_note"] == "4-bit build"
    assert info["student_argument"] == str(base)  # the argument as given stays in the run record


def test_the_recipe_is_checked_when_it_is_made_and_records_every_field():
    from optical_st.training import Schedule

    recipe = DistillationRecipe(loss="ot", steps=3, schedules={"reg": Schedule(1.0, 0.5)}, languages=["npi"])
    assert recipe.languages == ("npi",)
    record = recipe.to_dict()
    assert record["schedules"] == {"reg": {"start": 1.0, "end": 0.5, "kind": "linear"}}
    assert set(record) == set(DistillationRecipe.field_names())
    assert json.loads(json.dumps(record)) == record
    assert recipe.replace(loss="mse", schedules={}).loss == "mse" and recipe.loss == "ot"
    for bad, message in (
        ({"loss": "kl"}, "unknown loss 'kl'"),
        ({"steps": 0}, "steps must be positive"),
        ({"lr": float("nan")}, "lr must be positive"),
        ({"warmup_ratio": 2}, "warmup_ratio must be between 0 and 1"),
        ({"loss": "mse", "schedules": {"reg": Schedule(1, 0)}}, "schedules apply to the OT loss"),
        ({"loss": "ot", "sentence_weight": 1.0}, "has no sentence term"),
        ({"loss_options": {"cost": "sqeuclidean"}}, "loss_options repeats 'cost'"),
    ):
        with pytest.raises(ValueError, match=message):
            DistillationRecipe(**bad)


def test_settings_given_the_old_way_still_train_with_a_warning(tiny_dir, tmp_path):
    with pytest.warns(FutureWarning, match=r"DistillationRecipe\(steps=\.\.\."):
        distill(load(tiny_dir), load(tiny_dir), bitext(), steps=1, batch_size=4, output_dir=tmp_path, save_steps=0,
                show_progress_bar=False, **FAST_OT)  # fmt: skip
    run = json.loads((tmp_path / "training_run.json").read_text())
    assert run["status"] == "done" and run["recipe"]["steps"] == 1 and run["recipe"]["reg"] == FAST_OT["reg"]
    with pytest.raises(TypeError, match="unexpected keyword argument 'stepz'"):
        distill(load(tiny_dir), load(tiny_dir), bitext(), stepz=1, output_dir=tmp_path / "typo")


# bad inputs and faults that ended as a wrong result, a lost model or a traceback (issue 24) ---------
def poisoned_copy(tiny_dir, directory: Path) -> Path:
    """A saved copy of the tiny model with NaN weights (what a diverged run leaves)."""
    model = load(tiny_dir)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    model.save(str(directory))
    return directory


@pytest.mark.parametrize("loss", ["mse", "ot"])
def test_a_diverging_run_fails_saves_no_model_and_keeps_its_last_checkpoint(tiny_dir, tmp_path, loss):
    with pytest.raises(RuntimeError, match="training diverged"):
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(loss=loss, steps=3, batch_size=4, lr=1e30, save_steps=1, show_progress_bar=False,
                                   **({} if loss == "mse" else FAST_OT)),
                output_dir=tmp_path)  # fmt: skip
    run = json.loads((tmp_path / "training_run.json").read_text())
    assert run["status"] == "failed" and "training diverged" in run["error"]
    assert not (tmp_path / "final").exists() and not (tmp_path / "best").exists()
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["checkpoint-1"]


def test_the_divergence_guard_stops_before_evaluation_best_and_checkpoint(tiny_dir, tmp_path):
    from optical_st.data import sentence_retrieval_benchmark
    from optical_st.evaluation import CLIREvaluator

    class PoisonAt(TrainerCallback):
        def on_step_begin(self, args, state, control, model=None, **kwargs):
            if state.global_step == 1:  # step 2 begins
                with torch.no_grad():
                    next(model.parameters()).fill_(float("nan"))

    evaluator = CLIREvaluator([sentence_retrieval_benchmark(bitext(n=6))], k_values=[1])
    with pytest.raises(RuntimeError, match=r"training diverged by step 2: .* NaN or infinite"):
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(loss="mse", steps=3, batch_size=4, save_steps=1, eval_steps=1,
                                   show_progress_bar=False),
                output_dir=tmp_path, evaluator=evaluator, callbacks=[PoisonAt()])  # fmt: skip
    best = json.loads((tmp_path / "best" / "optical_st_best.json").read_text())
    assert best["step"] == 1 and sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "checkpoint-1"
    ]


def test_models_with_non_finite_weights_are_refused_by_evaluate_push_model_and_the_api(
    tiny_dir, tmp_path, capsys
):
    from optical_st.data import sentence_retrieval_benchmark
    from optical_st.hub import push_model
    from optical_st.pretrained import load_sentence_transformer

    model_dir = poisoned_copy(tiny_dir, tmp_path / "diverged")
    bench = sentence_retrieval_benchmark(bitext(n=6)).save(tmp_path / "bench")
    assert main(["evaluate", "--model", str(model_dir), "--benchmark", str(bench), "--k", "1"]) == 1
    assert (
        "are NaN or infinite (first: 0.model.embeddings.word_embeddings.weight); a training run that diverged"
        in (capsys.readouterr().err)
    )
    assert main(["push-model", str(model_dir), "user/diverged", "--dry-run",
                 "--local-dir", str(tmp_path / "card")]) == 1  # fmt: skip
    assert "NaN or infinite" in capsys.readouterr().err and not (tmp_path / "card").exists()
    with pytest.raises(ValueError, match="NaN or infinite"):
        load_sentence_transformer(str(model_dir))
    with pytest.raises(ValueError, match="NaN or infinite"):
        push_model(load(model_dir), "user/diverged", dry_run=True, local_dir=tmp_path / "card")


def test_a_max_length_the_special_tokens_fill_is_refused_before_the_run(tiny_dir, tmp_path, capsys):
    data = tmp_path / "pairs.tsv"
    data.write_text("english\ttarget\tlanguage\n" + "".join(
        f"{e}\t{t}\tnpi_Deva\n" for e, t in zip(ENGLISH, TARGET, strict=True)), encoding="utf-8")  # fmt: skip
    argv = ["train", "--teacher", str(tiny_dir), "--bitext", str(data), "--steps", "1", "--max-length", "2",
            "--output-dir", str(tmp_path / "run"), "--no-progress"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "optical-st train: error: max_length 2 (--max-length) leaves no token of text: the student's "
        "tokenizer adds 2 special tokens to every input; use at least 3 (e.g. the default 128)"
    )
    assert not (tmp_path / "run").exists()


def test_a_reg_schedule_the_loss_refuses_is_refused_before_training(tiny_dir, tmp_path):
    from optical_st.callbacks import OTDistillCallback, Schedule
    from optical_st.losses import OTDistillLoss

    with pytest.raises(ValueError, match="reg must stay positive"):
        DistillationRecipe(schedules={"reg": Schedule(0.5, 0.0)})
    with pytest.raises(ValueError, match="reg must stay positive"):
        OTDistillCallback(
            OTDistillLoss(load(tiny_dir), load(tiny_dir)), schedules={"reg": Schedule(0.5, -1.0)}
        )
    DistillationRecipe(schedules={"reg": Schedule(0.5, 0.1, "cosine"), "ot_weight": Schedule(1.0, 0.0)})


@pytest.mark.parametrize(("change", "message"), [
    ({"loss": "mse", "reg": None}, "trained with loss='ot', this run asks for loss='mse'"),
    ({"lr": 1e-3}, "trained with lr=2e-05, this run asks for lr=0.001"),
    ({"batch_size": 2}, "trained with batch_size=4, this run asks for batch_size=2"),
])  # fmt: skip
def test_resuming_with_another_objective_or_optimisation_is_refused(tiny_dir, tmp_path, change, message):
    common = {"batch_size": 4, "save_steps": 1, "show_progress_bar": False, **FAST_OT}
    distill(
        load(tiny_dir), load(tiny_dir), bitext(), DistillationRecipe(steps=1, **common), output_dir=tmp_path
    )
    record = (tmp_path / "training_run.json").read_bytes()
    with pytest.raises(ValueError, match=message):
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(steps=2, resume_from_checkpoint=True, **{**common, **change}),
                output_dir=tmp_path)  # fmt: skip
    assert (tmp_path / "training_run.json").read_bytes() == record


def test_overwrite_keeps_the_finished_run_until_the_new_one_finishes_even_after_its_checkpoints(
    tiny_dir, tmp_path
):
    before = finished_run(tiny_dir, tmp_path)
    common = {"batch_size": 4, "save_steps": 1, "show_progress_bar": False, **FAST_OT}
    with pytest.raises(RuntimeError, match="simulated crash"):
        distill(load(tiny_dir), load(tiny_dir), bitext(), DistillationRecipe(steps=3, overwrite=True, **common),
                output_dir=tmp_path, callbacks=[FailAt(3)])  # fmt: skip
    kept = {p.relative_to(tmp_path / "previous-run"): p.read_bytes()
            for p in (tmp_path / "previous-run").rglob("*") if p.is_file()}  # fmt: skip
    assert kept == before  # the finished run, whole
    assert json.loads((tmp_path / "training_run.json").read_text())["status"] == "failed"
    assert (tmp_path / "checkpoints" / "checkpoint-2").is_dir() and not (tmp_path / "final").exists()
    # resuming the new run to its end replaces the old one at last
    distill(load(tiny_dir), load(tiny_dir), bitext(),
            DistillationRecipe(steps=3, resume_from_checkpoint=True, **common), output_dir=tmp_path)  # fmt: skip
    assert not (tmp_path / "previous-run").exists() and (tmp_path / "final" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "training_run.json").read_text())["status"] == "done"


def test_a_second_run_into_a_locked_output_dir_is_refused_and_changes_nothing(tiny_dir, tmp_path):
    import fcntl
    import os

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    other = os.open(
        run_dir, os.O_RDONLY
    )  # another run holds the folder (flock: per open file, as across processes)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(OutputDirectoryInUseError, match="is in use by another training run"):
            distill(load(tiny_dir), load(tiny_dir), bitext(),
                    DistillationRecipe(steps=1, batch_size=4, save_steps=0, show_progress_bar=False, **FAST_OT),
                    output_dir=run_dir)  # fmt: skip
        assert not any(run_dir.iterdir())
    finally:
        os.close(other)
    # released: the run goes ahead, and a refused run into a new folder leaves no folder behind
    distill(load(tiny_dir), load(tiny_dir), bitext(),
            DistillationRecipe(steps=1, batch_size=4, save_steps=0, show_progress_bar=False, **FAST_OT),
            output_dir=run_dir)  # fmt: skip
    with pytest.raises(ValueError, match="no training pairs left"):
        distill(load(tiny_dir), load(tiny_dir), bitext(), DistillationRecipe(steps=1),
                output_dir=tmp_path / "new", exclude_texts=set(ENGLISH))  # fmt: skip
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("tear", ["truncated weights", "no trainer state"])
def test_a_torn_last_checkpoint_resumes_from_the_newest_complete_one(tiny_dir, tmp_path, caplog, tear):
    common = {"batch_size": 4, "save_steps": 1, "show_progress_bar": False, **FAST_OT}
    distill(
        load(tiny_dir), load(tiny_dir), bitext(), DistillationRecipe(steps=2, **common), output_dir=tmp_path
    )
    last = tmp_path / "checkpoints" / "checkpoint-2"
    if tear == "truncated weights":  # a full disk mid-save
        weights_file = last / "model.safetensors"
        weights_file.write_bytes(weights_file.read_bytes()[:5000])
    else:  # kill -9 before transformers wrote the state, its last file
        (last / "trainer_state.json").unlink()
    steps = []

    class StepCounter(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            steps.append(state.global_step)

    distill(load(tiny_dir), load(tiny_dir), bitext(),
            DistillationRecipe(steps=3, resume_from_checkpoint=True, **common),
            output_dir=tmp_path, callbacks=[StepCounter()])  # fmt: skip
    assert steps == [2, 3]  # continued after checkpoint-1
    assert "resuming from checkpoint-1: checkpoint-2" in caplog.text
    with pytest.raises(FileNotFoundError, match="no complete checkpoint to resume"):
        for checkpoint in (tmp_path / "checkpoints").glob("checkpoint-*"):
            (checkpoint / "trainer_state.json").unlink(missing_ok=True)
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(steps=4, resume_from_checkpoint=True, **common), output_dir=tmp_path)  # fmt: skip


def test_a_metric_the_evaluation_does_not_compute_is_refused_before_training(tiny_dir, tmp_path, capsys):
    from optical_st.data import sentence_retrieval_benchmark

    data = tmp_path / "pairs.tsv"
    data.write_text("english\ttarget\tlanguage\n" + "".join(
        f"{e}\t{t}\tnpi_Deva\n" for e, t in zip(ENGLISH, TARGET, strict=True)), encoding="utf-8")  # fmt: skip
    bench = sentence_retrieval_benchmark(bitext(n=4)).save(tmp_path / "bench")
    argv = ["train", "--teacher", str(tiny_dir), "--bitext", str(data), "--steps", "1", "--eval-benchmark",
            str(bench), "--eval-k", "1,2", "--keep-eval-overlap", "--metric", "recall@7",
            "--output-dir", str(tmp_path / "run"), "--no-progress"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("optical-st train: error: --metric recall@7: the evaluation computes no "
                              "'clir_recall@7'; choose one of macro_recall@1, macro_recall@2, ")  # fmt: skip
    assert not (tmp_path / "run").exists()


def test_train_with_evaluation_warns_about_no_renamed_sentence_transformers_method(
    tiny_dir, tmp_path, capsys
):
    import warnings

    from optical_st.data import sentence_retrieval_benchmark
    from optical_st.search import encode_texts

    data = tmp_path / "pairs.tsv"
    data.write_text("english\ttarget\tlanguage\n" + "".join(
        f"{e}\t{t}\tnpi_Deva\n" for e, t in zip(ENGLISH, TARGET, strict=True)), encoding="utf-8")  # fmt: skip
    bench = sentence_retrieval_benchmark(bitext(n=4)).save(tmp_path / "bench")
    argv = ["train", "--teacher", str(tiny_dir), "--bitext", str(data), "--steps", "1", "--batch-size", "4",
            "--reg", "0.5", "--eval-benchmark", str(bench), "--eval-k", "1", "--keep-eval-overlap",
            "--eval-english-encoder", "teacher", "--save-steps", "0", "--output-dir", str(tmp_path / "run"),
            "--no-progress"]  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(argv) == 0
        assert encode_texts(load(tiny_dir), [], role="query").shape == (0, 32)
    assert not [w for w in caught if "get_sentence_embedding_dimension" in str(w.message)]


def test_sigterm_during_training_records_interrupted_not_running(tiny_dir, tmp_path, capsys):
    import os
    import signal

    class TermAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 1:
                os.kill(os.getpid(), signal.SIGTERM)

    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match="terminated by SIGTERM"):
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(steps=3, batch_size=4, save_steps=0, show_progress_bar=False, **FAST_OT),
                output_dir=tmp_path, callbacks=[TermAt()])  # fmt: skip
    run = json.loads((tmp_path / "training_run.json").read_text())
    assert run["status"] == "interrupted" and run["error"] == "RunTerminated: terminated by SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is handler  # put back after the run


def test_a_prompt_that_looks_like_an_unknown_prompt_name_is_warned_about(tiny_dir, tmp_path, caplog):
    student, teacher = load(tiny_dir), load(tiny_dir)
    student.prompts = {"query": "query: "}
    for prompt, warned in (("querry", True), ("query", False), ("Represent this: ", False)):
        caplog.clear()
        distill(student, teacher, bitext(),
                DistillationRecipe(loss="mse", steps=1, batch_size=4, save_steps=0, show_progress_bar=False,
                                   prompt=prompt),
                output_dir=tmp_path / prompt.replace(" ", "_"))  # fmt: skip
        expected = "--prompt 'querry' is no prompt name of the models (they have: document, query)"
        assert (expected in caplog.text) is warned


def test_a_huge_line_is_cut_before_tokenizing_with_a_warning(tiny_dir, tmp_path, caplog):
    data = bitext()
    huge = "नेपाल " * 100_000  # 600,000 characters on one line
    data = Dataset.from_dict({**data.to_dict(), "target": [huge, *data["target"][1:]]})
    distill(load(tiny_dir), load(tiny_dir), data,
            DistillationRecipe(loss="mse", steps=1, batch_size=4, save_steps=0, show_progress_bar=False),
            output_dir=tmp_path)  # fmt: skip
    assert ("1 training pair(s) have a side longer than 20000 characters (the longest 600000, first at id '0'): "
            "cut to 20000 characters before tokenizing") in caplog.text  # fmt: skip
    assert json.loads((tmp_path / "training_run.json").read_text())["pairs"]["cut_to_max_chars"] == 1


def test_a_divergence_between_checks_is_caught_before_final_is_saved(tiny_dir, tmp_path):
    with pytest.raises(RuntimeError, match="training diverged by step 3"):  # steps 2-3 neither log nor save
        distill(load(tiny_dir), load(tiny_dir), bitext(),
                DistillationRecipe(loss="mse", steps=3, batch_size=4, lr=1e30, save_steps=0, logging_steps=50,
                                   show_progress_bar=False),
                output_dir=tmp_path)  # fmt: skip
    assert not (tmp_path / "final").exists()
    assert json.loads((tmp_path / "training_run.json").read_text())["status"] == "failed"


def test_finite_half_precision_weights_are_not_taken_for_a_diverged_model():
    from optical_st._weights import NonFiniteWeightsError, check_finite_weights

    layer = torch.nn.Linear(300, 300).half()
    with torch.no_grad():
        layer.weight.fill_(1.0)  # sums to 90,000: beyond float16's 65,504, yet every weight is finite
    check_finite_weights(layer, "half")
    with torch.no_grad():
        layer.bias[3] = float("inf")
    with pytest.raises(
        NonFiniteWeightsError, match=r"half: 1 of 90,300 weights \(0%\) are NaN or infinite \(first: bias\)"
    ):
        check_finite_weights(layer, "half")
