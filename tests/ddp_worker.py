"""One process of the data-parallel test: ``optical-st train`` as torchrun starts it, with a record.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/ddp_worker.py REPORT_DIR train ARGS...

runs ``optical_st.cli.main(["train", ARGS...])`` in each process, exactly as
``torchrun --standalone --nproc_per_node 2 -m optical_st.cli train ARGS...`` does, and writes what
this process did to ``REPORT_DIR/rank<R>.json`` (and its final student weights to
``REPORT_DIR/weights<R>.pt``): the training texts of every batch it encoded, the evaluations it
ran, the pushes it made, and what became of the teacher. Nothing in the training path is replaced; the spies only record and pass on
(the push is the one exception: it records instead of reaching a Hub).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator

import optical_st.hub
import optical_st.training
from optical_st.cli import main
from optical_st.evaluation import CLIREvaluator

report_dir, argv = Path(sys.argv[1]), sys.argv[2:]
rank = int(os.environ["RANK"])
record: dict = {"rank": rank, "world_size": int(os.environ["WORLD_SIZE"]), "batches": [], "evaluations": 0,
                "pushes": []}  # fmt: skip


def weights(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in model.parameters()])


collate = SentenceTransformerDataCollator.__call__


def recording_collate(self, features):
    record["batches"].append(sorted(feature["target"] for feature in features))
    return collate(self, features)


SentenceTransformerDataCollator.__call__ = recording_collate

evaluate = CLIREvaluator.__call__


def recording_evaluate(self, model, *args, **kwargs):
    record["evaluations"] += 1
    return evaluate(self, model, *args, **kwargs)


CLIREvaluator.__call__ = recording_evaluate


def recording_push(model_or_dir, repo_id, **kwargs):
    record["pushes"].append({"path": str(model_or_dir), "repo_id": repo_id})
    return f"pushed {repo_id}"


optical_st.hub.push_model = recording_push  # OTDistillCallback imports it when it pushes

build_loss, distill = optical_st.training.build_loss, optical_st.training.distill
losses = []


def spying_build_loss(*args, **kwargs):
    losses.append(build_loss(*args, **kwargs))
    return losses[-1]


def spying_distill(student, teacher, *args, **kwargs):
    before = weights(teacher)
    try:
        return distill(student, teacher, *args, **kwargs)
    finally:
        loss = losses[-1]
        record["teacher"] = {
            "unchanged": bool(torch.equal(weights(teacher), before)),
            "requires_grad": any(p.requires_grad for p in teacher.parameters()),
            "is_the_loss_teacher": loss.teacher is teacher,
            "wrapped": type(loss.teacher).__name__ != "SentenceTransformer"
            or any(type(m).__name__ == "DistributedDataParallel" for m in teacher.modules()),
        }
        record["student_in_loss"] = type(loss.model).__name__
        torch.save(weights(student), report_dir / f"weights{rank}.pt")


optical_st.training._trainer.build_loss = spying_build_loss  # the trainer builder looks it up in its module
optical_st.training.distill = spying_distill  # commands/train.py imports it when it runs

try:
    record["exit_code"] = main(argv)
finally:
    (report_dir / f"rank{rank}.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
sys.exit(record["exit_code"])
