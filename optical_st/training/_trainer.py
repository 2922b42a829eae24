"""Building the trainer: the models made ready, the training arguments, the loss, the collator, the callback.

:func:`build_trainer` is the middle of :func:`~optical_st.training.distill`: after the pairs are prepared
(:mod:`optical_st.training._pairs`), before the run is finished (:mod:`optical_st.training._run_dir`).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentence_transformers import SentenceTransformerTrainer

from optical_st.hub import model_provenance
from optical_st.pretrained import model_label
from optical_st.search import complete_document_prompt
from optical_st.training._batches import length_sampler
from optical_st.training._callback import OTDistillCallback
from optical_st.training._guard import DivergenceGuard
from optical_st.training._pairs import with_teacher_labels
from optical_st.training._recipe import DistillationRecipe
from optical_st.training._run_dir import CHECKPOINTS_DIRNAME
from optical_st.training._teacher_cache import cached_teacher_labels, fill_for_ot, fill_record

if TYPE_CHECKING:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainingArguments

    from optical_st.teacher_cache import TeacherCache

logger = logging.getLogger(__name__)


@dataclass
class Models:
    """Student and teacher made ready for a run, with what the run record says about them."""

    student: SentenceTransformer
    teacher: SentenceTransformer
    student_label: str | None
    teacher_label: str | None
    student_facts: dict[str, str]
    teacher_facts: dict[str, str]
    max_length: int | None  # the recipe's, capped at what both models take


def prepare_models(
    student: SentenceTransformer | str | Path,
    teacher: SentenceTransformer | str | Path,
    max_length: int | None,
) -> Models:
    """Load names, check the pair can train together, freeze the teacher, cap ``max_length``."""
    student_label, teacher_label = model_label(student), model_label(teacher)
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
    # every save of the run (checkpoints, best/, final/) is local: sentence-transformers' card would ask the Hub
    # for the base model's info on each save, and a stalled Hub held the run there (issue 24)
    card = getattr(student, "model_card_data", None)
    if card is not None:
        card.local_files_only = True
    max_length = capped_max_length(max_length, student, teacher)
    check_room_for_text(max_length, {"student": student, "teacher": teacher})
    return Models(student, teacher, student_label, teacher_label, student_facts, teacher_facts, max_length)


def training_arguments(
    recipe: DistillationRecipe, output_dir: Path, student: SentenceTransformer
) -> SentenceTransformerTrainingArguments:
    """The trainer's arguments; creating them joins the process group when launched with several."""
    from sentence_transformers import SentenceTransformerTrainingArguments

    on_cpu = device_of(student).type == "cpu"
    return SentenceTransformerTrainingArguments(
        output_dir=str(output_dir / CHECKPOINTS_DIRNAME),
        max_steps=recipe.steps if recipe.steps is not None else -1,
        num_train_epochs=recipe.epochs,
        per_device_train_batch_size=recipe.batch_size,
        learning_rate=recipe.lr,
        weight_decay=recipe.weight_decay,
        seed=recipe.seed,
        data_seed=recipe.seed,
        logging_steps=recipe.logging_steps,
        logging_first_step=True,
        # a NaN loss is logged as NaN (transformers would log the running mean), so DivergenceGuard sees it
        logging_nan_inf_filter=False,
        save_strategy="steps" if recipe.save_steps else "no",
        save_steps=recipe.save_steps or 500,
        save_total_limit=2,
        report_to=recipe.report_to if isinstance(recipe.report_to, str) else list(recipe.report_to),
        disable_tqdm=not recipe.show_progress_bar,
        prompts=None,  # set by build_trainer, once the prompt is resolved
        dataloader_drop_last=False,
        # A model loaded on the CPU trains there; under torchrun accelerate then runs gloo DDP across the
        # processes (without use_cpu it sees no GPU, no distributed type, and each process trains alone).
        use_cpu=on_cpu,
        # gloo is torch's CPU backend (accelerate would try MPI first when torch was built with it); it may
        # only be named when launched with several processes, else accelerate expects a process group
        ddp_backend="gloo" if on_cpu and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
    )


@dataclass
class TrainerSetup:
    """A trainer ready to be made: its arguments, and what the run record says about the loss and inputs."""

    trainer_options: dict[str, Any]  # DistillTrainer's arguments (the trainer is made when the run starts)
    loss: Any
    prompt: str | None
    teacher_prompt: str | None
    frozen: list[str]
    teacher_cache: TeacherCache | None = None
    teacher_cache_record: dict[str, Any] | None = None  # as filled, before training

    @property
    def loss_config(self) -> dict[str, Any]:
        return self.loss.get_config_dict() if hasattr(self.loss, "get_config_dict") else {}

    def make_trainer(self, callback: OTDistillCallback, callbacks: Iterable[Any]) -> DistillTrainer:
        """The trainer, with ``callback`` first among its callbacks (so reporters see ``ot/*``)."""
        trainer = DistillTrainer(**self.trainer_options, callbacks=list(callbacks))
        callback.attach(trainer)
        # before every other callback: no evaluation, best/ or checkpoint after a diverged step
        trainer.callback_handler.callbacks.insert(0, DivergenceGuard(callback.eval_steps))
        return trainer


def build_trainer(
    models: Models,
    bitext: Dataset,
    recipe: DistillationRecipe,
    args: SentenceTransformerTrainingArguments,
) -> TrainerSetup:
    """Prompts, frozen parameters, the loss and its dataset, warm-up, batches and the collator."""
    from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator

    student, teacher, max_length = models.student, models.teacher, models.max_length
    text_prompt, teacher_prompt = (
        training_prompt(student, recipe.prompt),
        training_prompt(teacher, recipe.prompt),
    )
    args.prompts = text_prompt
    warn_unknown_prompt_name(recipe.prompt, student, teacher)
    frozen = freeze_input_embeddings(student) if recipe.freeze_embeddings else []
    loss = build_loss(recipe, student, teacher)
    if args.world_size > 1 and getattr(loss, "projection", None) is not None:
        # OTDistillLoss looks its projection up among the student's modules, which the DDP wrapper hides
        raise ValueError(
            "several processes with a student whose hidden size differs from the teacher's (a learned token "
            "projection) are not supported yet; train in one process"
        )
    if getattr(loss, "marginals", None) == "idf":
        # IDF from the pairs this run trains on (teacher side on English, student side on the target)
        loss.compute_idf(bitext["english"], bitext["target"])
    cache = None
    if recipe.loss == "mse":
        labels = None
        if recipe.teacher_cache:
            labels, cache = cached_teacher_labels(
                bitext["english"], teacher, teacher_prompt, recipe.teacher_cache
            )
        train_dataset = with_teacher_labels(
            bitext, teacher, teacher_prompt, recipe.batch_size, recipe.show_progress_bar, labels
        )
    else:
        train_dataset = bitext.select_columns(["english", "target"])
    n_steps = recipe.steps
    if n_steps is None:
        n_steps = math.ceil(len(train_dataset) / (recipe.batch_size * args.world_size) * recipe.epochs)
    args.warmup_steps = round(recipe.warmup_ratio * n_steps)
    if recipe.group_by_length:
        args.batch_sampler = length_sampler(student, train_dataset, text_prompt, max_length)
    # max_length truncates in the collator, for training only: the models keep their own max_seq_length,
    # so evaluation, the saved checkpoints and later users see full-length inputs.
    collator_options = {"prompts": text_prompt, "max_length": max_length}
    if recipe.loss != "mse" and not loss.shared_tokenizer:
        # the teacher must tokenize the English column itself (see OTDistillLoss)
        data_collator = loss.data_collator(teacher_prompt=teacher_prompt, **collator_options)
    else:
        data_collator = SentenceTransformerDataCollator(preprocess_fn=student.preprocess, **collator_options)
    if recipe.teacher_cache and recipe.loss != "mse":
        cache = fill_for_ot(recipe.teacher_cache, loss, train_dataset, data_collator)
    trainer_options = {"model": student, "args": args, "train_dataset": train_dataset, "loss": loss,
                       "data_collator": data_collator}  # fmt: skip
    return TrainerSetup(trainer_options, loss, text_prompt, teacher_prompt, frozen, cache, fill_record(cache))


def load_model(model: SentenceTransformer | str | Path) -> SentenceTransformer:
    if isinstance(model, (str, Path)):
        from optical_st.pretrained import load_sentence_transformer

        return load_sentence_transformer(str(model))
    return model


def device_of(model: Any) -> Any:
    return next(model.parameters()).device


def build_loss(recipe: DistillationRecipe, student: SentenceTransformer, teacher: SentenceTransformer) -> Any:
    """The training loss of ``recipe.loss``: ``OTDistillLoss`` (``"ot"``, ``"ot+sentence"``) or ``MSELoss``."""
    if recipe.loss == "mse":
        from sentence_transformers.sentence_transformer.losses import MSELoss

        return MSELoss(student)
    from optical_st.losses import OTDistillLoss

    sentence_weight = recipe.sentence_weight
    if sentence_weight is None:
        sentence_weight = 1.0 if recipe.loss == "ot+sentence" else 0.0
    options = dict(recipe.loss_options)
    if recipe.reg is not None:
        options["reg"] = recipe.reg
    return OTDistillLoss(student, teacher, cost=recipe.cost, sentence_weight=sentence_weight, **options)


def training_prompt(student: SentenceTransformer, prompt: str | None) -> str | None:
    """``prompt`` may name one of the student's prompts (e.g. E5's ``"query"``) or be literal text."""
    if prompt is None:
        return None
    prompts = getattr(student, "prompts", None) or {}
    return prompts.get(prompt, prompt if prompt not in ("query", "passage", "document") else None)


def warn_unknown_prompt_name(prompt: str | None, *models: SentenceTransformer) -> None:
    """Warn when ``prompt`` looks like a prompt name (``querry``) that no model has: it is used as literal text."""
    if not prompt or not prompt.isidentifier() or prompt in ("query", "passage", "document"):
        return
    known = sorted({name for model in models for name in (getattr(model, "prompts", None) or {})})
    if prompt not in known:
        logger.warning(
            "--prompt %r is no prompt name of the models (they have: %s); it is prepended as literal text",
            prompt, ", ".join(known) or "none",
        )  # fmt: skip


def capped_max_length(
    max_length: int | None, student: SentenceTransformer, teacher: SentenceTransformer
) -> int | None:
    """``max_length`` no longer than either model takes (a longer one overflows the position embeddings)."""
    limits = [limit for limit in (student.max_seq_length, teacher.max_seq_length) if limit]
    if max_length is None or not limits or max_length <= min(limits):
        return None if max_length is None else int(max_length)
    logger.warning(
        "max_length %d is more than the models take (student %s, teacher %s tokens); training uses %d",
        max_length, student.max_seq_length, teacher.max_seq_length, min(limits),
    )  # fmt: skip
    return min(limits)


def check_room_for_text(max_length: int | None, models: dict[str, SentenceTransformer]) -> None:
    """Refuse a ``max_length`` that the special tokens fill: every pair would be skipped and nothing trained."""
    for side, model in models.items():
        tokenizer = getattr(model, "tokenizer", None)
        if max_length is None or tokenizer is None:
            continue
        special = len(tokenizer("")["input_ids"])  # e.g. [CLS] [SEP]
        if max_length <= special:
            raise ValueError(
                f"max_length {max_length} (--max-length) leaves no token of text: the {side}'s tokenizer adds {special} "
                f"special tokens to every input; use at least {special + 1} (e.g. the default 128)"
            )


class DistillTrainer(SentenceTransformerTrainer):
    """``SentenceTransformerTrainer`` whose distributed wrapper also carries the student's tokenizer.

    With several processes the trainer wraps the student in ``DistributedDataParallel`` and
    sentence-transformers puts the wrapper into the loss, so that every forward goes through it and
    the gradients are averaged across processes; it binds ``preprocess`` and
    ``get_embedding_dimension`` onto the wrapper for the losses that read them. ``OTDistillLoss`` also
    reads the student's ``tokenizer`` (its special-token mask), which the wrapper would hide.
    """

    def override_model_in_loss(self, loss: Any, model: Any) -> Any:
        inner = getattr(model, "module", None)
        if inner is not None and hasattr(inner, "tokenizer") and not hasattr(model, "tokenizer"):
            model.tokenizer = inner.tokenizer
        return super().override_model_in_loss(loss, model)


def freeze_input_embeddings(student: SentenceTransformer) -> list[str]:
    """Freeze the token embedding matrix of the student's transformer; return the frozen parameter names."""
    embeddings = student[0].auto_model.get_input_embeddings()
    embeddings.requires_grad_(False)
    names = {id(parameter): name for name, parameter in student.named_parameters(remove_duplicate=False)}
    return [names[id(parameter)] for parameter in embeddings.parameters() if id(parameter) in names]
