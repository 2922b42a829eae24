"""The run directory: refusing another run's folder, moving a replaced run aside, the run record file."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there are not locked
    fcntl = None  # type: ignore[assignment]

from optical_st._atomic import write_json
from optical_st._weights import torn_weights
from optical_st.training._callback import BEST_DIRNAME

if TYPE_CHECKING:
    from optical_st.hub import TrainingInfo

logger = logging.getLogger(__name__)

RUN_FILE = "training_run.json"
FINAL_DIRNAME = "final"
CHECKPOINTS_DIRNAME = "checkpoints"
PREVIOUS_RUN_DIRNAME = "previous-run"

# what one run writes into its output_dir (other files there are left alone)
RUN_ENTRIES: tuple[str, ...] = (
    FINAL_DIRNAME, CHECKPOINTS_DIRNAME, BEST_DIRNAME, f"{BEST_DIRNAME}.partial", f"{BEST_DIRNAME}.previous", RUN_FILE,
)  # fmt: skip


class OutputDirectoryInUseError(ValueError):
    """``output_dir`` already holds another run (pass ``overwrite=True`` or resume it)."""


def check_output_dir(output_dir: str | Path, *, overwrite: bool = False, resume: bool = False) -> Path:
    """Refuse an ``output_dir`` that holds another run unless ``overwrite`` (or ``resume``); changes nothing."""
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputDirectoryInUseError(f"output_dir {output_dir} exists and is not a directory")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not (resume or overwrite):
        raise OutputDirectoryInUseError(
            f"output_dir {output_dir} is not empty (another run?); pass --overwrite to replace it "
            "or --resume-from-checkpoint to continue it"
        )
    return output_dir


class RunTerminated(KeyboardInterrupt):
    """SIGTERM during a run (a scheduler, ``kill``, torchrun stopping its workers): recorded as interrupted."""

    exit_code = 143  # 128 + SIGTERM, what the shell reports for a process stopped by it


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While a run trains, SIGTERM stops it like Ctrl-C, so its record says ``interrupted`` (it said ``running``)."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers live in the main thread
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise RunTerminated("terminated by SIGTERM")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def locked_output_dir(output_dir: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``output_dir`` for a whole run, or refuse it as in use by another run.

    Two runs started into one folder a moment apart both found it empty and wrote one mixed record; the
    lock is taken before that check. It is an ``flock`` on the folder itself (no lock file to leave
    behind; the kernel releases it when the process dies, kill -9 included). Under a launcher only the
    main process (``RANK`` 0) writes the folder and locks it. A folder made only to be locked is removed
    again if the run is refused before writing anything.
    """
    output_dir = Path(output_dir)
    if (
        fcntl is None
        or int(os.environ.get("RANK", "0")) != 0
        or (output_dir.exists() and not output_dir.is_dir())
    ):
        yield
        return
    created = not output_dir.exists()
    output_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(output_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputDirectoryInUseError(
                f"output_dir {output_dir} is in use by another training run (wait for it to end, or choose "
                "another --output-dir)"
            ) from None
        try:
            yield
        finally:
            if created and not any(output_dir.iterdir()):
                output_dir.rmdir()
    finally:
        os.close(descriptor)  # releases the lock


def prepare_output_dir(output_dir: Path, *, overwrite: bool = False) -> Path | None:
    """Create ``output_dir``; with ``overwrite``, move the run it holds into ``previous-run/``.

    Called once the new run is validated and about to start. The previous run is deleted only when the
    new one has saved ``best/`` or ``final/`` (:func:`_discard_previous_run`), put back if the new one fails
    before its first checkpoint (:func:`_restore_previous_run`), and kept beside the new run's checkpoints
    if it fails after. Returns the ``previous-run`` folder, or ``None``; a resumed run gets the folder an
    earlier ``overwrite`` left, so that finishing it deletes the run it replaces.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    previous = output_dir / PREVIOUS_RUN_DIRNAME
    present = [output_dir / name for name in RUN_ENTRIES if (output_dir / name).exists()]
    if not overwrite or not present:
        return previous if previous.is_dir() else None
    if previous.is_dir():
        # An earlier --overwrite was killed before its first save: previous-run/ still holds the run it
        # replaced, and the entries beside it are that attempt's leftovers (no model among them).
        for path in present:
            _remove(path)
        return previous
    previous.mkdir()
    for path in present:
        path.rename(previous / path.name)
    logger.info(
        "moved the previous run in %s aside to %s until the new run saves a model", output_dir, previous
    )
    return previous


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _discard_previous_run(previous: Path | None) -> None:
    if previous is not None and previous.is_dir():
        shutil.rmtree(previous)


def _restore_previous_run(output_dir: Path, previous: Path) -> None:
    """Put the replaced run back (the new run failed before saving any model)."""
    for name in RUN_ENTRIES:
        _remove(output_dir / name)
    for path in previous.iterdir():
        path.rename(output_dir / path.name)
    previous.rmdir()


def checkpoint_problem(checkpoint: Path) -> str | None:
    """Why ``checkpoint`` cannot be resumed (torn by kill -9 or a full disk mid-save), or ``None`` if whole.

    transformers writes ``trainer_state.json`` last, so a checkpoint without a readable one is incomplete;
    a weights file may still be torn when the disk filled up.
    """
    state = checkpoint / "trainer_state.json"
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{checkpoint.name} has no trainer_state.json (its save did not finish)"
    except (OSError, ValueError):
        return f"{checkpoint.name}/trainer_state.json is damaged"
    torn = torn_weights(checkpoint)
    return f"{checkpoint.name} is incomplete: {torn}" if torn else None


def _step_of(checkpoint: Path) -> int:
    suffix = checkpoint.name.rpartition("-")[2]
    return int(suffix) if suffix.isdigit() else -1


def resume_checkpoint(output_dir: Path, resume_from_checkpoint: str | bool | None) -> str | bool | None:
    """The checkpoint to resume from, checked before anything is written (a failed resume changes nothing).

    ``True``: the newest complete checkpoint under ``output_dir`` (a torn newer one is skipped, with a
    warning). A path is used only when complete.
    """
    if resume_from_checkpoint is True:
        found = sorted((output_dir / CHECKPOINTS_DIRNAME).glob("checkpoint-*"), key=_step_of, reverse=True)
        if not found:
            raise FileNotFoundError(
                f"no checkpoint to resume under {output_dir / CHECKPOINTS_DIRNAME} (the run there is unchanged)"
            )
        problems = []
        for checkpoint in found:
            problem = checkpoint_problem(checkpoint)
            if problem is None:
                if problems:
                    logger.warning("resuming from %s: %s", checkpoint.name, "; ".join(problems))
                return str(checkpoint)
            problems.append(problem)
        raise FileNotFoundError(
            f"no complete checkpoint to resume under {found[0].parent}: {'; '.join(problems)}"
        )
    if resume_from_checkpoint:
        path = Path(resume_from_checkpoint)
        if not path.is_dir():
            raise FileNotFoundError(f"checkpoint to resume from not found: {resume_from_checkpoint}")
        problem = checkpoint_problem(path)
        if problem:
            raise ValueError(
                f"checkpoint to resume from is incomplete: {problem}; pass an earlier checkpoint"
            )
    return resume_from_checkpoint


# what a resumed run cannot change: the objective and the optimisation of the steps already taken (the run's
# length, evaluation, logging and pushing may change)
RESUME_FIXED_FIELDS: tuple[str, ...] = (
    "loss", "reg", "cost", "sentence_weight", "loss_options", "schedules", "batch_size", "max_length", "lr",
    "warmup_ratio", "weight_decay", "seed", "freeze_embeddings", "group_by_length", "prompt", "languages",
)  # fmt: skip


def check_resumed_recipe(output_dir: Path, recipe: Mapping[str, Any]) -> None:
    """Refuse to resume a run with another objective or optimisation than its record says it started with.

    Else the record and the card would claim the new settings for a run trained partly under the old ones.
    """
    path = output_dir / RUN_FILE
    recorded = json.loads(path.read_text(encoding="utf-8")).get("recipe") if path.is_file() else None
    if not recorded:
        return
    given = json.loads(json.dumps(dict(recipe), default=str))  # as the record holds it
    changed = [name for name in RESUME_FIXED_FIELDS if name in recorded and recorded[name] != given.get(name)]
    if changed:
        name = changed[0]
        raise ValueError(
            f"--resume-from-checkpoint: the run in {output_dir} was trained with {name}={recorded[name]!r}, this "
            f"run asks for {name}={given.get(name)!r}; a resumed run keeps its settings (give the same, or "
            "start a new run with --overwrite)"
        )


def mean_training_loss(log_history: list[dict[str, Any]], global_step: int) -> float | None:
    """Mean loss over steps 1..``global_step`` from the logged windows (each weighted by its steps).

    Covers resumed runs too: the log history comes back with the checkpoint, and
    :class:`RunBookkeeping` logs at every checkpoint and at the last step, so no step is missing.
    ``None`` when the records do not cover every step.
    """
    total, covered = 0.0, 0
    for entry in log_history:
        if "loss" in entry and entry.get("step", 0) > covered:
            total += float(entry["loss"]) * (entry["step"] - covered)
            covered = entry["step"]
    return total / covered if covered and covered == global_step else None


def record_failure(output_dir: Path, error: BaseException, previous_run: Path | None) -> None:
    """A run that stops with an exception says so in its record (or gives the replaced run back)."""
    if previous_run is not None and previous_run.is_dir():
        if not any((output_dir / CHECKPOINTS_DIRNAME).glob("checkpoint-*")):
            _restore_previous_run(output_dir, previous_run)
            logger.warning(
                "the new run failed before saving a model; the previous run in %s is restored", output_dir
            )
            return
        # the new run's checkpoints can be resumed; the finished run it was to replace stays beside them
        logger.warning(
            "the new run failed; the previous run is kept in %s until a new run finishes (resume the new one "
            "with --resume-from-checkpoint)", previous_run,
        )  # fmt: skip
    path = output_dir / RUN_FILE
    run = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    interrupted = isinstance(error, KeyboardInterrupt)
    run.update({
        "status": "interrupted" if interrupted else "failed",
        "error": f"{type(error).__name__}: {error}".strip().rstrip(":"),
    })  # fmt: skip
    write_run_file(output_dir, run)


class RunBookkeeping(TrainerCallback):
    """Run-directory duties of :func:`distill` that follow the trainer's steps.

    * Log at every checkpoint and at the last step, so that the log history (which a checkpoint
      carries) covers every step: the whole run's mean loss survives a resume.
    * Delete the run that ``overwrite`` moved aside once this run has a model to replace it: ``best/``
      (``final/`` is reported by :func:`finish_run` through :meth:`model_saved`). A checkpoint is not
      enough: the run may still crash, and a checkpoint is no finished model.
    """

    def __init__(self) -> None:
        self.previous_run: Path | None = None  # set by distill on the main process

    def model_saved(self) -> None:
        _discard_previous_run(self.previous_run)
        self.previous_run = None

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_save or state.global_step >= state.max_steps:
            control.should_log = True
        if state.best_model_checkpoint:  # OTDistillCallback (called first) just saved best/
            self.model_saved()
        return control


def write_run_file(output_dir: Path, content: Mapping[str, Any]) -> None:
    """Replace the run record whole (a crash mid-write leaves the previous record)."""
    write_json(output_dir / RUN_FILE, content)


def finish_run(
    output_dir: Path,
    student: Any,
    trainer: Any,
    result: Any,
    seconds: float,
    *,
    bookkeeping: RunBookkeeping,
    callback: Any,
    run_info: TrainingInfo,
    evaluator: Any,
    metric: str | None,
) -> Path:
    """Save ``final/`` with its card record, then complete the run record (main process only)."""
    from optical_st.hub import save_run_info

    final_dir = output_dir / FINAL_DIRNAME
    student.save(str(final_dir))
    final_rows = None
    if (
        evaluator is not None
        and callback.evaluations
        and callback.evaluations[-1]["step"] == result.global_step
    ):
        final_rows = getattr(evaluator, "results", None) or None
    save_run_info(final_dir, run_info, final_rows)
    bookkeeping.model_saved()
    # the mean over every step of the run; transformers' own figure covers this session only
    train_loss = mean_training_loss(trainer.state.log_history, result.global_step)
    if train_loss is None:
        train_loss = result.training_loss
    run = json.loads((output_dir / RUN_FILE).read_text(encoding="utf-8"))
    run.update({
        "status": "done",
        "train_seconds": round(seconds, 1),
        "global_step": result.global_step,
        "train_loss": train_loss,
        "best": None if callback.best_metric is None else {
            "metric": metric, "value": callback.best_metric, "step": callback.best_step,
            "path": str(callback.best_path),
        },
        "push_errors": callback.push_errors,
        # the loss warned once; the record says how often (a plan cut off at max_iter is approximate)
        "sinkhorn_unconverged_steps": len(callback.unconverged_steps),
        "log_history": trainer.state.log_history,
    })  # fmt: skip
    write_run_file(output_dir, run)
    return final_dir
