"""Data-parallel training on CPU: ``optical-st train`` in 2 processes (torchrun, gloo) on a tiny model.

The launch is the one docs/training.md documents (``torchrun --standalone --nproc_per_node 2 -m
optical_st.cli train ...``), through ``tests/ddp_worker.py``, which records what each process did. Checked: one
optimizer step sees the union of both processes' batches (the weights equal those of one process
training on batches twice as large), both processes end with identical weights, only the main
process evaluates, writes ``best/`` and pushes, the run record states the true world size and pair
counts, and the teacher stays frozen and outside the distributed wrapper.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from tiny_models import make_tiny_model

from optical_st.data import sentence_retrieval_benchmark
from optical_st.training import DistillationRecipe, distill

WORKER = Path(__file__).with_name("ddp_worker.py")
ENGLISH = ["the cat sat on the mat", "a dog runs in the park", "retrieval across languages needs alignment",
           "the park is green", "a cat and a dog", "the mat is red", "a green park", "the dog sat",
           "red cats", "languages and retrieval"]  # fmt: skip
TARGET = ["नेपाल एक सुन्दर देश हो", "ශ්‍රී ලංකාව දූපතකි", "यह एक परीक्षण वाक्य है", "नेपाल देश", "ලංකාව",
          "सुन्दर देश", "एक देश", "परीक्षण", "वाक्य हो", "सुन्दर नेपाल"]  # fmt: skip
STEPS, BATCH, PROCESSES = 2, 2, 2

pytestmark = pytest.mark.slow  # two launches of two interpreters (torch + sentence-transformers): ~25 s


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A tiny model (tiny/model), 10 Nepali pairs (pairs.tsv) and a held-out benchmark (bench)."""
    root = tmp_path_factory.mktemp("ddp")
    # no dropout: the comparison with a single process must not depend on random masks
    make_tiny_model(root / "tiny", [*ENGLISH, *TARGET], dropout=0.0)
    (root / "pairs.tsv").write_text("english\ttarget\tlanguage\n" + "".join(
        f"{e}\t{t}\tnpi_Deva\n" for e, t in zip(ENGLISH, TARGET, strict=True)), encoding="utf-8")  # fmt: skip
    held_out = Dataset.from_dict({
        "id": ["0", "1", "2"], "language": ["npi_Deva"] * 3, "english": ["a new sentence", "another one", "more"],
        "target": ["नयाँ वाक्य", "अर्को", "थप"], "doc_id": [""] * 3, "source": ["held-out"] * 3,
    })  # fmt: skip
    sentence_retrieval_benchmark(held_out).save(root / "bench")
    return root


def launch(root: Path, name: str, *train_args: str) -> tuple[Path, dict, subprocess.CompletedProcess]:
    """``optical-st train`` in 2 processes; returns (run folder, per-rank records, torchrun result)."""
    reports = root / f"reports-{name}"
    reports.mkdir()
    command = [
        # --standalone: a local rendezvous on a free port (tests running side by side do not collide)
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(PROCESSES),
        str(WORKER), str(reports), "train", "--teacher", str(root / "tiny" / "model"),
        "--bitext", str(root / "pairs.tsv"), "--loss", "ot", "--reg", "0.5", "--batch-size", str(BATCH),
        "--lr", "1e-3", "--output-dir", str(root / name), "--no-progress", *train_args,
    ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    # its own session, so that a hang is ended with every worker, not just torchrun
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
                               start_new_session=True)  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    records = {}
    for rank in range(PROCESSES):
        path = reports / f"rank{rank}.json"
        records[rank] = json.loads(path.read_text()) if path.is_file() else None
        if (reports / f"weights{rank}.pt").is_file():
            records[rank]["weights"] = torch.load(reports / f"weights{rank}.pt")
    return root / name, records, subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def launched(inputs):
    """Steps, evaluation every step, a checkpoint every step, a push of every new best."""
    return launch(
        inputs, "run", "--steps", str(STEPS), "--eval-benchmark", str(inputs / "bench"), "--eval-k", "1,2",
        "--eval-steps", "1", "--metric", "macro_recall@2", "--save-steps", "1", "--push-to-hub", "user/tiny-ddp",
    )  # fmt: skip


def test_both_processes_train_and_exit_cleanly(launched):
    _, records, result = launched
    assert result.returncode == 0, result.stderr[-3000:]
    assert all(records[rank]["exit_code"] == 0 and records[rank]["world_size"] == 2 for rank in records)


def test_each_step_trains_on_the_union_of_both_shards(inputs, launched):
    root, (_, records, _) = inputs, launched
    per_rank = [records[rank]["batches"] for rank in range(PROCESSES)]
    assert all(len(batches) == STEPS for batches in per_rank)
    seen = []
    for step in range(STEPS):
        first, second = per_rank[0][step], per_rank[1][step]
        assert len(first) == len(second) == BATCH and not set(first) & set(second)  # two different shards
        seen += first + second
    assert len(set(seen)) == STEPS * BATCH * PROCESSES  # every pair once

    # One process with batches twice as large (the union) ends with the same weights: the gradients
    # were averaged across the processes before every optimizer step.
    student = SentenceTransformer(str(root / "tiny" / "model"), device="cpu")
    teacher = SentenceTransformer(str(root / "tiny" / "model"), device="cpu")
    bitext = Dataset.from_dict(
        {"english": ENGLISH, "target": TARGET, "language": ["npi_Deva"] * len(ENGLISH)}
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the two processes
    try:
        distill(student, teacher, bitext,
                DistillationRecipe(loss="ot", reg=0.5, steps=STEPS, batch_size=BATCH * PROCESSES, lr=1e-3,
                                   save_steps=0, show_progress_bar=False),
                output_dir=root / "single")  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    single = torch.cat([p.detach().flatten() for p in student.parameters()])
    distributed = records[0]["weights"]
    initial = torch.cat([p.detach().flatten() for p in teacher.parameters()])
    moved = (distributed - initial).abs().max()  # about 2 x lr: Adam's first steps are about lr each
    # Within float rounding of one large batch: the Sinkhorn solves of a 4-pair batch and of two 2-pair
    # batches stop after different iteration counts, and Adam turns the tiny gradient differences of
    # near-zero gradients into update differences (1.5e-5 observed, at most a few elements). Without
    # the all-reduce each process would follow its own shard and differ by about lr almost everywhere.
    assert moved > 1e-3
    assert (distributed - single).abs().max() < 0.05 * moved


def test_both_processes_hold_identical_weights(launched):
    _, records, _ = launched
    assert torch.equal(records[0]["weights"], records[1]["weights"])


def test_only_the_main_process_evaluates_saves_best_and_pushes(launched):
    run, records, _ = launched
    assert records[0]["evaluations"] == STEPS and records[1]["evaluations"] == 0
    assert len(records[0]["pushes"]) >= 1 and records[1]["pushes"] == []
    assert all(push["path"].endswith("best") for push in records[0]["pushes"])
    best = run / "best"
    assert (best / "model.safetensors").is_file() and (best / "optical_st_best.json").is_file()
    assert not (run / "best.partial").exists() and not (run / "best.previous").exists()
    assert SentenceTransformer(str(best), device="cpu").encode(["नेपाल"]).shape == (1, 32)


def test_the_run_record_states_world_size_and_pair_counts(launched):
    folder, _, _ = launched
    run = json.loads((folder / "training_run.json").read_text())
    assert run["status"] == "done" and run["global_step"] == STEPS and run["world_size"] == PROCESSES
    assert run["pairs"]["kept"] == len(ENGLISH) and run["pairs"]["used"] == STEPS * BATCH * PROCESSES
    assert run["best"]["step"] in (1, 2) and run["push_errors"] == []
    card = json.loads((folder / "final" / "optical_st_run.json").read_text())["training_info"]
    assert card["hyperparameters"]["world_size"] == PROCESSES
    assert sum(entry["pairs"] for entry in card["bitext"]) == STEPS * BATCH * PROCESSES


def test_the_teacher_stays_frozen_and_unwrapped(launched):
    _, records, _ = launched
    for rank in range(PROCESSES):
        teacher = records[rank]["teacher"]
        assert teacher == {
            "unchanged": True,
            "requires_grad": False,
            "is_the_loss_teacher": True,
            "wrapped": False,
        }
        assert records[rank]["student_in_loss"] == "DistributedDataParallel"  # the student is


def test_with_epochs_an_uneven_remainder_is_left_out_and_counted(inputs):
    # 10 pairs, 2 pairs x 2 processes per step: 8 are trained (2 steps), 2 left out up front
    folder, records, result = launch(inputs, "epochs", "--epochs", "1", "--save-steps", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    run = json.loads((folder / "training_run.json").read_text())
    assert run["status"] == "done" and run["global_step"] == 2 and run["world_size"] == PROCESSES
    assert run["pairs"]["kept"] == 10 and run["pairs"]["used"] == 8 and run["pairs"]["uneven_remainder"] == 2
    seen = [text for rank in range(PROCESSES) for batch in records[rank]["batches"] for text in batch]
    assert len(seen) == len(set(seen)) == 8  # each used pair once, none repeated to even out a shard
    assert torch.equal(records[0]["weights"], records[1]["weights"])
