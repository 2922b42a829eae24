"""``distill``: one training run from a recipe (``optical-st train``, the scaling study and the experiments).

The run reads as its three parts: the pairs are prepared (:mod:`optical_st.training._pairs`), the trainer
is built (:mod:`optical_st.training._trainer`), the run is finished (:mod:`optical_st.training._run_dir`).
Everything that can be refused is refused before the output directory changes.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optical_st.hub import TrainingInfo
from optical_st.training._callback import OTDistillCallback
from optical_st.training._pairs import (
    bitext_summary,
    check_languages_evaluated,
    clean_bitext,
    cut_long_texts,
    evaluator_languages,
    pairs_for_steps,
)
from optical_st.training._recipe import DistillationRecipe
from optical_st.training._run_dir import (
    FINAL_DIRNAME,
    RUN_FILE,
    RunBookkeeping,
    check_output_dir,
    check_resumed_recipe,
    finish_run,
    locked_output_dir,
    prepare_output_dir,
    record_failure,
    resume_checkpoint,
    sigterm_interrupts,
    write_run_file,
)
from optical_st.training._teacher_cache import record_training_use
from optical_st.training._trainer import (
    Models,
    TrainerSetup,
    build_trainer,
    prepare_models,
    training_arguments,
)

if TYPE_CHECKING:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)


def distill(
    student: SentenceTransformer | str | Path,
    teacher: SentenceTransformer | str | Path,
    bitext: Dataset,
    recipe: DistillationRecipe | None = None,
    *,
    output_dir: str | Path,
    evaluator: Any = None,
    callbacks: Iterable[Any] = (),
    exclude_texts: Iterable[str] = (),
    push_fn: Callable[..., Any] | None = None,
    **legacy: Any,
) -> Path:
    """Distil ``teacher`` (English side) into ``student`` (other side) on ``bitext``; return the final model dir.

    Args:
        student: the model to train (a ``SentenceTransformer`` or a name/path for
            :func:`optical_st.pretrained.load_sentence_transformer`). Trained in place.
        teacher: the frozen teacher (same forms). May be the same checkpoint as the student (OPTICAL's
            setup); it is never updated.
        bitext: ``english``/``target`` pairs (:func:`optical_st.data.load_bitext` layout).
        recipe: the objective, optimisation, evaluation and run settings
            (:class:`~optical_st.training.DistillationRecipe`; ``None``: its defaults).
        output_dir: run directory (see the package docstring); refused if it holds another run unless
            ``recipe.overwrite`` or ``recipe.resume_from_checkpoint``.
        evaluator: e.g. a :class:`~optical_st.evaluation.CLIREvaluator`; every bitext language must be
            one it evaluates. Runs every ``recipe.eval_steps`` and at the end; the best model by
            ``recipe.metric`` (default: the evaluator's ``primary_metric``) goes to ``output_dir/best``.
        callbacks: extra ``TrainerCallback`` objects.
        exclude_texts: texts never to train on (e.g. :func:`benchmark_texts` of the evaluation).
        push_fn: ``push_fn(local_dir, repo_id)`` pushing each new best model to ``recipe.hub_model_id``
            (default :func:`optical_st.hub.push_model`).
        **legacy: the settings as keyword arguments, as before recipes (``steps=200, lr=5e-5``):
            accepted with a ``FutureWarning`` and applied on top of ``recipe``.

    Returns:
        ``output_dir / "final"``, the trained student (a sentence-transformers folder).

    Raises:
        ValueError: a bad recipe value, teacher and student on different devices, bitext languages the
            evaluation lacks, no usable training pairs.
        OutputDirectoryInUseError: ``output_dir`` holds another run.
    """
    recipe = _recipe_with(recipe, legacy)
    # the lock before the emptiness check: two runs a moment apart both passed it
    with locked_output_dir(output_dir), sigterm_interrupts():
        return _distill(student, teacher, bitext, recipe, Path(output_dir), evaluator=evaluator,
                        callbacks=callbacks, exclude_texts=exclude_texts, push_fn=push_fn)  # fmt: skip


def _distill(
    student: SentenceTransformer | str | Path,
    teacher: SentenceTransformer | str | Path,
    bitext: Dataset,
    recipe: DistillationRecipe,
    output_dir: Path,
    *,
    evaluator: Any,
    callbacks: Iterable[Any],
    exclude_texts: Iterable[str],
    push_fn: Callable[..., Any] | None,
) -> Path:
    """:func:`distill` once the output directory is locked."""
    output_dir = check_output_dir(
        output_dir, overwrite=recipe.overwrite, resume=bool(recipe.resume_from_checkpoint)
    )
    resume = resume_checkpoint(output_dir, recipe.resume_from_checkpoint)
    if resume:
        check_resumed_recipe(output_dir, recipe.to_dict())
    models = prepare_models(student, teacher, recipe.max_length)

    # 1. the pairs
    bitext, counts = clean_bitext(bitext, languages=recipe.languages, exclude_texts=exclude_texts)
    bitext = cut_long_texts(bitext, counts)
    languages = sorted(set(bitext["language"])) if "language" in bitext.column_names else []
    metric = recipe.metric
    if evaluator is not None:
        check_languages_evaluated(languages, evaluator_languages(evaluator))
        metric = _best_metric(evaluator, recipe.metric)
        check_metric_computed(evaluator, metric, recipe.metric)
    args = training_arguments(recipe, output_dir, models.student)
    world_size = args.world_size  # creating the arguments joined the process group, if launched with several
    bitext = pairs_for_steps(bitext, counts, steps=recipe.steps, batch_size=recipe.batch_size, seed=recipe.seed,
                             world_size=world_size)  # fmt: skip
    logger.info("training pairs: %s (%d process(es))", counts, world_size)

    # 2. the trainer
    setup = build_trainer(models, bitext, recipe, args)
    run_info = _run_info(models, setup, recipe, bitext, languages, world_size)
    callback = OTDistillCallback(
        None if recipe.loss == "mse" else setup.loss,
        schedules=recipe.schedules,
        evaluator=evaluator,
        eval_steps=recipe.eval_steps if evaluator is not None else None,
        metric=metric,
        output_dir=output_dir,
        hub_model_id=recipe.hub_model_id,
        push_fn=push_fn,
        run_info=run_info,
    )

    # The run starts for real: only now is the output directory changed (by the main process alone).
    is_main = args.process_index == 0
    bookkeeping = RunBookkeeping()
    try:
        if is_main:
            overwrite = recipe.overwrite and not resume
            bookkeeping.previous_run = prepare_output_dir(output_dir, overwrite=overwrite)
            write_run_file(output_dir, _running_record(models, setup, recipe, languages, counts, metric,
                                                       world_size, evaluator))  # fmt: skip
        trainer = setup.make_trainer(callback, [bookkeeping, *callbacks])
        models.teacher.to(
            args.device
        )  # under torchrun / accelerate launch each process trains on its own device
        started = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=resume)
    except BaseException as error:
        if is_main:
            record_failure(output_dir, error, bookkeeping.previous_run)
        raise
    seconds = time.perf_counter() - started

    # 3. the end of the run
    final_dir = output_dir / FINAL_DIRNAME
    if is_main:
        final_dir = finish_run(output_dir, models.student, trainer, result, seconds, bookkeeping=bookkeeping,
                               callback=callback, run_info=run_info, evaluator=evaluator, metric=metric)  # fmt: skip
        record_training_use(output_dir / RUN_FILE, setup.teacher_cache)
    # every process returns once final/ exists
    trainer.accelerator.wait_for_everyone()
    return final_dir


def _recipe_with(recipe: DistillationRecipe | None, legacy: dict[str, Any]) -> DistillationRecipe:
    """The recipe, with settings given the pre-recipe way (as keyword arguments) applied on top."""
    recipe = recipe if recipe is not None else DistillationRecipe()
    if not isinstance(recipe, DistillationRecipe):
        raise TypeError(f"recipe must be a DistillationRecipe, got {type(recipe).__name__}")
    if not legacy:
        return recipe
    unknown = sorted(set(legacy) - set(DistillationRecipe.field_names()))
    if unknown:
        raise TypeError(f"distill() got an unexpected keyword argument {unknown[0]!r}")
    warnings.warn(
        f"distill(..., {', '.join(f'{name}=' for name in legacy)}) is deprecated: pass "
        f"distill(student, teacher, bitext, DistillationRecipe({', '.join(f'{name}=...' for name in legacy)}), "
        "output_dir=...)",
        FutureWarning,
        stacklevel=3,
    )
    return recipe.replace(**legacy)


def _best_metric(evaluator: Any, metric: str | None) -> str | None:
    """The evaluator's key that chooses ``best/``: ``metric`` (prefixed with the evaluator's name) or its primary."""
    metric = metric or getattr(evaluator, "primary_metric", None)
    name = getattr(evaluator, "name", "")
    if metric and name and not metric.startswith(f"{name}_"):
        metric = f"{name}_{metric}"
    return metric


def check_metric_computed(evaluator: Any, metric: str | None, asked: str | None) -> None:
    """Refuse, before training, a ``metric`` the evaluator does not compute (it failed at the first evaluation)."""
    keys = getattr(evaluator, "metric_keys", None)
    if keys is None or metric in keys:
        return
    prefix = f"{getattr(evaluator, 'name', '')}_" if getattr(evaluator, "name", "") else ""
    macros = [key.removeprefix(prefix) for key in keys if "->" not in key]
    raise ValueError(
        f"--metric {asked or metric}: the evaluation computes no {metric!r}; choose one of {', '.join(macros)} "
        "(or a per-benchmark key; recall@k needs k among --eval-k)"
    )


def _run_info(
    models: Models, setup: TrainerSetup, recipe: DistillationRecipe, bitext: Dataset, languages: list[str],
    world_size: int,
) -> TrainingInfo:  # fmt: skip
    """What the model card will say about this run (``optical_st_run.json`` in ``final/`` and ``best/``)."""
    student_facts, teacher_facts = models.student_facts, models.teacher_facts
    return TrainingInfo(
        # Hub ids for the card (the offline e5 build's PROVENANCE.md names intfloat/multilingual-e5-small);
        # the arguments as given (possibly local paths) are kept as student_argument/teacher_argument.
        base_model=student_facts.get("base_model"),
        base_model_license=student_facts.get("license"),
        base_model_note=student_facts.get("note"),
        student_argument=models.student_label,
        teacher=teacher_facts.get("base_model") or models.teacher_label,
        teacher_note=teacher_facts.get("note"),
        teacher_argument=models.teacher_label,
        loss={
            "name": {"mse": "MSELoss"}.get(recipe.loss, "OTDistillLoss"),
            "config": setup.loss_config,
            "citation": getattr(setup.loss, "citation", ""),
        },
        languages=languages,
        bitext=bitext_summary(bitext),
        hyperparameters={
            "objective": recipe.loss, "steps": recipe.steps, "epochs": recipe.epochs,
            "batch_size": recipe.batch_size, "max_length": models.max_length, "learning_rate": recipe.lr,
            "warmup_ratio": recipe.warmup_ratio, "group_by_length": recipe.group_by_length,
            "world_size": world_size, "weight_decay": recipe.weight_decay, "seed": recipe.seed,
            "prompt": setup.prompt, "teacher_prompt": setup.teacher_prompt, "frozen_parameters": setup.frozen,
            "schedules": recipe.to_dict()["schedules"],
        },
    )  # fmt: skip


def _running_record(
    models: Models, setup: TrainerSetup, recipe: DistillationRecipe, languages: list[str], counts: dict[str, int],
    metric: str | None, world_size: int, evaluator: Any,
) -> dict[str, Any]:  # fmt: skip
    """The run record (``training_run.json``) as the run starts; :func:`finish_run` completes it."""
    return {
        "status": "running",
        "loss": recipe.loss, "steps": recipe.steps, "epochs": recipe.epochs, "batch_size": recipe.batch_size,
        "max_length": models.max_length, "group_by_length": recipe.group_by_length, "lr": recipe.lr,
        "warmup_ratio": recipe.warmup_ratio, "weight_decay": recipe.weight_decay, "seed": recipe.seed,
        "loss_config": setup.loss_config, "schedules": recipe.to_dict()["schedules"],
        "prompt": setup.prompt, "teacher_prompt": setup.teacher_prompt, "frozen_parameters": setup.frozen,
        "languages": languages, "pairs": counts,
        "metric": metric, "eval_steps": recipe.eval_steps, "world_size": world_size,
        "evaluator": evaluator.get_config_dict() if hasattr(evaluator, "get_config_dict") else None,
        "recipe": recipe.to_dict(), "teacher_cache": setup.teacher_cache_record,
    }  # fmt: skip
