"""``DistillationRecipe``: everything :func:`~optical_st.training.distill` is told, as one validated dataclass.

Like sentence-transformers' ``SentenceTransformerTrainingArguments``: the command line, the scaling
study and the experiments build one recipe, :func:`~optical_st.training.distill` reads it, and the run
records it (:meth:`DistillationRecipe.to_dict`). A bad value fails when the recipe is made, before any
model or data is loaded. What a recipe cannot hold stays an argument of ``distill``: the models, the
bitext, the evaluator, callbacks, the texts to exclude and a push function.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from optical_st.training._schedule import Schedule, check_schedule

LossName = Literal["ot", "mse", "ot+sentence"]
LOSS_NAMES: tuple[str, ...] = ("ot", "mse", "ot+sentence")


@dataclass(frozen=True)
class DistillationRecipe:
    """How a student is distilled: the objective, the optimisation, evaluation and the run directory.

    Objective:
        loss: ``"ot"`` (:class:`~optical_st.losses.OTDistillLoss`, OPTICAL's token-level optimal
            transport), ``"ot+sentence"`` (the same plus its sentence-level term) or ``"mse"``
            (sentence-transformers' ``MSELoss`` on pooled embeddings, Reimers & Gurevych 2020).
        reg: entropic regularisation of the OT loss (``None``: the loss's default).
        cost: token distance of the OT loss, ``"cosine"`` or ``"sqeuclidean"``.
        sentence_weight: weight of the sentence term (``None``: 1.0 for ``"ot+sentence"``, 0 for
            ``"ot"``, which has no sentence term).
        loss_options: further :class:`~optical_st.losses.OTDistillLoss` options, e.g.
            ``{"debias": False}``, ``{"reg_scale": "absolute"}``, ``{"anneal": 3}``; with
            ``{"marginals": "idf"}`` the IDF weights are fitted on the run's pairs.
        schedules: loss attribute -> :class:`~optical_st.training.Schedule` (OT losses only), e.g.
            ``{"reg": Schedule(1.0, 0.5, "cosine")}``.

    Optimisation:
        steps: optimizer steps (overrides ``epochs`` when given). The run then uses
            ``steps x batch_size`` pairs (per process) drawn by a ``seed``-shuffle of the cleaned
            bitext, each once.
        epochs: passes over the bitext when ``steps`` is ``None``.
        batch_size: pairs per device per step.
        max_length: token limit of student and teacher in training, applied by the data collator
            (``None``: the models' own). The models' ``max_seq_length`` is left as it is, so evaluation
            during training and the saved models see full-length inputs.
        lr, warmup_ratio, weight_decay, seed: AdamW with linear decay after warm-up; the seed of the
            trainer and of the pair selection.
        freeze_embeddings: keep the student's input (token) embedding matrix fixed. In
            multilingual-e5-small it holds 96.2M of 117.5M parameters, most of them rows that a few
            thousand pairs never touch; frozen, AdamW neither updates nor keeps state for it, and a step
            is 2-3x faster on CPU (bench/loss_overhead.py). Position and token-type tables train.
        group_by_length: batches of pairs of similar token count
            (:class:`~optical_st.training.LengthGroupedBatchSampler`): less padding, 2.5-3x faster on
            CPU (bench/length_grouping.py). ``False``: sentence-transformers' random batches.
        prompt: prompt prepended during training: the name of a prompt (default ``"query"``, E5's
            symmetric prompt), resolved by each model on its own side (a teacher without that prompt,
            e.g. all-MiniLM-L6-v2, gets none), or literal text for both sides; ``None`` for no prompt.
        languages: train only on these languages of the bitext (``None``: all it has).
        teacher_cache: a folder for the frozen teacher's outputs
            (:class:`~optical_st.teacher_cache.TeacherCache`; ``None``: off). Before training the teacher
            runs once on every English input of the run that the folder lacks; the OT steps then read
            its token and sentence embeddings (float16) instead of running it, and MSE its labels. Keyed
            by the teacher's fingerprint and token ids, so runs with other seeds, objectives or students
            share it, and a changed teacher or text is computed anew. ``training_run.json`` records its
            hits and misses.

    Evaluation, checkpoints and the run directory:
        eval_steps: evaluate every this many steps (``None``: at the end only; needs an evaluator).
        metric: the evaluator's key that chooses ``best/`` (default: its ``primary_metric``).
        hub_model_id: push each new best model there (after saving it locally); a failed push is
            reported and training continues.
        save_steps: trainer checkpoint interval (``None`` or 0: no intermediate checkpoints).
        logging_steps: log interval (loss, ``ot/*`` diagnostics).
        report_to: transformers reporters (``"tensorboard"``, ``"wandb"``, ...; ``"none"``).
        resume_from_checkpoint: a checkpoint path, or ``True`` for the latest under ``output_dir``.
        overwrite: replace a previous run in ``output_dir``.
        show_progress_bar: tqdm progress bar for training.

    Raises:
        ValueError: a value out of range, naming the field (an unknown loss, ``steps=0``, a schedule
            for ``"mse"``, a sentence weight for ``"ot"``, ...).

    Example::

        >>> recipe = DistillationRecipe(loss="ot", steps=200, lr=5e-5, freeze_embeddings=True)
        >>> recipe.replace(loss="mse").to_dict()["loss"]
        'mse'
    """

    # objective
    loss: LossName = "ot"
    reg: float | None = None
    cost: str = "cosine"
    sentence_weight: float | None = None
    loss_options: Mapping[str, Any] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    # optimisation
    steps: int | None = None
    epochs: float = 1.0
    batch_size: int = 16
    max_length: int | None = 128
    lr: float = 2e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    seed: int = 0
    freeze_embeddings: bool = False
    group_by_length: bool = True
    prompt: str | None = "query"
    languages: tuple[str, ...] | None = None
    teacher_cache: str | None = None
    # evaluation, checkpoints, the run directory
    eval_steps: int | None = None
    metric: str | None = None
    hub_model_id: str | None = None
    save_steps: int | None = 500
    logging_steps: int = 10
    report_to: str | tuple[str, ...] = "none"
    resume_from_checkpoint: str | bool | None = None
    overwrite: bool = False
    show_progress_bar: bool = True

    def __post_init__(self) -> None:
        # normalised copies: a recipe never shares a mutable value with its caller
        object.__setattr__(self, "loss_options", dict(self.loss_options or {}))
        object.__setattr__(self, "schedules", dict(self.schedules or {}))
        if self.languages is not None:
            languages = (self.languages,) if isinstance(self.languages, str) else tuple(self.languages)
            object.__setattr__(self, "languages", languages)
        if not isinstance(self.report_to, str):
            object.__setattr__(self, "report_to", tuple(self.report_to))
        self._check_objective()
        self._check_numbers()

    def _check_numbers(self) -> None:
        for name in ("steps", "batch_size", "eval_steps", "logging_steps"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.max_length is not None and not self.max_length > 0:
            raise ValueError(
                f"max_length must be a positive number of tokens (or None), got {self.max_length}"
            )
        for name in ("epochs", "lr", "reg"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be positive, got {value}")
        if not 0 <= self.warmup_ratio <= 1:
            raise ValueError(f"warmup_ratio must be between 0 and 1, got {self.warmup_ratio}")
        if self.save_steps is not None and self.save_steps < 0:
            raise ValueError(
                f"save_steps must be 0 or more (0: no intermediate checkpoints), got {self.save_steps}"
            )

    def _check_objective(self) -> None:
        if self.loss not in LOSS_NAMES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSS_NAMES)}")
        if self.schedules and self.loss == "mse":
            raise ValueError(
                "schedules apply to the OT loss's reg/ot_weight/sentence_weight, not to loss='mse'"
            )
        if self.loss == "ot" and self.sentence_weight not in (None, 0.0):
            raise ValueError("loss='ot' has no sentence term; use loss='ot+sentence' to set sentence_weight")
        fields = {"cost", "sentence_weight"} | ({"reg"} if self.reg is not None else set())
        repeated = sorted(fields & set(self.loss_options))
        if repeated:  # OTDistillLoss would get the setting twice
            raise ValueError(
                f"loss_options repeats {repeated[0]!r}, a field of the recipe: set {repeated[0]}= instead"
            )
        bad = [name for name, value in self.schedules.items() if not isinstance(value, Schedule)]
        if bad:
            raise ValueError(
                f"schedules take Schedule objects (e.g. Schedule.parse('1.0:0.5')); {bad[0]!r} is not"
            )
        for name, schedule in self.schedules.items():
            check_schedule(name, schedule)

    def replace(self, **changes: Any) -> DistillationRecipe:
        """A copy with some fields changed (validated again), e.g. one recipe per objective."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready values (schedules as ``{start, end, kind}``), for run records."""
        values = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        values["loss_options"] = dict(self.loss_options)
        values["schedules"] = {name: vars(schedule) for name, schedule in self.schedules.items()}
        values["languages"] = list(self.languages) if self.languages is not None else None
        values["report_to"] = self.report_to if isinstance(self.report_to, str) else list(self.report_to)
        return values

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(item.name for item in dataclasses.fields(cls))
