"""``StudyBudget``: the plan of a study (what is left to run) and how long it will take on this machine.

The time comes from rates measured on the study's own models, on this machine, right before the
estimate: loading each model, encoding a few batches of the study's benchmark texts, and a few
distillation steps (student and teacher, the study's recipe) in a throw-away directory. Nothing of the
measurement is kept: no cell, no checkpoint, no student.
"""

from __future__ import annotations

import io
import math
import statistics
import tempfile
import time
from collections.abc import Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from optical_st.scaling._specs import DISTILLED, ModelSpec

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from optical_st.scaling._study import ScalingStudy

ENCODE_BATCHES = 3  # timed encoding batches per model (after one warm-up batch)
DISTILL_STEPS = 3  # distillation steps per model; the first is a warm-up, the rest are timed


@dataclass(frozen=True)
class UnitPlan:
    """One ``(model, condition)`` unit with cells still to make.

    Args:
        model: the model's name.
        condition: ``"zero-shot"`` or ``"ot-distilled"``.
        languages: the languages whose cells are missing.
        texts: texts to encode for them (distinct query and document texts of their benchmarks).
        steps: optimizer steps to train first (0: zero-shot, or a saved student is reused).
        reuses_student: a student distilled earlier with this recipe is loaded instead of trained.
    """

    model: str
    condition: str
    languages: tuple[str, ...]
    texts: int
    steps: int = 0
    reuses_student: bool = False


@dataclass(frozen=True)
class Rates:
    """What one model costs here, measured.

    Args:
        model: the model's name.
        load_seconds: loading (and truncating) it.
        seconds_per_text: encoding, per text, at the study's batch size.
        seconds_per_step: one distillation step (``None``: not distilled in this plan).
        setup_seconds: a distillation run's fixed cost (trainer, first-step warm-up, saving).
        teacher_seconds_per_text: the teacher's encoding rate (the MSE loss labels every pair up front).
        teacher_load_seconds: loading the teacher (paid once per teacher).
        error: why it could not be measured (the study would skip the model).
    """

    model: str
    load_seconds: float = 0.0
    seconds_per_text: float = 0.0
    seconds_per_step: float | None = None
    setup_seconds: float = 0.0
    teacher_seconds_per_text: float = 0.0
    teacher_load_seconds: float = 0.0
    error: str | None = None


@dataclass
class StudyBudget:
    """The plan of a study and its time estimate on this machine (:func:`estimate_budget`).

    Args:
        units: the units with missing cells.
        rates: measured rates per model name.
        models, languages, conditions: the study's grid.
        cells_finished: cells already on disk (they are not redone).
        training_pairs: pairs per distillation run (``None``: no distillation).
        loss: the recipe's objective (``None``: no distillation).
        device: where the models ran.
        threads: torch CPU threads.
        measure_seconds: how long the measurement took.

    Example::

        >>> budget = estimate_budget(study)  # doctest: +SKIP
        >>> print(budget.describe())  # doctest: +SKIP
        >>> budget.seconds / 60  # doctest: +SKIP
    """

    units: list[UnitPlan]
    rates: dict[str, Rates]
    models: list[str]
    languages: list[str]
    conditions: list[str]
    cells_finished: int = 0
    training_pairs: int | None = None
    loss: str | None = None
    device: str = "cpu"
    threads: int = 1
    measure_seconds: float = 0.0
    teachers: dict[str, str] = field(default_factory=dict)  # model -> teacher key (distilled units)

    @property
    def cells_total(self) -> int:
        return len(self.models) * len(self.conditions) * len(self.languages)

    @property
    def cells_to_run(self) -> int:
        return sum(len(unit.languages) for unit in self.units)

    def unit_seconds(self, unit: UnitPlan) -> float:
        """Estimated seconds of one unit (0 when its model could not be measured: it would be skipped)."""
        rates = self.rates.get(unit.model)
        if rates is None or rates.error:
            return 0.0
        seconds = rates.load_seconds + unit.texts * rates.seconds_per_text
        if unit.steps and rates.seconds_per_step is not None:
            seconds += rates.setup_seconds + unit.steps * rates.seconds_per_step
            if self.loss == "mse" and self.training_pairs:
                seconds += self.training_pairs * rates.teacher_seconds_per_text
        return seconds

    @property
    def seconds(self) -> float:
        """The whole estimate: every unit, plus loading each teacher once."""
        teachers: dict[str, float] = {}
        for unit in self.units:
            rates = self.rates.get(unit.model)
            if unit.steps and rates is not None and not rates.error:
                key = self.teachers.get(unit.model, unit.model)
                teachers[key] = max(teachers.get(key, 0.0), rates.teacher_load_seconds)
        return sum(self.unit_seconds(unit) for unit in self.units) + sum(teachers.values())

    def describe(self) -> str:
        """The plan and the estimate as the lines ``optical-st scale --budget`` prints."""
        lines = [
            f"plan: {len(self.models)} model(s) x {len(self.conditions)} condition(s) x "
            f"{len(self.languages)} language(s) = {self.cells_total} cells; {self.cells_finished} finished, "
            f"{self.cells_to_run} to run",
            f"models: {', '.join(self.models)}",
            f"conditions: {', '.join(self.conditions)}",
            f"languages: {', '.join(self.languages)}",
        ]
        if self.training_pairs is not None:
            trained = [u for u in self.units if u.steps]
            reused = [u for u in self.units if u.reuses_student]
            steps = sorted({u.steps for u in trained})
            lines.append(
                f"distillation ({self.loss}): {self.training_pairs} training pairs; {len(trained)} student(s) to "
                f"train, {', '.join(map(str, steps)) or 0} steps each; {len(reused)} saved student(s) reused"
            )
        if not self.units:
            lines.append("nothing to run: every cell is finished")
            return "\n".join(lines)
        lines.append(
            f"measured here ({self.device}, {self.threads} torch thread(s), {_duration(self.measure_seconds)}):"
        )
        width = max(len("model"), *(len(name) for name in self.models))
        lines.append(
            f"  {'model':<{width}} {'load':>8} {'texts/s':>9} {'s/step':>8} {'to encode':>10} {'steps':>6}"
        )
        for name in self.models:
            rates = self.rates.get(name)
            units = [u for u in self.units if u.model == name]
            if rates is None or not units:
                continue
            if rates.error:
                lines.append(f"  {name:<{width}} cannot be measured, the study would skip it: {rates.error}")
                continue
            per_step = f"{rates.seconds_per_step:.2f}" if rates.seconds_per_step is not None else "-"
            speed = 1 / rates.seconds_per_text if rates.seconds_per_text > 0 else math.inf
            lines.append(
                f"  {name:<{width}} {rates.load_seconds:>7.1f}s {speed:>9.1f} {per_step:>8} "
                f"{sum(u.texts for u in units):>10} {sum(u.steps for u in units):>6}"
            )
        by_condition: dict[str, float] = {}
        for unit in self.units:
            by_condition[unit.condition] = by_condition.get(unit.condition, 0.0) + self.unit_seconds(unit)
        parts = ", ".join(f"{condition} {_duration(s)}" for condition, s in by_condition.items())
        lines.append(
            f"estimate: {_duration(self.seconds)} on this machine ({parts}; one process; the bootstrap "
            "intervals and the report add seconds)"
        )
        return "\n".join(lines)


def plan_units(study: ScalingStudy) -> tuple[list[UnitPlan], int | None]:
    """The units with missing cells, and the pairs per distillation run (``None``: no distillation).

    Raises:
        StaleResultsError: the output directory holds cells of another configuration (as :meth:`run`).
    """
    pairs = _training_pairs(study) if DISTILLED in study.conditions else None
    units = []
    for unit in study.units():
        if not unit.languages:
            continue
        steps, reuses = 0, False
        if unit.condition == DISTILLED:
            reuses = study.saved_student(unit.spec) is not None
            steps = 0 if reuses else _steps(study, pairs or 0)
        texts = len(_texts_to_encode(study, unit.languages))
        units.append(UnitPlan(unit.spec.name, unit.condition, tuple(unit.languages), texts, steps, reuses))
    return units, pairs


def estimate_budget(
    study: ScalingStudy,
    *,
    encode_batches: int = ENCODE_BATCHES,
    distill_steps: int = DISTILL_STEPS,
) -> StudyBudget:
    """Plan ``study`` and time it on this machine (loads every model with missing cells, briefly).

    Args:
        study: the configured study (nothing of it runs).
        encode_batches: timed encoding batches per model.
        distill_steps: distillation steps per distilled model (the first is not timed).

    Returns:
        A :class:`StudyBudget`; ``budget.describe()`` is the printed plan, ``budget.seconds`` the estimate.
    """
    import torch
    from tqdm.auto import tqdm

    started = time.perf_counter()
    units, pairs = plan_units(study)
    specs = {spec.name: spec for spec in study.specs}
    rates: dict[str, Rates] = {}
    teachers: dict[str, str] = {}
    names = list(dict.fromkeys(unit.model for unit in units))
    for name in tqdm(names, desc="measuring models", unit="model", disable=not study.show_progress_bar):
        mine = [u for u in units if u.model == name]
        train = any(u.steps for u in mine)
        languages = sorted({lang for u in mine for lang in u.languages})
        rates[name] = _measure(study, specs[name], languages, train, encode_batches, distill_steps)
        if train:
            teachers[name] = _teacher_key(study, specs[name])
    return StudyBudget(
        units=units,
        rates=rates,
        models=[spec.name for spec in study.specs],
        languages=list(study.languages),
        conditions=list(study.conditions),
        cells_finished=len(study.specs) * len(study.conditions) * len(study.languages)
        - sum(len(u.languages) for u in units),
        training_pairs=pairs,
        loss=study.recipe.loss if pairs is not None and study.recipe is not None else None,
        device=study.device or _default_device(),
        threads=torch.get_num_threads(),
        measure_seconds=time.perf_counter() - started,
        teachers=teachers,
    )


# -- measuring ------------------------------------------------------------------------------------


def _measure(
    study: ScalingStudy,
    spec: ModelSpec,
    languages: Sequence[str],
    train: bool,
    encode_batches: int,
    distill_steps: int,
) -> Rates:
    """Load ``spec``, time encoding (and distillation steps when ``train``); an error is recorded, not raised."""
    try:
        started = time.perf_counter()
        model = spec.load(study.device)
        load_seconds = time.perf_counter() - started
        texts = _texts_to_encode(study, languages)
        seconds_per_text = _encode_rate(model, texts, study.batch_size, encode_batches, study.query_prompt)
        if not train:
            return Rates(spec.name, load_seconds, seconds_per_text)
        teacher, teacher_load = _teacher_timed(study, spec)
        teacher_rate = _encode_rate(teacher, texts, study.batch_size, 1, None)
        per_step, setup = _step_rate(study, model, teacher, distill_steps)
        return Rates(spec.name, load_seconds, seconds_per_text, per_step, setup, teacher_rate, teacher_load)
    except Exception as error:  # the study would skip this model; the estimate says so
        return Rates(spec.name, error=f"{type(error).__name__}: {error}")


def _encode_rate(
    model: SentenceTransformer, texts: Sequence[str], batch_size: int, batches: int, prompt: str | None
) -> float:
    """Seconds per text: one untimed warm-up batch, then ``batches`` batches spread over ``texts``."""
    if not texts:
        return 0.0
    wanted = max(1, batches) * batch_size
    stride = max(1, len(texts) // wanted)
    sample = list(texts[::stride][:wanted])
    model.encode(sample[:batch_size], batch_size=batch_size, prompt=prompt, show_progress_bar=False)
    started = time.perf_counter()
    model.encode(sample, batch_size=batch_size, prompt=prompt, show_progress_bar=False)
    return (time.perf_counter() - started) / len(sample)


def _teacher_timed(study: ScalingStudy, spec: ModelSpec) -> tuple[SentenceTransformer, float]:
    """The study's teacher for ``spec`` (kept by the study for its run) and the seconds loading it took."""
    loaded = study.teacher_loaded(spec)
    started = time.perf_counter()
    teacher = study.load_teacher(spec)
    return teacher, 0.0 if loaded else time.perf_counter() - started


def _teacher_key(study: ScalingStudy, spec: ModelSpec) -> str:
    teacher = study.teacher_spec(spec)
    return f"{teacher.source}:{teacher.keep_layers}"


def _step_rate(study: ScalingStudy, student: Any, teacher: Any, steps: int) -> tuple[float, float]:
    """``(seconds per step, fixed seconds per run)`` of the study's recipe, from a throw-away run."""
    from optical_st.training import benchmark_texts, distill

    assert study.recipe is not None
    recipe = study.recipe.replace(steps=max(2, steps), save_steps=None, overwrite=True, show_progress_bar=False,
                                  eval_steps=None, hub_model_id=None)  # fmt: skip
    timer = _step_timer()
    benchmarks = [b for group in study.benchmarks.values() for b in group]
    # the trainer prints its log lines when its progress bar is off: they are not the plan's
    with (
        tempfile.TemporaryDirectory(prefix="optical-st-budget-") as directory,
        redirect_stdout(io.StringIO()),
    ):
        started = time.perf_counter()
        distill(student, teacher, study.training_pairs(), recipe, output_dir=directory,
                callbacks=[timer], exclude_texts=benchmark_texts(benchmarks))  # fmt: skip
        total = time.perf_counter() - started
    durations = timer.durations
    per_step = statistics.median(durations[1:]) if len(durations) > 1 else total
    return per_step, max(0.0, total - per_step * len(durations))


def _step_timer() -> Any:
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        """Wall time of every optimizer step."""

        def __init__(self) -> None:
            self.durations: list[float] = []
            self._started = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.durations.append(time.perf_counter() - self._started)

    return StepTimer()


# -- counting -------------------------------------------------------------------------------------


def _texts_to_encode(study: ScalingStudy, languages: Sequence[str]) -> list[str]:
    """The distinct texts one evaluator call encodes (it encodes a text once per side and prompt)."""
    queries: dict[str, None] = {}
    documents: dict[str, None] = {}
    for language in languages:
        for benchmark in study.benchmarks[language]:
            queries.update(dict.fromkeys(benchmark.queries["text"]))
            documents.update(dict.fromkeys(benchmark.corpus["text"]))
    return [*queries, *documents]


def _training_pairs(study: ScalingStudy) -> int:
    """The pairs a distillation run trains on: the training bitext without the evaluation texts."""
    from optical_st.training import benchmark_texts, clean_bitext

    assert study.recipe is not None
    benchmarks = [b for group in study.benchmarks.values() for b in group]
    cleaned, _ = clean_bitext(study.training_pairs(), languages=study.recipe.languages,
                              exclude_texts=benchmark_texts(benchmarks))  # fmt: skip
    return len(cleaned)


def _steps(study: ScalingStudy, pairs: int) -> int:
    assert study.recipe is not None
    if study.recipe.steps is not None:
        return study.recipe.steps
    return max(1, math.ceil(study.recipe.epochs * pairs / study.recipe.batch_size))


def _default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "mps" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else "cpu"


def _duration(seconds: float) -> str:
    """``"2 h 05 min"``, ``"3 min 20 s"``, ``"45 s"``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
