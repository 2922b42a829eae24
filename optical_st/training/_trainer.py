"""The pieces of a trainer: the loss of an objective, the models' settings and the distributed wrapper."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

from sentence_transformers import SentenceTransformerTrainer

logger = logging.getLogger(__name__)
LossName = Literal["ot", "mse", "ot+sentence"]
LOSS_NAMES: tuple[str, ...] = ("ot", "mse", "ot+sentence")


def load_model(model: SentenceTransformer | str | Path) -> SentenceTransformer:
    if isinstance(model, (str, Path)):
        from optical_st.pretrained import load_sentence_transformer

        return load_sentence_transformer(str(model))
    return model


def label_of(model: Any) -> str | None:
    if isinstance(model, (str, Path)):
        return str(model)
    source = getattr(model, "optical_st_source", None)
    card = getattr(model, "model_card_data", None)
    return getattr(source, "requested", None) or getattr(card, "base_model", None) or None


def device_of(model: Any) -> Any:
    return next(model.parameters()).device


def build_loss(
    kind: LossName,
    student: SentenceTransformer,
    teacher: SentenceTransformer,
    *,
    reg: float | None = None,
    cost: str = "cosine",
    sentence_weight: float | None = None,
    loss_options: Mapping[str, Any] | None = None,
) -> Any:
    """The training loss object for ``kind`` (see the module docstring)."""
    if kind == "mse":
        from sentence_transformers.sentence_transformer.losses import MSELoss

        return MSELoss(student)
    if kind not in ("ot", "ot+sentence"):
        raise ValueError(f"unknown loss {kind!r}; choose one of {', '.join(LOSS_NAMES)}")
    from optical_st.losses import OTDistillLoss

    if sentence_weight is None:
        sentence_weight = 1.0 if kind == "ot+sentence" else 0.0
    elif kind == "ot" and sentence_weight != 0.0:
        raise ValueError("loss='ot' has no sentence term; use loss='ot+sentence' to set sentence_weight")
    options = dict(loss_options or {})
    if reg is not None:
        options["reg"] = reg
    return OTDistillLoss(student, teacher, cost=cost, sentence_weight=sentence_weight, **options)


def training_prompt(student: SentenceTransformer, prompt: str | None) -> str | None:
    """``prompt`` may name one of the student's prompts (e.g. E5's ``"query"``) or be literal text."""
    if prompt is None:
        return None
    prompts = getattr(student, "prompts", None) or {}
    return prompts.get(prompt, prompt if prompt not in ("query", "passage", "document") else None)


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
