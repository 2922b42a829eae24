"""Token masses: the marginals of each sentence's tokens (uniform, or weighted e.g. by IDF)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


def token_marginals(
    mask: Tensor, weights: Tensor | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Per-sentence token distributions: ``weights`` (or uniform) over the tokens where ``mask`` is set.

    Args:
        mask: ``(B, n)`` bool or 0/1 tensor, 1 for tokens that take part (padding and, if wanted,
            special tokens are 0).
        weights: optional ``(B, n)`` non-negative weights (e.g. IDF or embedding norms).
        dtype: floating dtype of the result.

    Returns:
        ``(B, n)`` tensor of ``dtype``; each row sums to 1, or is all zeros when the row has no mass
        (an empty sentence: callers must drop such rows before :func:`solve_plans`).
    """
    mass = mask.to(dtype)
    if weights is not None:
        if weights.shape != mask.shape:
            raise ValueError(
                f"weights shape {tuple(weights.shape)} does not match mask shape {tuple(mask.shape)}"
            )
        if not torch.isfinite(weights).all() or (weights < 0).any():
            raise ValueError("marginal weights must be finite and non-negative")
        mass = mass * weights.to(torch.float32)
    total = mass.sum(dim=1, keepdim=True)
    return torch.where(
        total > 0, mass / total.clamp_min(torch.finfo(torch.float32).tiny), torch.zeros_like(mass)
    )


def idf_weights(token_id_lists: Iterable[Iterable[int]], vocab_size: int) -> Tensor:
    """Smoothed inverse document frequency per token id, ``log((1 + N) / (1 + df)) + 1``.

    Args:
        token_id_lists: one iterable of token ids per document (sentence).
        vocab_size: size of the id space; ids outside ``[0, vocab_size)`` raise ``ValueError``.

    Returns:
        ``(vocab_size,)`` float32 tensor, strictly positive (unseen ids get the maximum weight).
    """
    document_frequency = torch.zeros(vocab_size, dtype=torch.float64)
    n_documents = 0
    for ids in token_id_lists:
        unique = torch.as_tensor(sorted(set(int(i) for i in ids)), dtype=torch.long)
        if unique.numel() and (unique.min() < 0 or unique.max() >= vocab_size):
            raise ValueError(f"token id out of range [0, {vocab_size}): {unique.min()}..{unique.max()}")
        document_frequency[unique] += 1
        n_documents += 1
    if n_documents == 0:
        raise ValueError("idf_weights needs at least one document")
    return (torch.log((1.0 + n_documents) / (1.0 + document_frequency)) + 1.0).float()
