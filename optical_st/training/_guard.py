"""The divergence guard: a run whose loss or weights stop being finite fails, and saves nothing after that.

Without it a run with a far too large learning rate ended ``done`` with NaN weights in ``final/`` and
``best/`` (transformers replaces a NaN loss in the logs by the running mean, so the log said 0).
The guard runs first among the trainer's callbacks, so no evaluation, ``best/`` or checkpoint follows a
diverged step; the checkpoints and ``best/`` saved before stay as they are.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from optical_st._weights import non_finite_weights


class TrainingDivergedError(RuntimeError):
    """The loss or the student's weights became NaN or infinite."""


def _trainable_weights_finite(model: Any) -> bool:
    # only trainable parameters change; a frozen embedding matrix (96 M values in e5-small) is not re-read
    with torch.no_grad():
        return all(bool(torch.isfinite(p).all()) for p in model.parameters() if p.requires_grad)


def _last_checkpoint(checkpoints_dir: str | Path) -> str:
    found = sorted(Path(checkpoints_dir).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(found[-1]) if found else "none saved yet"


class DivergenceGuard(TrainerCallback):
    """Stop the run with :class:`TrainingDivergedError` at the first step with a non-finite loss or weight."""

    def _fail(self, args: Any, step: int, what: str) -> None:
        raise TrainingDivergedError(
            f"training diverged at step {step}: {what}; nothing was saved from this step on (last checkpoint: "
            f"{_last_checkpoint(args.output_dir)}); try a smaller --lr"
        )

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if model is not None and not _trainable_weights_finite(model):
            bad, total, names = non_finite_weights(model)
            self._fail(args, state.global_step,
                       f"{bad / max(total, 1):.0%} of the student's weights are NaN or infinite (first: {names[0]})")  # fmt: skip
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._fail(args, state.global_step, f"the training loss is {loss}")
        return control
