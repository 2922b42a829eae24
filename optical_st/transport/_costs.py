"""Token distances: the cost matrices between student and teacher tokens (one kernel per cost)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

CostName = Literal["cosine", "sqeuclidean"]


def _cosine_costs(student_tokens: Tensor, teacher_tokens: Tensor) -> Tensor:
    student_unit = torch.nn.functional.normalize(student_tokens, dim=-1, eps=1e-8)
    teacher_unit = torch.nn.functional.normalize(teacher_tokens, dim=-1, eps=1e-8)
    return 1.0 - student_unit @ teacher_unit.transpose(1, 2)


def _sqeuclidean_costs(student_tokens: Tensor, teacher_tokens: Tensor) -> Tensor:
    # ||s||^2 + ||t||^2 - 2 s.t, clamped: the expansion can dip below 0 by rounding.
    student_sq = (student_tokens * student_tokens).sum(-1, keepdim=True)
    teacher_sq = (teacher_tokens * teacher_tokens).sum(-1).unsqueeze(1)
    return (student_sq + teacher_sq - 2.0 * student_tokens @ teacher_tokens.transpose(1, 2)).clamp_min(0.0)


_COST_KERNELS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "cosine": _cosine_costs,
    "sqeuclidean": _sqeuclidean_costs,
}

#: Token distances :func:`cost_matrix` computes.
COSTS: tuple[str, ...] = tuple(_COST_KERNELS)


def pair_mask(student_mask: Tensor, teacher_mask: Tensor) -> Tensor:
    """``(B, n, m)`` bool: the entries between a real student token and a real teacher token."""
    return student_mask.bool().unsqueeze(2) & teacher_mask.bool().unsqueeze(1)


def cost_matrix(
    student_tokens: Tensor,
    teacher_tokens: Tensor,
    cost: CostName = "cosine",
    student_mask: Tensor | None = None,
    teacher_mask: Tensor | None = None,
) -> Tensor:
    """Pairwise token distances, differentiable with respect to both inputs.

    Args:
        student_tokens: ``(B, n, d)`` student token embeddings.
        teacher_tokens: ``(B, m, d)`` teacher token embeddings (same ``d``; project first if needed).
        cost: one of :data:`COSTS`: ``"cosine"`` (``1 - cos``, in ``[0, 2]``) or ``"sqeuclidean"``
            (``||s - t||^2``).
        student_mask: optional ``(B, n)`` bool/0-1 mask; entries of masked rows are set to 0.
        teacher_mask: optional ``(B, m)`` mask; entries of masked columns are set to 0.

    Returns:
        ``(B, n, m)`` cost matrix in the dtype of the inputs. Masked entries are 0 (finite on
        purpose: they carry no mass, and ``inf`` would poison the log-domain iterations).
    """
    if cost not in _COST_KERNELS:
        raise ValueError(f"unknown cost {cost!r}; choose one of {COSTS}")
    if student_tokens.dim() != 3 or teacher_tokens.dim() != 3:
        raise ValueError(
            f"expected (B, n, d) and (B, m, d) tensors, got {tuple(student_tokens.shape)} and "
            f"{tuple(teacher_tokens.shape)}"
        )
    if (
        student_tokens.shape[0] != teacher_tokens.shape[0]
        or student_tokens.shape[-1] != teacher_tokens.shape[-1]
    ):
        raise ValueError(
            f"batch and hidden sizes must match: student {tuple(student_tokens.shape)} vs teacher "
            f"{tuple(teacher_tokens.shape)} (use a projection when the hidden sizes differ)"
        )
    costs = _COST_KERNELS[cost](student_tokens, teacher_tokens)
    if student_mask is None and teacher_mask is None:
        return costs
    batch, n, m = costs.shape
    if student_mask is None:
        student_mask = torch.ones(batch, n, dtype=torch.bool, device=costs.device)
    if teacher_mask is None:
        teacher_mask = torch.ones(batch, m, dtype=torch.bool, device=costs.device)
    return costs.masked_fill(~pair_mask(student_mask, teacher_mask), 0.0)
