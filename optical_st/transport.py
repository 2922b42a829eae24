"""Tensor kernels for token-level optimal transport: costs, marginals, plans and the Sinkhorn divergence.

Everything here is a pure function of tensors (no models, no tokenizers, no hidden state). Shapes use
``B`` for the batch, ``n`` for student tokens, ``m`` for teacher tokens and ``d`` for the hidden size.
Padding is expressed through masks and zero marginal mass, never through ``inf`` costs (which make the
log-domain Sinkhorn iterations produce NaN).

The batched solver is POT's :func:`ot.solve_batch` with ``method="log_sinkhorn"`` (finite at small
``reg``, unlike the plain method) and ``grad="detach"``: plans are computed on detached costs and the
differentiable values are ``(plan * cost).sum()`` expressions. By Danskin's (envelope) theorem their
gradient with respect to the costs is exactly the gradient of the entropic OT value
``OT_eps(a, b) = min_T <T, C> + eps * sum T log T``, and no autograd graph is kept through the
Sinkhorn iterations.

Two OT terms are offered (:data:`OT_TERMS`), both returning an :class:`OTTerm`:

- ``"divergence"``, :func:`sinkhorn_divergence` (the default of
  :class:`optical_st.losses.OTDistillLoss`): ``S_eps(s, t) = OT_eps(s, t) - 1/2 OT_eps(s, s) -
  1/2 OT_eps(t, t)`` (Genevay et al. 2018; Feydy et al. 2019). It is >= 0 and 0 when the two token
  clouds coincide, so a perfectly aligned student is a minimum. The plain entropic value is not: it
  pulls the student's tokens towards a blurred, shrunk copy of the teacher's.
- ``"entropic"``, :func:`entropic_transport`: OPTICAL's ``<T, C>_F`` with the entropic plan (biased;
  what optical-st shipped first, kept for comparison).

``eps`` is set in cost units or relative to each pair's costs (:data:`REG_SCALES`, :func:`pair_reg`),
and a small ``eps`` can be reached by annealing with warm-started potentials (``anneal`` in
:func:`solve_plans`) in a bounded number of iterations.

Example::

    import torch
    from optical_st.transport import align

    student = torch.randn(5, 16)   # 5 student tokens, hidden size 16
    teacher = torch.randn(7, 16)   # 7 teacher tokens
    plan, cost = align(student, teacher)
    plan.shape, float(plan.sum())  # (torch.Size([5, 7]), 1.0)

References:
    - Feydy, Séjourné, Vialard, Amari, Trouvé, Peyré. Interpolating between Optimal Transport and MMD
      using Sinkhorn Divergences. AISTATS 2019. https://arxiv.org/abs/1810.08278
    - Genevay, Peyré, Cuturi. Learning Generative Models with Sinkhorn Divergences. AISTATS 2018.
    - Schmitzer. Stabilized Sparse Scaling Algorithms for Entropy Regularized Transport Problems.
      SIAM J. Sci. Comput. 2019 (epsilon scaling with warm-started potentials).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple

import ot
import torch
from torch import Tensor

__all__ = [
    "COSTS",
    "OT_TERMS",
    "REG_SCALES",
    "Alignment",
    "OTTerm",
    "SinkhornInfo",
    "align",
    "cost_matrix",
    "entropic_transport",
    "entropic_value",
    "idf_weights",
    "ot_term",
    "pair_reg",
    "plan_statistics",
    "sinkhorn_divergence",
    "solve_plans",
    "token_marginals",
    "transport_cost",
]

CostName = Literal["cosine", "sqeuclidean"]
RegScale = Literal["absolute", "mean", "spread"]
OTTermName = Literal["divergence", "entropic"]

#: Defaults of :class:`optical_st.losses.OTDistillLoss` and :func:`align`: ``eps`` is half the standard
#: deviation of each pair's token costs (chosen from the measured trade-off in docs/loss.md).
DEFAULT_REG = 0.5
DEFAULT_REG_SCALE: RegScale = "spread"
#: Annealing stages before the last run at most this many iterations each (only the last must converge).
ANNEAL_STAGE_ITERATIONS = 20


# ------------------------------------------------------------------------------------------- costs
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


# ---------------------------------------------------------------------------------------- marginals
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


# ----------------------------------------------------------------------------------- regularisation
def _masked_mean(values: Tensor, keep: Tensor) -> Tensor:
    return (values * keep).sum(dim=(1, 2)) / keep.sum(dim=(1, 2)).clamp_min(1)


def _reg_unit_absolute(costs: Tensor, keep: Tensor) -> Tensor:
    return torch.ones(costs.shape[0], dtype=costs.dtype, device=costs.device)


def _reg_unit_mean(costs: Tensor, keep: Tensor) -> Tensor:
    return _masked_mean(costs, keep)


def _reg_unit_spread(costs: Tensor, keep: Tensor) -> Tensor:
    mean = _masked_mean(costs, keep)[:, None, None]
    return _masked_mean((costs - mean) ** 2, keep).sqrt()


_REG_UNITS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "absolute": _reg_unit_absolute,
    "mean": _reg_unit_mean,
    "spread": _reg_unit_spread,
}
#: How ``reg`` is read: in cost units, or as a multiple of each pair's mean or spread (std) of costs.
REG_SCALES: tuple[str, ...] = tuple(_REG_UNITS)


def pair_reg(
    costs: Tensor,
    student_mask: Tensor,
    teacher_mask: Tensor,
    reg: float,
    scale: RegScale = "absolute",
) -> Tensor:
    """The entropic regularisation ``eps`` of each pair, ``(B,)``, detached.

    ``"absolute"`` reads ``reg`` in cost units, so how sharp a plan is depends on the encoder (in an
    anisotropic space every cosine cost is close to every other). ``"mean"`` multiplies ``reg`` by the
    pair's mean real cost, ``"spread"`` by its standard deviation: the plan for ``(C, eps)`` is the
    plan for ``(C + c, eps)`` for any constant ``c``, so with ``"spread"`` a plan's sharpness does not
    depend on the offset or the scale of the costs, only on their contrast.

    Args:
        costs: ``(B, n, m)`` cost matrices (zero on padding).
        student_mask: ``(B, n)`` real student tokens.
        teacher_mask: ``(B, m)`` real teacher tokens.
        reg: positive, finite.
        scale: one of :data:`REG_SCALES`.

    Returns:
        ``(B,)`` positive ``eps`` in cost units (a floor of ``1e-6 * reg`` keeps degenerate pairs, e.g.
        one token a side, finite).
    """
    if scale not in _REG_UNITS:
        raise ValueError(f"unknown reg scale {scale!r}; choose one of {REG_SCALES}")
    if not (math.isfinite(reg) and reg > 0):
        raise ValueError(f"reg must be positive and finite, got {reg}")
    costs = costs.detach()
    unit = _REG_UNITS[scale](costs, pair_mask(student_mask, teacher_mask))
    return (reg * unit).clamp_min(1e-6 * reg)


# ----------------------------------------------------------------------------------------- solving
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


# ----------------------------------------------------------------------------------------- OT terms
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


# ------------------------------------------------------------------------------------- diagnostics
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
