"""``OTDistillCallback``: OT diagnostics, schedules, periodic CLIR evaluation and best-checkpoint push.

A :class:`transformers.TrainerCallback` for :class:`~sentence_transformers.SentenceTransformerTrainer`
running :class:`optical_st.losses.OTDistillLoss`. It knows the loss only through the attributes the
loss contract publishes (``reg``, ``ot_weight``, ``sentence_weight`` and ``last_stats``), so it works
with any loss that exposes them (attributes a loss lacks are simply not scheduled or logged).

What it does, every training step:

* **Schedules.** :class:`Schedule` objects move a loss attribute (e.g. the Sinkhorn regularisation
  ``reg``, or the OT vs sentence weights) from a start to an end value over the run, linearly or
  along a half cosine. The value is set before the step's forward pass.
* **OT diagnostics.** ``loss.last_stats`` (transport cost, plan entropy, marginal error, plan
  sharpness, ...) is averaged over the logging window and added to the trainer's ``logs`` under
  ``ot/<name>``, together with the current scheduled values, so TensorBoard, W&B, the progress bar
  and ``trainer.state.log_history`` all see them.
* **CLIR evaluation and the best checkpoint.** Every ``eval_steps`` steps (and at the end of
  training) the evaluator (e.g. :class:`optical_st.evaluation.CLIREvaluator`) runs on the student;
  its metrics are logged with an ``eval_`` prefix. When ``metric`` improves the student is saved to
  ``<output_dir>/best`` (written to a temporary folder and renamed, so an interruption never leaves a
  half-written best model), with ``optical_st_best.json`` describing step and metrics.
* **Push.** Optionally the new best checkpoint is then pushed (``push_fn``, by default
  :func:`optical_st.hub.push_model`). The local save always happens first; a failing push is logged,
  recorded in :attr:`OTDistillCallback.push_errors` and training continues.

Logging order: transformers calls callbacks in registration order, and reporting callbacks
(TensorBoard, W&B) are registered before user callbacks. Call :meth:`OTDistillCallback.attach` (or
:func:`optical_st.training.distill`, which does) so this callback runs first and the reporters see the
``ot/*`` values; added with ``callbacks=[...]`` it still fills ``trainer.state.log_history``.

``SentenceTransformer.fit`` builds its trainer internally and accepts no ``TrainerCallback``; use
:class:`~sentence_transformers.SentenceTransformerTrainer` (which ``fit`` wraps) with this callback.

Example:
    ::

        from sentence_transformers import SentenceTransformerTrainer
        from optical_st.callbacks import OTDistillCallback, Schedule
        from optical_st.losses import OTDistillLoss

        loss = OTDistillLoss(student, teacher, reg=0.1)
        callback = OTDistillCallback(
            loss,
            schedules={"reg": Schedule(0.1, 0.02, "cosine")},
            evaluator=evaluator,                      # an optical_st.evaluation.CLIREvaluator
            eval_steps=100,
            metric="clir_low_macro_recall@10",
            output_dir="runs/npi",
        )
        trainer = SentenceTransformerTrainer(model=student, train_dataset=bitext, loss=loss)
        callback.attach(trainer)
        trainer.train()
        print(callback.best_metric, callback.best_path)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from optical_st._weights import check_finite_weights
from optical_st.hub import TrainingInfo
from optical_st.training._schedule import Schedule, check_schedule

logger = logging.getLogger(__name__)

BEST_DIRNAME = "best"
BEST_INFO_FILE = "optical_st_best.json"
LOG_PREFIX = "ot/"


class OTDistillCallback(TrainerCallback):
    """Trainer callback for OT distillation: diagnostics, schedules, CLIR evaluation, best checkpoint.

    Args:
        loss: the training loss (an :class:`~optical_st.losses.OTDistillLoss`, or any module with the
            attributes being scheduled / a ``last_stats`` dict). ``None`` disables schedules and
            diagnostics (evaluation and best checkpoint still work, e.g. for an MSE baseline).
        schedules: loss attribute name -> :class:`Schedule`, e.g.
            ``{"reg": Schedule(0.1, 0.02, "cosine"), "sentence_weight": Schedule(0.0, 1.0)}``.
        evaluator: called as ``evaluator(model)``, returning a flat ``dict[str, float]`` (the
            sentence-transformers evaluator convention; :class:`~optical_st.evaluation.CLIREvaluator`).
        eval_steps: evaluate every this many optimizer steps (``None``: only at the end of training).
        metric: key of the evaluator's result that selects the best checkpoint, e.g.
            ``"clir_low_macro_recall@10"``. Required when an evaluator is given.
        greater_is_better: whether a larger ``metric`` is better.
        output_dir: where ``best/`` is written. Required when an evaluator is given.
        evaluate_at_end: also evaluate after the last step (if that step was not just evaluated).
        hub_model_id: if set, each new best checkpoint is pushed there after it is saved locally.
        push_fn: ``push_fn(local_dir, repo_id)`` doing the push; defaults to
            :func:`optical_st.hub.push_model` (``exist_ok=True``, so later bests add commits).
            Exceptions from it are caught, logged and recorded.
        run_info: training facts (:class:`optical_st.hub.TrainingInfo`, or its dict) written with the
            evaluator's result rows into ``best/`` by :func:`optical_st.hub.save_run_info`, so the pushed
            model card describes the run.

    Attributes:
        best_metric, best_step, best_path: the best checkpoint so far (``None`` before any evaluation).
        evaluations: list of ``{"step": int, "metrics": dict}``, one per evaluation.
        push_errors: list of ``{"step": int, "error": str}`` for failed pushes.
        unconverged_steps: steps whose Sinkhorn solve stopped at its iteration cap
            (``loss.last_stats["sinkhorn_unconverged"]``).
        pushed: list of ``{"step": int, "result": str}`` for successful pushes.
    """

    def __init__(
        self,
        loss: Any = None,
        *,
        schedules: Mapping[str, Schedule] | None = None,
        evaluator: Callable[[Any], Mapping[str, float]] | None = None,
        eval_steps: int | None = None,
        metric: str | None = None,
        greater_is_better: bool = True,
        output_dir: str | Path | None = None,
        evaluate_at_end: bool = True,
        hub_model_id: str | None = None,
        push_fn: Callable[..., Any] | None = None,
        run_info: TrainingInfo | Mapping[str, Any] | None = None,
    ) -> None:
        self.loss = loss
        self.schedules = dict(schedules or {})
        for name in self.schedules:
            if loss is None or not hasattr(loss, name):
                raise ValueError(
                    f"cannot schedule {name!r}: the loss {type(loss).__name__} has no such attribute"
                )
            check_schedule(name, self.schedules[name])
        if eval_steps is not None and eval_steps <= 0:
            raise ValueError(f"eval_steps must be a positive number of steps, got {eval_steps}")
        if evaluator is not None and (metric is None or output_dir is None):
            raise ValueError("an evaluator needs `metric` (to pick the best checkpoint) and `output_dir`")
        if evaluator is None and (eval_steps is not None or hub_model_id is not None):
            raise ValueError("eval_steps / hub_model_id need an evaluator to choose the best checkpoint")
        self.evaluator = evaluator
        self.eval_steps = eval_steps
        self.metric = metric
        self.greater_is_better = greater_is_better
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.evaluate_at_end = evaluate_at_end
        self.hub_model_id = hub_model_id
        self.push_fn = push_fn
        self.run_info = TrainingInfo.of(run_info) if run_info is not None else None

        self.best_metric: float | None = None
        self.best_step: int | None = None
        self.best_path: Path | None = None
        self.evaluations: list[dict[str, Any]] = []
        self.push_errors: list[dict[str, Any]] = []
        self.pushed: list[dict[str, Any]] = []
        self.unconverged_steps: list[int] = []
        self._stat_sums: dict[str, float] = {}
        self._stat_counts: dict[str, int] = {}
        self._pending_logs: dict[str, float] = {}
        self._last_evaluated_step: int | None = None

    # ----------------------------------------------------------------------------------- wiring
    def attach(self, trainer: Any) -> OTDistillCallback:
        """Register on ``trainer`` as the first callback, so reporters (TensorBoard, W&B) see ``ot/*``."""
        handler = trainer.callback_handler
        handler.callbacks = [cb for cb in handler.callbacks if cb is not self]
        handler.callbacks.insert(0, self)
        return self

    # ------------------------------------------------------------------------------- schedules
    def current_values(self) -> dict[str, float]:
        """The loss attributes this callback schedules or reports, as they are now."""
        names = set(self.schedules) | {"reg", "ot_weight", "sentence_weight"}
        values = {}
        for name in sorted(names):
            value = getattr(self.loss, name, None) if self.loss is not None else None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values[name] = float(value)
        return values

    def _apply_schedules(self, state: TrainerState) -> None:
        if not self.schedules:
            return
        # progress 0 at the first step, 1 at the last one
        progress = state.global_step / max(state.max_steps - 1, 1)
        for name, schedule in self.schedules.items():
            setattr(self.loss, name, schedule(progress))

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._restore_best()
        self._apply_schedules(state)

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._apply_schedules(state)

    # ----------------------------------------------------------------------------- diagnostics
    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        stats = getattr(self.loss, "last_stats", None) if self.loss is not None else None
        if (stats or {}).get("sinkhorn_unconverged", 0.0) > 0:
            self.unconverged_steps.append(state.global_step)
        for name, value in (stats or {}).items():
            value = float(value)
            if math.isfinite(value):
                self._stat_sums[name] = self._stat_sums.get(name, 0.0) + value
                self._stat_counts[name] = self._stat_counts.get(name, 0) + 1
        if self.evaluator is not None and self.eval_steps and state.global_step % self.eval_steps == 0:
            self._evaluate(args, state, kwargs.get("model"))
            control.should_log = True  # flush the metrics into this step's log record
        return control

    def on_log(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs
    ):
        if logs is None or ("loss" not in logs and not self._pending_logs):
            return  # e.g. the trainer's closing runtime summary: nothing of ours belongs there
        additions = self.flush_logs()
        if not additions:
            return
        logs.update(additions)
        # Trainer.log appended a copy of `logs` to the history before calling us: complete that record.
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1].update(additions)

    def flush_logs(self) -> dict[str, float]:
        """Averaged diagnostics since the last log, current scheduled values and pending eval metrics."""
        additions = {
            f"{LOG_PREFIX}{name}": self._stat_sums[name] / self._stat_counts[name] for name in self._stat_sums
        }
        if self.loss is not None:
            additions.update({f"{LOG_PREFIX}{name}": value for name, value in self.current_values().items()})
        additions.update(self._pending_logs)
        self._stat_sums.clear()
        self._stat_counts.clear()
        self._pending_logs = {}
        return additions

    # ------------------------------------------------------------------------ evaluation, best
    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if (
            self.evaluator is not None
            and self.evaluate_at_end
            and self._last_evaluated_step != state.global_step
            and state.global_step > 0
        ):
            self._evaluate(args, state, kwargs.get("model"))
            # training is over: no further on_log will come, so record the final metrics directly
            final = self.flush_logs()
            state.log_history.append({**final, "step": state.global_step})

    def _evaluate(self, args: TrainingArguments, state: TrainerState, model: Any) -> None:
        if model is None:
            raise RuntimeError("the trainer passed no model to the callback; cannot evaluate")
        self._last_evaluated_step = state.global_step
        if state.is_world_process_zero:
            self._evaluate_on_main(state, model)
        if args.world_size > 1:
            # Only the main process evaluates, saves best/ and pushes; the others learn the best so far, so
            # that every process's trainer state agrees (transformers' checkpointing waits at a barrier when
            # best_global_step is set: a process that did not know it would deadlock the others).
            from accelerate.utils import broadcast_object_list

            best = broadcast_object_list(
                [(self.best_metric, self.best_step, self.best_path)], from_process=0
            )[0]
            self.best_metric, self.best_step, self.best_path = best
            if self.best_step is not None:
                state.best_metric, state.best_global_step = self.best_metric, self.best_step
                state.best_model_checkpoint = str(self.best_path)

    def _evaluate_on_main(self, state: TrainerState, model: Any) -> None:
        # a diverged student scores at chance level: never measured, never saved as best/ or pushed
        check_finite_weights(model, f"the student at step {state.global_step}")
        was_training = model.training
        model.eval()  # no dropout while measuring
        try:
            metrics = dict(self.evaluator(model))
        finally:
            model.train(was_training)
        if self.metric not in metrics:
            raise KeyError(
                f"evaluator returned no {self.metric!r}; available keys: {', '.join(sorted(metrics)) or 'none'}"
            )
        value = float(metrics[self.metric])
        self.evaluations.append({"step": state.global_step, "metrics": metrics})
        self._pending_logs.update({f"eval_{key}": float(v) for key, v in metrics.items() if _is_number(v)})
        logger.info("step %d: %s = %.4f", state.global_step, self.metric, value)
        if self._is_better(value):
            self.best_metric, self.best_step = value, state.global_step
            self.best_path = self._save_best(model, state.global_step, metrics)
            state.best_metric = value
            state.best_global_step = state.global_step
            state.best_model_checkpoint = str(self.best_path)
            if self.hub_model_id is not None:
                self._push(self.best_path, state.global_step)

    def _is_better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best_metric is None:
            return True
        return value > self.best_metric if self.greater_is_better else value < self.best_metric

    def _save_best(self, model: Any, step: int, metrics: Mapping[str, Any]) -> Path:
        assert self.output_dir is not None
        target = self.output_dir / BEST_DIRNAME
        partial = self.output_dir / f"{BEST_DIRNAME}.partial"
        if partial.exists():
            shutil.rmtree(partial)
        model.save(str(partial))
        info = {"step": step, "metric": self.metric, "value": float(metrics[self.metric]), "metrics": metrics}
        (partial / BEST_INFO_FILE).write_text(
            json.dumps(info, indent=2, default=float) + "\n", encoding="utf-8"
        )
        if self.run_info is not None:
            from optical_st.hub import save_run_info

            rows = getattr(self.evaluator, "results", None) or None
            save_run_info(partial, dataclasses.replace(self.run_info, best_step=step), rows)
        previous = self.output_dir / f"{BEST_DIRNAME}.previous"
        if target.exists():
            if previous.exists():
                shutil.rmtree(previous)
            target.rename(previous)
        partial.rename(target)
        if previous.exists():
            shutil.rmtree(previous)
        logger.info(
            "saved best checkpoint (step %d, %s = %.4f) to %s", step, self.metric, info["value"], target
        )
        return target

    def _restore_best(self) -> None:
        """On resume, continue from the best checkpoint a previous session saved in ``output_dir``."""
        if self.output_dir is None or self.best_metric is not None:
            return
        info_file = self.output_dir / BEST_DIRNAME / BEST_INFO_FILE
        if not info_file.is_file():
            return
        info = json.loads(info_file.read_text(encoding="utf-8"))
        if info.get("metric") == self.metric:
            self.best_metric, self.best_step = float(info["value"]), int(info["step"])
            self.best_path = info_file.parent

    def _push(self, path: Path, step: int) -> None:
        push_fn = self.push_fn
        try:
            if push_fn is None:
                from optical_st.hub import push_model

                push_fn = functools.partial(push_model, exist_ok=True)
            result = push_fn(path, self.hub_model_id)
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            self.push_errors.append({"step": step, "error": message})
            logger.warning(
                "pushing the best checkpoint (step %d) to %s failed; it is kept at %s. %s",
                step, self.hub_model_id, path, message,
            )  # fmt: skip
        else:
            self.pushed.append({"step": step, "result": str(result)})
            logger.info("pushed best checkpoint (step %d) to %s", step, self.hub_model_id)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
