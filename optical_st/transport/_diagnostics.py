"""What a plan looks like: per-pair statistics for the logs, and one pair's alignment for the demo heatmap."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from optical_st.transport._costs import CostName, cost_matrix
from optical_st.transport._marginals import token_marginals
from optical_st.transport._regularisation import DEFAULT_REG, DEFAULT_REG_SCALE, RegScale, pair_reg
from optical_st.transport._solve import solve_plans


def plan_statistics(
    plans: Tensor, costs: Tensor, student_marginals: Tensor, teacher_marginals: Tensor
) -> dict[str, Tensor]:
    """Diagnostics per pair, each a ``(B,)`` tensor (all detached).

    - ``transport_cost``: ``<T, C>``.
    - ``plan_entropy``: ``-sum T log T`` (nats); ``log(n * m)`` for the independent coupling, lower is
      sharper.
    - ``marginal_error``: ``||T 1 - a||_1 + ||T^T 1 - b||_1`` (how far Sinkhorn is from convergence).
    - ``plan_sharpness``: mass-weighted mean over student tokens of ``max_j T_ij / a_i``: 1 when every
      student token sends all its mass to one teacher token, ``1 / m`` for a uniform spread.
    """
    plans = plans.detach().float()
    costs = costs.detach().float()
    a = student_marginals.detach().float()
    b = teacher_marginals.detach().float()
    entropy = -torch.special.xlogy(plans, plans).sum(dim=(1, 2))
    marginal_error = (plans.sum(2) - a).abs().sum(1) + (plans.sum(1) - b).abs().sum(1)
    row_share = plans.amax(dim=2) / a.clamp_min(1e-30)
    sharpness = (a * row_share).sum(1)
    return {
        "transport_cost": (plans * costs).sum(dim=(1, 2)),
        "plan_entropy": entropy,
        "marginal_error": marginal_error,
        "plan_sharpness": sharpness,
    }


class Alignment(NamedTuple):
    """A single-pair alignment: ``plan`` and ``cost`` are ``(n, m)`` float tensors (detached)."""

    plan: Tensor
    cost: Tensor


def align(
    student_token_embeddings: Tensor,
    teacher_token_embeddings: Tensor,
    *,
    reg: float = DEFAULT_REG,
    reg_scale: RegScale = DEFAULT_REG_SCALE,
    cost: CostName = "cosine",
    student_weights: Tensor | None = None,
    teacher_weights: Tensor | None = None,
    max_iter: int = 1000,
    tol: float = 1e-5,
    anneal: int = 0,
) -> Alignment:
    """Align one sentence pair: the entropic OT plan between its student and teacher tokens.

    Args:
        student_token_embeddings: ``(n, d)`` tokens of one sentence (no padding).
        teacher_token_embeddings: ``(m, d)`` tokens of its translation.
        reg, reg_scale: entropic regularisation and how it is read (:func:`pair_reg`); pass the
            training loss's values to see the plans it trains with.
        cost: one of :data:`COSTS`.
        student_weights: optional ``(n,)`` non-negative token weights (default uniform).
        teacher_weights: optional ``(m,)`` non-negative token weights (default uniform).
        max_iter, tol, anneal: see :func:`solve_plans`.

    Returns:
        :class:`Alignment` ``(plan, cost)``, both ``(n, m)`` and detached; ``plan`` sums to 1.

    Example::

        import torch
        from optical_st.transport import align

        plan, cost = align(torch.randn(4, 8), torch.randn(6, 8))
        best_teacher_token = plan.argmax(dim=1)   # hard alignment for a heatmap caption
    """
    if student_token_embeddings.dim() != 2 or teacher_token_embeddings.dim() != 2:
        raise ValueError("align() takes one pair: (n, d) and (m, d) tensors")
    if student_token_embeddings.shape[0] == 0 or teacher_token_embeddings.shape[0] == 0:
        raise ValueError("cannot align an empty sentence (0 tokens)")
    student = student_token_embeddings.detach().float()[None]
    teacher = teacher_token_embeddings.detach().float()[None]
    student_mask = torch.ones(student.shape[:2], dtype=torch.bool)
    teacher_mask = torch.ones(teacher.shape[:2], dtype=torch.bool)
    costs = cost_matrix(student, teacher, cost)
    a = token_marginals(student_mask, None if student_weights is None else student_weights.detach()[None])
    b = token_marginals(teacher_mask, None if teacher_weights is None else teacher_weights.detach()[None])
    eps = pair_reg(costs, student_mask, teacher_mask, reg, reg_scale)
    plans = solve_plans(costs, a, b, eps, max_iter=max_iter, tol=tol, anneal=anneal)
    return Alignment(plan=plans[0], cost=costs[0])
