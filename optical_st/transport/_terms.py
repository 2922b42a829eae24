"""The OT terms a loss minimises: the Sinkhorn divergence and OPTICAL's entropic transport cost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from optical_st.transport._costs import CostName, cost_matrix
from optical_st.transport._regularisation import RegScale, pair_reg
from optical_st.transport._solve import SinkhornInfo, entropic_value, solve_plans, transport_cost

OTTermName = Literal["divergence", "entropic"]


class OTTerm(NamedTuple):
    """One OT term of a batch.

    Attributes:
        value: ``(B,)`` per-pair value, differentiable in the student tokens (envelope gradient).
        plans: ``(B, n, m)`` detached student-teacher plans.
        costs: ``(B, n, m)`` detached student-teacher costs.
        reg: ``(B,)`` the ``eps`` each pair was solved with.
        info: the student-teacher solve's :class:`SinkhornInfo` (the self-terms converge faster).
    """

    value: Tensor
    plans: Tensor
    costs: Tensor
    reg: Tensor
    info: SinkhornInfo


def entropic_transport(
    student_tokens: Tensor,
    teacher_tokens: Tensor,
    student_marginals: Tensor,
    teacher_marginals: Tensor,
    *,
    cost: CostName = "cosine",
    reg: float = 0.05,
    reg_scale: RegScale = "absolute",
    max_iter: int = 1000,
    tol: float = 1e-5,
    anneal: int = 0,
) -> OTTerm:
    """OPTICAL's term: ``<T, C>_F`` with ``T`` the entropic plan (biased: see the module docstring).

    Args:
        student_tokens: ``(B, n, d)``; padding marked by zero mass in ``student_marginals``.
        teacher_tokens: ``(B, m, d)``.
        student_marginals: ``(B, n)`` from :func:`token_marginals` (every row with mass).
        teacher_marginals: ``(B, m)``.
        cost: one of :data:`COSTS`.
        reg, reg_scale: ``eps`` of each pair, see :func:`pair_reg`.
        max_iter, tol, anneal: see :func:`solve_plans`.

    Returns:
        :class:`OTTerm` whose ``value`` is ``<T, C>`` per pair.
    """
    student_mask, teacher_mask = student_marginals > 0, teacher_marginals > 0
    costs = cost_matrix(student_tokens, teacher_tokens, cost, student_mask, teacher_mask)
    eps = pair_reg(costs, student_mask, teacher_mask, reg, reg_scale)
    plans, info = solve_plans(
        costs, student_marginals, teacher_marginals, eps, max_iter=max_iter, tol=tol, anneal=anneal,
        return_info=True,
    )  # fmt: skip
    return OTTerm(transport_cost(plans, costs), plans, costs.detach(), eps, info)


def sinkhorn_divergence(
    student_tokens: Tensor,
    teacher_tokens: Tensor,
    student_marginals: Tensor,
    teacher_marginals: Tensor,
    *,
    cost: CostName = "cosine",
    reg: float = 0.05,
    reg_scale: RegScale = "absolute",
    max_iter: int = 1000,
    tol: float = 1e-5,
    anneal: int = 0,
) -> OTTerm:
    """The debiased Sinkhorn divergence ``S_eps(s, t) = OT_eps(s, t) - OT_eps(s, s)/2 - OT_eps(t, t)/2``.

    Each pair's three problems share one ``eps`` (from its student-teacher costs, :func:`pair_reg`).
    The gradient reaches the student through the student-teacher costs and both arguments of the
    student self-costs; the teacher self-term is a constant of the graph, solved anyway so that
    ``value`` is the divergence itself (>= 0 up to solver tolerance, 0 for identical token clouds).
    Entropy is measured as ``sum T log T``; the KL-to-``a b^T`` form of Feydy et al. differs from it
    by ``eps (H(a) + H(b))``, which cancels between the three terms.

    Args:
        student_tokens: ``(B, n, d)``; padding marked by zero mass in ``student_marginals``.
        teacher_tokens: ``(B, m, d)``.
        student_marginals: ``(B, n)`` from :func:`token_marginals` (every row with mass).
        teacher_marginals: ``(B, m)``.
        cost: one of :data:`COSTS`.
        reg, reg_scale: ``eps`` of each pair, see :func:`pair_reg`.
        max_iter, tol, anneal: see :func:`solve_plans`.

    Returns:
        :class:`OTTerm` whose ``value`` is ``S_eps`` per pair; ``plans``/``costs`` are the
        student-teacher ones.
    """
    student_mask, teacher_mask = student_marginals > 0, teacher_marginals > 0
    solve = {"max_iter": max_iter, "tol": tol, "anneal": anneal}
    cross_costs = cost_matrix(student_tokens, teacher_tokens, cost, student_mask, teacher_mask)
    eps = pair_reg(cross_costs, student_mask, teacher_mask, reg, reg_scale)
    student_costs = cost_matrix(student_tokens, student_tokens, cost, student_mask, student_mask)
    with torch.no_grad():
        teacher_costs = cost_matrix(teacher_tokens, teacher_tokens, cost, teacher_mask, teacher_mask)
    cross_plans, info = solve_plans(
        cross_costs, student_marginals, teacher_marginals, eps, return_info=True, **solve
    )
    student_plans = solve_plans(student_costs, student_marginals, student_marginals, eps, **solve)
    teacher_plans = solve_plans(teacher_costs, teacher_marginals, teacher_marginals, eps, **solve)
    value = (
        entropic_value(cross_plans, cross_costs, eps)
        - 0.5 * entropic_value(student_plans, student_costs, eps)
        - 0.5 * entropic_value(teacher_plans, teacher_costs, eps)
    )
    return OTTerm(value, cross_plans, cross_costs.detach(), eps, info)


_OT_TERMS: dict[str, Callable[..., OTTerm]] = {
    "divergence": sinkhorn_divergence,
    "entropic": entropic_transport,
}

#: The OT terms :func:`ot_term` computes.
OT_TERMS: tuple[str, ...] = tuple(_OT_TERMS)


def ot_term(name: OTTermName, *args, **kwargs) -> OTTerm:
    """Dispatch to :func:`sinkhorn_divergence` (``"divergence"``) or :func:`entropic_transport`."""
    if name not in _OT_TERMS:
        raise ValueError(f"unknown OT term {name!r}; choose one of {OT_TERMS}")
    return _OT_TERMS[name](*args, **kwargs)
