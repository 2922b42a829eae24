"""Solving: batched log-domain Sinkhorn through POT (``ot.solve_batch``), with optional annealing."""

from __future__ import annotations

from typing import NamedTuple

import ot
import torch
from torch import Tensor

#: Annealing stages before the last run at most this many iterations each (only the last must converge).
ANNEAL_STAGE_ITERATIONS = 20


class SinkhornInfo(NamedTuple):
    """How a batched solve went: ``n_iter`` iterations run in all, ``marginal_error`` per pair ``(B,)``
    (``||T 1 - a||_1 + ||T^T 1 - b||_1``), ``converged`` whether every pair met ``tol``."""

    n_iter: int
    marginal_error: Tensor
    converged: bool


def _log_sinkhorn(costs: Tensor, a: Tensor, b: Tensor, reg: float, max_iter: int, tol: float):
    """One POT solve; returns the plans and the potentials in cost units (``f = reg * u``)."""
    result = ot.solve_batch(
        costs, reg=reg, a=a, b=b, max_iter=max_iter, tol=tol, method="log_sinkhorn", grad="detach"
    )
    u, v = result.potentials
    return result.plan, reg * u, reg * v, int(result.log["n_iter"]) + 1


def _finite_or_zero(values: Tensor) -> Tensor:
    # padded tokens have log-mass -inf; their potentials carry no information
    return torch.where(torch.isfinite(values), values, torch.zeros_like(values))


def solve_plans(
    costs: Tensor,
    student_marginals: Tensor,
    teacher_marginals: Tensor,
    reg: float | Tensor = 0.05,
    *,
    max_iter: int = 1000,
    tol: float = 1e-5,
    anneal: int = 0,
    return_info: bool = False,
    cpu_threads: int | None = 1,
) -> Tensor | tuple[Tensor, SinkhornInfo]:
    """Entropic OT plans for a batch of cost matrices, solved in float32 (float64 kept) in the log domain.

    Args:
        costs: ``(B, n, m)`` cost matrices (detached internally; zero on padding).
        student_marginals: ``(B, n)`` row masses, each row summing to 1 (0 on padding).
        teacher_marginals: ``(B, m)`` column masses, each row summing to 1 (0 on padding).
        reg: entropic regularisation ``eps`` (``> 0``, finite) in cost units: one float, or a ``(B,)``
            tensor with one value per pair (e.g. from :func:`pair_reg`).
        max_iter: maximum Sinkhorn iterations, annealing stages included.
        tol: stop when the L2 row-marginal error of every pair is below ``tol`` (checked every 10
            iterations, POT's rule). A small ``reg`` relative to the contrast of the costs converges
            slowly; a plan cut off at ``max_iter`` meets its marginals only approximately (see
            :class:`SinkhornInfo`).
        anneal: epsilon scaling: solve first at ``2**anneal * reg``, then halve ``reg`` stage by stage,
            each stage warm-started from the previous stage's dual potentials (absorbed into the
            costs, which is exactly a warm start of POT's iterations). Stages before the last run at
            most :data:`ANNEAL_STAGE_ITERATIONS` iterations. ``0``: one plain solve.
        return_info: also return a :class:`SinkhornInfo`.
        cpu_threads: torch intra-op threads for the solve on CPU (restored afterwards); ``None`` keeps
            the process setting. Default 1: each iteration is a few small kernels, and on a busy
            2-core machine a 2-thread pool made the same solve 2-100x slower (bench/loss_overhead.py).

    Returns:
        ``(B, n, m)`` detached plans with marginals ``student_marginals`` / ``teacher_marginals``;
        padded rows and columns hold exactly 0. With ``return_info``, ``(plans, info)``.

    Raises:
        ValueError: on a non-positive or non-finite ``reg``, non-finite costs, a negative ``anneal``,
            or a pair with no mass on either side.
    """
    costs = costs.detach()
    if costs.dtype not in (torch.float32, torch.float64):
        costs = costs.float()
    eps = torch.as_tensor(reg, dtype=costs.dtype, device=costs.device).detach()
    if not (torch.isfinite(eps).all() and (eps > 0).all()):
        raise ValueError(f"reg must be positive and finite for entropic OT, got {reg}")
    if anneal < 0:
        raise ValueError(f"anneal must be >= 0 (number of halvings of reg), got {anneal}")
    if not torch.isfinite(costs).all():
        raise ValueError("cost matrices contain NaN or inf (check the token embeddings)")
    a = student_marginals.detach().to(costs.dtype)
    b = teacher_marginals.detach().to(costs.dtype)
    if ((a.sum(1) <= 0) | (b.sum(1) <= 0)).any():
        raise ValueError("a pair has no token mass on one side (empty sentence); drop it before solving")
    # Equal total mass in the working dtype, or Sinkhorn cannot meet both marginals (and never stops).
    a = a / a.sum(1, keepdim=True)
    b = b / b.sum(1, keepdim=True)
    # One reg per pair: solving (C / eps, 1) gives the plan of (C, eps), so the batch shares reg=1.
    scaled = costs / eps.reshape(-1, 1, 1) if eps.dim() else costs / eps
    previous_threads = torch.get_num_threads()
    limit_threads = costs.device.type == "cpu" and cpu_threads is not None and cpu_threads != previous_threads
    if limit_threads:
        torch.set_num_threads(cpu_threads)
    try:
        with torch.autocast(device_type=costs.device.type, enabled=False):
            f = torch.zeros_like(a)
            g = torch.zeros_like(b)
            n_iter = 0
            for stage in range(anneal, -1, -1):
                stage_reg = float(2**stage)
                budget = max_iter - n_iter if stage == 0 else min(ANNEAL_STAGE_ITERATIONS, max_iter - n_iter)
                warm = scaled - f[:, :, None] - g[:, None, :]
                plans, df, dg, used = _log_sinkhorn(warm, a, b, stage_reg, max(budget, 1), tol)
                f, g = _finite_or_zero(f + df), _finite_or_zero(g + dg)
                n_iter += used
    finally:
        if limit_threads:
            torch.set_num_threads(previous_threads)
    plans = plans.detach()
    if not return_info:
        return plans
    row_error = plans.sum(2) - a
    marginal_error = row_error.abs().sum(1) + (plans.sum(1) - b).abs().sum(1)
    converged = bool((row_error.norm(dim=1) < tol).all())
    return plans, SinkhornInfo(n_iter=n_iter, marginal_error=marginal_error, converged=converged)


def transport_cost(plans: Tensor, costs: Tensor) -> Tensor:
    """``<plan, cost>_F`` per pair, shape ``(B,)``; differentiable in ``costs`` (plans are constants)."""
    return (plans.detach().to(costs.dtype) * costs).sum(dim=(1, 2))


def entropic_value(plans: Tensor, costs: Tensor, reg: float | Tensor) -> Tensor:
    """``OT_eps = <T, C> + eps * sum T log T`` per pair, ``(B,)``, differentiable in ``costs``.

    With ``T`` the entropic plan of ``(C, eps)``, the gradient with respect to ``C`` is ``T`` (envelope
    theorem): the entropy part is a constant of the graph.
    """
    plans = plans.detach().to(costs.dtype)
    eps = torch.as_tensor(reg, dtype=costs.dtype, device=costs.device).detach()
    negative_entropy = torch.special.xlogy(plans, plans).sum(dim=(1, 2))
    return transport_cost(plans, costs) + eps * negative_entropy
