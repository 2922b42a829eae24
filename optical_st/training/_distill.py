"""``distill``: the training recipe as one call (used by ``optical-st train``, the scaling study, the experiments)."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer

from optical_st.hub import model_provenance
from optical_st.search import complete_document_prompt
from optical_st.training._batches import length_sampler
from optical_st.training._callback import OTDistillCallback
from optical_st.training._pairs import (
    bitext_summary,
    check_languages_evaluated,
    clean_bitext,
    evaluator_languages,
    with_teacher_labels,
)
from optical_st.training._run_dir import (
    CHECKPOINTS_DIRNAME,
    FINAL_DIRNAME,
    RUN_FILE,
    RunBookkeeping,
    check_output_dir,
    mean_training_loss,
    prepare_output_dir,
    record_failure,
    resume_checkpoint,
    write_run_file,
)
from optical_st.training._schedule import Schedule
from optical_st.training._trainer import (
    LOSS_NAMES,
    DistillTrainer,
    LossName,
    build_loss,
    capped_max_length,
    device_of,
    freeze_input_embeddings,
    label_of,
    load_model,
    training_prompt,
)

logger = logging.getLogger(__name__)


def distill(
    student: SentenceTransformer | str | Path,
    teacher: SentenceTransformer | str | Path,
    bitext: Dataset,
    *,
    output_dir: str | Path,
    loss: LossName = "ot",
    steps: int | None = None,
    epochs: float = 1.0,
    batch_size: int = 16,
    max_length: int | None = 128,
    lr: float = 2e-5,
    warmup_ratio: float = 0.1,
    weight_decay: float = 0.01,
    seed: int = 0,
    reg: float | None = None,
    cost: str = "cosine",
    sentence_weight: float | None = None,
    loss_options: Mapping[str, Any] | None = None,
    schedules: Mapping[str, Schedule] | None = None,
    freeze_embeddings: bool = False,
    group_by_length: bool = True,
    prompt: str | None = "query",
    languages: Iterable[str] | None = None,
    exclude_texts: Iterable[str] = (),
    evaluator: Any = None,
    eval_steps: int | None = None,
    metric: str | None = None,
    hub_model_id: str | None = None,
    push_fn: Callable[..., Any] | None = None,
    save_steps: int | None = 500,
    logging_steps: int = 10,
    report_to: str | list[str] = "none",
    resume_from_checkpoint: str | bool | None = None,
    overwrite: bool = False,
    show_progress_bar: bool = True,
    callbacks: Iterable[Any] = (),
) -> Path:
    """Distil ``teacher`` (English side) into ``student`` (other side) on ``bitext``; return the final model dir.

    Args:
        student: the model to train (a ``SentenceTransformer`` or a name/path for
            :func:`optical_st.pretrained.load_sentence_transformer`). Trained in place.
        teacher: the frozen teacher (same forms). May be the same checkpoint as the student (OPTICAL's
            setup); it is never updated.
        bitext: ``english``/``target`` pairs (:func:`optical_st.data.load_bitext` layout).
        output_dir: run directory (see the module docstring); refused if it holds another run unless
            ``overwrite`` or ``resume_from_checkpoint``.
        loss: ``"ot"``, ``"ot+sentence"`` or ``"mse"``.
        steps: optimizer steps (overrides ``epochs`` when given). The run then uses ``steps x batch_size``
            pairs (per process) drawn by a ``seed``-shuffle of the cleaned bitext, each once.
        epochs: passes over the bitext when ``steps`` is ``None``.
        batch_size: pairs per device per step.
        max_length: token limit of student and teacher in training, applied by the data collator
            (``None``: the models' own). The models' ``max_seq_length`` is left as it is, so evaluation
            during training and the saved models see full-length inputs.
        lr, warmup_ratio, weight_decay, seed: optimisation (linear decay after warm-up; AdamW).
        reg, cost, sentence_weight, loss_options: passed to :class:`~optical_st.losses.OTDistillLoss`
            (``reg=None``: the loss's default; ``loss_options`` e.g. ``{"debias": False}``,
            ``{"reg_scale": "absolute"}``); with ``loss_options={"marginals": "idf"}`` the IDF weights
            are fitted on this run's pairs.
        schedules: loss attribute -> :class:`~optical_st.callbacks.Schedule` (OT losses only).
        freeze_embeddings: keep the student's input (token) embedding matrix fixed. In
            multilingual-e5-small it holds 96.2M of 117.5M parameters, most of them rows that a few
            thousand pairs never touch; frozen, AdamW neither updates nor keeps state for it, and a step
            is 2-3x faster on CPU (bench/loss_overhead.py).
        group_by_length: batches of pairs of similar token count (:class:`LengthGroupedBatchSampler`):
            less padding, 2.5-3x faster on CPU (bench/length_grouping.py); the same pairs each epoch, in
            another batch composition. ``False``: sentence-transformers' random batches.
        prompt: prompt prepended during training: the name of a prompt (default ``"query"``, E5's
            symmetric prompt), resolved by each model on its own side (a teacher without that prompt,
            e.g. all-MiniLM-L6-v2, gets none), or literal text for both sides; ``None`` for no prompt.
        languages: train only on these languages of the bitext.
        exclude_texts: texts never to train on (e.g. :func:`benchmark_texts` of the evaluation).
        evaluator: e.g. a :class:`~optical_st.evaluation.CLIREvaluator`; every bitext language must be
            one it evaluates. Runs every ``eval_steps`` and at the end; the best model by ``metric``
            (default: the evaluator's ``primary_metric``) goes to ``output_dir/best``.
        hub_model_id, push_fn: push each new best model (after saving it locally); a failed push is
            reported and training continues.
        save_steps: trainer checkpoint interval (``None`` or 0: no intermediate checkpoints).
        logging_steps: log interval (loss, ``ot/*`` diagnostics).
        report_to: transformers reporters (``"tensorboard"``, ``"wandb"``, ...).
        resume_from_checkpoint: a checkpoint path, or ``True`` for the latest under ``output_dir``.
        overwrite: replace a previous run in ``output_dir``.
        show_progress_bar: tqdm progress bar for training.
        callbacks: extra ``TrainerCallback`` objects.

    Returns:
        ``output_dir / "final"``, the trained student (a sentence-transformers folder).

    Raises:
        ValueError: unknown loss, teacher and student on different devices, bitext languages the
            evaluation lacks, no usable training pairs.
        OutputDirectoryInUseError: ``output_dir`` holds another run.
    """
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator

    # Everything that can be refused is checked before the output directory is touched.
    if loss not in LOSS_NAMES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSS_NAMES)}")
    if steps is not None and steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    if not epochs > 0:
        raise ValueError(f"epochs must be positive, got {epochs}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if max_length is not None and not max_length > 0:
        raise ValueError(f"max_length must be a positive number of tokens (or None), got {max_length}")
    if not 0 <= warmup_ratio <= 1:
        raise ValueError(f"warmup_ratio must be between 0 and 1, got {warmup_ratio}")
    if save_steps is not None and save_steps < 0:
        raise ValueError(f"save_steps must be 0 or more (0: no intermediate checkpoints), got {save_steps}")
    if schedules and loss == "mse":
        raise ValueError("schedules apply to the OT loss's reg/ot_weight/sentence_weight, not to loss='mse'")
    output_dir = check_output_dir(output_dir, overwrite=overwrite, resume=bool(resume_from_checkpoint))
    resume_from_checkpoint = resume_checkpoint(output_dir, resume_from_checkpoint)

    student_label, teacher_label = label_of(student), label_of(teacher)
    student, teacher = load_model(student), load_model(teacher)
    # Saved checkpoints must encode documents the way they are evaluated (see complete_document_prompt).
    complete_document_prompt(student)
    student_facts, teacher_facts = model_provenance(student), model_provenance(teacher)
    if student is teacher:
        raise ValueError("teacher and student must be two model objects (load the checkpoint twice)")
    if device_of(student) != device_of(teacher):
        raise ValueError(
            f"teacher is on {device_of(teacher)} but student on {device_of(student)}; "
            "load both on the same device (the trainer moves them together)"
        )
    teacher.eval()
    teacher.requires_grad_(False)
    max_length = capped_max_length(max_length, student, teacher)

    bitext, counts = clean_bitext(bitext, languages=languages, exclude_texts=exclude_texts)
    trained_languages = sorted(set(bitext["language"])) if "language" in bitext.column_names else []
    if evaluator is not None:
        check_languages_evaluated(trained_languages, evaluator_languages(evaluator))
        metric = metric or getattr(evaluator, "primary_metric", None)
        name = getattr(evaluator, "name", "")
        if metric and name and not metric.startswith(f"{name}_"):
            metric = f"{name}_{metric}"

    on_cpu = device_of(student).type == "cpu"
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir / CHECKPOINTS_DIRNAME),
        max_steps=steps if steps is not None else -1,
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        weight_decay=weight_decay,
        seed=seed,
        data_seed=seed,
        logging_steps=logging_steps,
        logging_first_step=True,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        save_total_limit=2,
        report_to=report_to,
        disable_tqdm=not show_progress_bar,
        prompts=None,  # set below, once the prompt is resolved
        dataloader_drop_last=False,
        # A model loaded on the CPU trains there; under torchrun accelerate then runs gloo DDP across the
        # processes (without use_cpu it sees no GPU, no distributed type, and each process trains alone).
        use_cpu=on_cpu,
        # gloo is torch's CPU backend (accelerate would try MPI first when torch was built with it); it may
        # only be named when launched with several processes, else accelerate expects a process group
        ddp_backend="gloo" if on_cpu and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
    )
    world_size = args.world_size  # creating the arguments joined the process group, if launched with several
    is_main = args.process_index == 0
    if steps is not None:
        # A fixed step budget sees at most steps x batch x processes pairs: take them from a seeded shuffle up
        # front, so every objective trains on the same pairs and MSE labels only the pairs it uses.
        needed = steps * batch_size * world_size
        if len(bitext) > needed:
            bitext = bitext.shuffle(seed=seed).select(range(needed))
    elif world_size > 1 and len(bitext) % (batch_size * world_size):
        # Distributed, the trainer drops uneven last batches (and accelerate would pad a shard with repeats):
        # leave the remainder out up front, so that the count below is what was trained on.
        usable = len(bitext) // (batch_size * world_size) * batch_size * world_size
        if usable == 0:
            raise ValueError(
                f"{len(bitext)} training pairs are fewer than one step of {batch_size} pairs x {world_size} processes"
            )
        counts["uneven_remainder"] = len(bitext) - usable
        bitext = bitext.shuffle(seed=seed).select(range(usable))
    counts["used"] = len(bitext)
    logger.info("training pairs: %s (%d process(es))", counts, world_size)

    text_prompt, teacher_prompt = training_prompt(student, prompt), training_prompt(teacher, prompt)
    args.prompts = text_prompt
    frozen = freeze_input_embeddings(student) if freeze_embeddings else []
    loss_object = build_loss(loss, student, teacher, reg=reg, cost=cost, sentence_weight=sentence_weight,
                             loss_options=loss_options)  # fmt: skip
    if world_size > 1 and getattr(loss_object, "projection", None) is not None:
        # OTDistillLoss looks its projection up among the student's modules, which the DDP wrapper hides
        raise ValueError(
            "several processes with a student whose hidden size differs from the teacher's (a learned token "
            "projection) are not supported yet; train in one process"
        )
    if getattr(loss_object, "marginals", None) == "idf":
        # IDF from the pairs this run trains on (teacher side on English, student side on the target)
        loss_object.compute_idf(bitext["english"], bitext["target"])
    if loss == "mse":
        train_dataset = with_teacher_labels(bitext, teacher, teacher_prompt, batch_size, show_progress_bar)
    else:
        train_dataset = bitext.select_columns(["english", "target"])
    n_steps = (
        steps if steps is not None else math.ceil(len(train_dataset) / (batch_size * world_size) * epochs)
    )
    args.warmup_steps = round(warmup_ratio * n_steps)

    run_info = {
        # Hub ids for the card (the offline e5 build's PROVENANCE.md names intfloat/multilingual-e5-small);
        # the arguments as given (possibly local paths) are kept as "student_argument"/"teacher_argument".
        "base_model": student_facts.get("base_model"),
        "base_model_license": student_facts.get("license"),
        "base_model_note": student_facts.get("note"),
        "student_argument": student_label,
        "teacher": teacher_facts.get("base_model") or teacher_label,
        "teacher_note": teacher_facts.get("note"),
        "teacher_argument": teacher_label,
        "loss": {
            "name": {"mse": "MSELoss"}.get(loss, "OTDistillLoss"),
            "config": loss_object.get_config_dict() if hasattr(loss_object, "get_config_dict") else {},
            "citation": getattr(loss_object, "citation", ""),
        },
        "languages": trained_languages,
        "bitext": bitext_summary(bitext),
        "hyperparameters": {
            "objective": loss, "steps": steps, "epochs": epochs, "batch_size": batch_size,
            "max_length": max_length, "learning_rate": lr, "warmup_ratio": warmup_ratio,
            "group_by_length": group_by_length, "world_size": world_size,
            "weight_decay": weight_decay, "seed": seed, "prompt": text_prompt, "teacher_prompt": teacher_prompt,
            "frozen_parameters": frozen,
            "schedules": {k: vars(v) for k, v in (schedules or {}).items()},
        },
    }  # fmt: skip
    callback = OTDistillCallback(
        None if loss == "mse" else loss_object,
        schedules=schedules,
        evaluator=evaluator,
        eval_steps=eval_steps if evaluator is not None else None,
        metric=metric,
        output_dir=output_dir,
        hub_model_id=hub_model_id,
        push_fn=push_fn,
        run_info=run_info,
    )
    if group_by_length:
        args.batch_sampler = length_sampler(student, train_dataset, text_prompt, max_length)
    # max_length truncates in the collator, for training only: the models keep their own max_seq_length,
    # so evaluation, the saved checkpoints and later users see full-length inputs.
    collator_options = {"prompts": text_prompt, "max_length": max_length}
    if loss != "mse" and not loss_object.shared_tokenizer:
        # the teacher must tokenize the English column itself (see OTDistillLoss)
        data_collator = loss_object.data_collator(teacher_prompt=teacher_prompt, **collator_options)
    else:
        data_collator = SentenceTransformerDataCollator(preprocess_fn=student.preprocess, **collator_options)

    # The run starts for real: only now is the output directory changed (by the main process alone).
    bookkeeping = RunBookkeeping()
    try:
        if is_main:
            bookkeeping.previous_run = prepare_output_dir(
                output_dir, overwrite=overwrite and not resume_from_checkpoint
            )
            write_run_file(output_dir, {
                "status": "running",
                "loss": loss, "steps": steps, "epochs": epochs, "batch_size": batch_size,
                "max_length": max_length, "group_by_length": group_by_length, "lr": lr,
                "warmup_ratio": warmup_ratio, "weight_decay": weight_decay, "seed": seed,
                "loss_config": loss_object.get_config_dict() if hasattr(loss_object, "get_config_dict") else {},
                "schedules": {k: vars(v) for k, v in (schedules or {}).items()},
                "prompt": text_prompt, "teacher_prompt": teacher_prompt, "frozen_parameters": frozen,
                "languages": trained_languages, "pairs": counts,
                "metric": metric, "eval_steps": eval_steps, "world_size": world_size,
                "evaluator": evaluator.get_config_dict() if hasattr(evaluator, "get_config_dict") else None,
            })  # fmt: skip
        trainer = DistillTrainer(
            model=student,
            args=args,
            train_dataset=train_dataset,
            loss=loss_object,
            data_collator=data_collator,
            callbacks=[bookkeeping, *callbacks],
        )
        callback.attach(trainer)
        teacher.to(args.device)  # under torchrun / accelerate launch each process trains on its own device
        started = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    except BaseException as error:
        if is_main:
            record_failure(output_dir, error, bookkeeping.previous_run)
        raise
    seconds = time.perf_counter() - started

    final_dir = output_dir / FINAL_DIRNAME
    if is_main:
        student.save(str(final_dir))
        from optical_st.hub import save_run_info

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
    # every process returns once final/ exists
    trainer.accelerator.wait_for_everyone()
    return final_dir
