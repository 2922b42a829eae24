"""The OT token alignment of a sentence pair, the picture of what OPTICAL's loss optimises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


from optical_st.app._corpus import DemoInputError

MAX_ALIGN_CHARS = 400


@dataclass(frozen=True)
class TokenAlignment:
    student_tokens: list[str]
    teacher_tokens: list[str]
    plan: np.ndarray  # (n_student, n_teacher), sums to 1
    cost: np.ndarray  # (n_student, n_teacher)
    student_labels: list[str] = field(default_factory=list)  # tokens as shown (no tokenizer markers)
    teacher_labels: list[str] = field(default_factory=list)

    @property
    def transport_cost(self) -> float:
        return float((self.plan * self.cost).sum())

    @property
    def row_shares(self) -> np.ndarray:
        """Each student token's mass split over the teacher tokens (rows sum to 1): the heatmap's scale."""
        return self.plan / np.maximum(self.plan.sum(axis=1, keepdims=True), 1e-12)


def token_labels(tokens: Sequence[str], special_tokens: set[str]) -> list[str]:
    """Tokens as a reader wants them: no word-start marker (``▁``), ``·`` before a word's continuation.

    SentencePiece marks the start of a word (``▁land``, ``lock``, ``ed``); WordPiece marks continuations
    (``land``, ``##lock``). Both become ``land``, ``·lock``, ``·ed``.
    """
    sentencepiece = any(token.startswith("▁") for token in tokens)
    labels = []
    for token in tokens:
        if token in special_tokens:
            labels.append(token)
        elif sentencepiece:
            labels.append(token[1:] or "␣" if token.startswith("▁") else f"·{token}")
        else:
            labels.append(f"·{token[2:]}" if token.startswith("##") else token)
    return labels


def _token_embeddings(
    model: SentenceTransformer, text: str, keep_special: bool
) -> tuple[list[str], list[str], object]:
    """Tokens of ``text``, their labels and their ``(n, d)`` contextual embeddings (no prompt, like OTDistillLoss)."""
    import torch

    # preprocess() tokenizes with the settings encode() uses: calling the shared fast tokenizer with other
    # padding settings would reconfigure it, and a concurrent encode then fails with "Already borrowed".
    ids = model.preprocess([text])["input_ids"][0].tolist()
    embeddings = model.encode(
        text, output_value="token_embeddings", convert_to_tensor=True, show_progress_bar=False
    )
    if embeddings.shape[0] != len(ids):
        raise RuntimeError(
            f"tokenizer gave {len(ids)} tokens but the model returned {embeddings.shape[0]} vectors"
        )
    special = set() if keep_special else set(getattr(model.tokenizer, "all_special_ids", None) or [])
    keep = [token_id not in special for token_id in ids]
    tokens = model.tokenizer.convert_ids_to_tokens(ids)
    kept_tokens = [token for token, kept in zip(tokens, keep, strict=True) if kept]
    labels = token_labels(kept_tokens, set(getattr(model.tokenizer, "all_special_tokens", None) or []))
    return kept_tokens, labels, embeddings[torch.tensor(keep, device=embeddings.device)].detach().cpu()


def align_sentences(
    student: SentenceTransformer,
    sentence: str | None,
    translation: str | None,
    *,
    teacher: SentenceTransformer | None = None,
    reg: float | None = None,
    keep_special_tokens: bool = False,
) -> TokenAlignment:
    """Entropic OT plan between the student's tokens of ``sentence`` and the teacher's of ``translation``.

    The teacher defaults to the student (OPTICAL's setup: a frozen copy of the same encoder reads the
    English side). Cost is cosine distance, as in :class:`optical_st.losses.OTDistillLoss`.
    """
    from optical_st.transport import align

    sentence, translation = (sentence or "").strip(), (translation or "").strip()
    if not sentence or not translation:
        raise DemoInputError("Paste a sentence and its English translation.")
    for what, text in (("sentence", sentence), ("translation", translation)):
        if len(text) > MAX_ALIGN_CHARS:
            raise DemoInputError(
                f"The {what} has {len(text):,} characters; the limit is {MAX_ALIGN_CHARS}. Shorten it."
            )
    if reg is not None and not 0.001 <= float(reg) <= 10:
        raise DemoInputError("The entropic regularisation must be between 0.001 and 10.")
    teacher = teacher or student
    student_tokens, student_labels, student_embeddings = _token_embeddings(
        student, sentence, keep_special_tokens
    )
    teacher_tokens, teacher_labels, teacher_embeddings = _token_embeddings(
        teacher, translation, keep_special_tokens
    )
    if student_embeddings.shape[-1] != teacher_embeddings.shape[-1]:
        raise DemoInputError(
            f"Student and teacher token sizes differ ({student_embeddings.shape[-1]} vs "
            f"{teacher_embeddings.shape[-1]}); the demo aligns models with the same hidden size."
        )
    if not student_tokens or not teacher_tokens:
        raise DemoInputError("One side has no tokens besides special tokens.")
    # reg is read as align() reads it by default (its reg_scale), so the picture follows the loss's defaults.
    settings = {} if reg is None else {"reg": float(reg)}
    plan, cost = align(student_embeddings, teacher_embeddings, cost="cosine", **settings)
    return TokenAlignment(
        student_tokens, teacher_tokens, plan.numpy(), cost.numpy(), student_labels, teacher_labels
    )
