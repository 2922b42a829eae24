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
from optical_st.training import distill

WORKER = Path(__file__).with_name("ddp_worker.py")
ENGLISH = ["the cat sat on the mat", "a dog runs in the park", "retrieval across languages needs alignment",
           "the park is green", "a cat and a dog", "the mat is red", "a green park", "the dog sat",
           "red cats", "languages and retrieval"]  # fmt: skip
TARGET = ["नेपाल एक सुन्दर देश हो", "ශ්‍රී ලංකාව දූපතකි", "यह एक परीक्षण वाक्य है", "नेपाल देश", "ලංකාව",
          "सुन्दर देश", "एक देश", "परीक्षण", "वाक्य हो", "सुन्दर नेपाल"]  # fmt: skip
STEPS, BATCH, PROCESSES = 2, 2, 2

pytestmark = pytest.mark.slow  # two interpreters importing torch + sentence-transformers: about 30 s


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    """Run the 2-process training once; return (directory, per-rank records, torchrun result)."""
    root = tmp_path_factory.mktemp("ddp")
    # no dropout: the comparison with a single process must not depend on random masks
    make_tiny_model(root / "tiny", [*ENGLISH, *TARGET], dropout=0.0)
    pairs = root / "pairs.tsv"
    pairs.write_text("english\ttarget\tlanguage\n" + "".join(
        f"{e}\t{t}\tnpi_Deva\n" for e, t in zip(ENGLISH, TARGET, strict=True)), encoding="utf-8")  # fmt: skip
    held_out = Dataset.from_dict({
        "id": ["0", "1", "2"], "language": ["npi_Deva"] * 3, "english": ["a new sentence", "another one", "more"],
        "target": ["नयाँ वाक्य", "अर्को", "थप"], "doc_id": [""] * 3, "source": ["held-out"] * 3,
    })  # fmt: skip
    benchmark = sentence_retrieval_benchmark(held_out).save(root / "bench")
    reports = root / "reports"
    reports.mkdir()
    command = [
        # --standalone: a local rendezvous on a free port (tests running side by side do not collide)
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(PROCESSES),
        str(WORKER), str(reports),
        "train", "--teacher", str(root / "tiny" / "model"), "--bitext", str(pairs), "--loss", "ot", "--reg", "0.5",
        "--steps", str(STEPS), "--batch-size", str(BATCH), "--lr", "1e-3", "--eval-benchmark", str(benchmark),
        "--eval-k", "1,2", "--eval-steps", "1", "--metric", "macro_recall@2", "--save-steps", "1",
        "--push-to-hub", "user/tiny-ddp", "--output-dir", str(root / "run"), "--no-progress",
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
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    records = {}
    for rank in range(PROCESSES):
        path = reports / f"rank{rank}.json"
        records[rank] = json.loads(path.read_text()) if path.is_file() else None
    return root, records, result


def test_both_processes_train_and_exit_cleanly(launched):
    _, records, result = launched
    assert result.returncode == 0, result.stderr[-3000:]
    assert all(records[rank]["exit_code"] == 0 and records[rank]["world_size"] == 2 for rank in records)


def test_each_step_trains_on_the_union_of_both_shards(launched):
    root, records, _ = launched
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
        distill(student, teacher, bitext, loss="ot", reg=0.5, steps=STEPS, batch_size=BATCH * PROCESSES, lr=1e-3,
                output_dir=root / "single", save_steps=0, show_progress_bar=False)  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    single = torch.cat([p.detach().flatten() for p in student.parameters()])
    distributed = torch.load(root / "reports" / "weights0.pt")
    initial = torch.cat([p.detach().flatten() for p in teacher.parameters()])
    assert not torch.allclose(distributed, initial)  # training moved the weights ...
    torch.testing.assert_close(distributed, single, rtol=1e-4, atol=1e-6)  # ... as one large batch does


def test_both_processes_hold_identical_weights(launched):
    root, _, _ = launched
    assert torch.equal(
        torch.load(root / "reports" / "weights0.pt"), torch.load(root / "reports" / "weights1.pt")
    )


def test_only_the_main_process_evaluates_saves_best_and_pushes(launched):
    root, records, _ = launched
    assert records[0]["evaluations"] == STEPS and records[1]["evaluations"] == 0
    assert len(records[0]["pushes"]) >= 1 and records[1]["pushes"] == []
    assert all(push["path"].endswith("best") for push in records[0]["pushes"])
    best = root / "run" / "best"
    assert (best / "model.safetensors").is_file() and (best / "optical_st_best.json").is_file()
    assert not (root / "run" / "best.partial").exists() and not (root / "run" / "best.previous").exists()
    assert SentenceTransformer(str(best), device="cpu").encode(["नेपाल"]).shape == (1, 32)


def test_the_run_record_states_world_size_and_pair_counts(launched):
    root, _, _ = launched
    run = json.loads((root / "run" / "training_run.json").read_text())
    assert run["status"] == "done" and run["global_step"] == STEPS and run["world_size"] == PROCESSES
    assert run["pairs"]["kept"] == len(ENGLISH) and run["pairs"]["used"] == STEPS * BATCH * PROCESSES
    assert run["best"]["step"] in (1, 2) and run["push_errors"] == []
    card = json.loads((root / "run" / "final" / "optical_st_run.json").read_text())["training_info"]
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
