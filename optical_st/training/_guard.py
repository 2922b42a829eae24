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

from transformers import TrainerCallback

from optical_st._weights import non_finite_summary, weights_finite


class TrainingDivergedError(RuntimeError):
    """The loss or the student's weights became NaN or infinite."""


def _every(step: int, interval: Any) -> bool:
    return bool(interval) and interval >= 1 and step % int(interval) == 0


def _last_checkpoint(checkpoints_dir: str | Path) -> str:
    found = sorted(Path(checkpoints_dir).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(found[-1]) if found else "none saved yet"


class DivergenceGuard(TrainerCallback):
    """Stop the run with :class:`TrainingDivergedError` at the first step with a non-finite loss or weight.

    The weights are checked at every step that logs, saves a checkpoint, evaluates (``eval_steps``) or ends
    the run (not at every step: that re-reads every weight, 117 M values in e5-small), so nothing is saved,
    measured or reported from a diverged student; a non-finite logged loss fails the run too.
    """

    def __init__(self, eval_steps: int | None = None) -> None:
        self.eval_steps = eval_steps

    def _fail(self, args: Any, step: int, what: str) -> None:
        raise TrainingDivergedError(
            f"training diverged by step {step}: {what}; nothing was saved from this step on (last checkpoint: "
            f"{_last_checkpoint(args.output_dir)}); try a smaller --lr"
        )

    def on_step_end(self, args, state, control, model=None, **kwargs):
        step = state.global_step
        due = step >= state.max_steps or any(
            _every(step, interval) for interval in (args.logging_steps, args.save_steps, self.eval_steps)
        )
        if due and model is not None and not weights_finite(model, trainable_only=True):
            self._fail(args, step, f"the student's {non_finite_summary(model)}")
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._fail(args, state.global_step, f"the training loss is {loss}")
        return control
