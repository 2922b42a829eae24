"""Tensor kernels for token-level optimal transport: cost matrices, marginals, batched plans.

Everything here is a pure function of tensors (no models, no tokenizers, no hidden state). Shapes use
``B`` for the batch, ``n`` for student tokens, ``m`` for teacher tokens and ``d`` for the hidden size.
Padding is expressed through masks and zero marginal mass, never through ``inf`` costs (which make the
log-domain Sinkhorn iterations produce NaN).

The batched solver is POT's :func:`ot.solve_batch` with ``method="log_sinkhorn"`` (finite at small
``reg``, unlike the plain method) and ``grad="detach"``: the plan is computed on the detached cost and
the differentiable loss is ``(plan * cost).sum()``. By Danskin's (envelope) theorem the gradient of
that expression is exactly the gradient of the entropic OT value
``min_T <T, C> + reg * sum T log T`` with respect to ``C``, and no autograd graph is kept through the
Sinkhorn iterations.

Example::

    import torch
    from optical_st.transport import align

    student = torch.randn(5, 16)   # 5 student tokens, hidden size 16
    teacher = torch.randn(7, 16)   # 7 teacher tokens
    plan, cost = align(student, teacher, reg=0.05)
    plan.shape, float(plan.sum())  # (torch.Size([5, 7]), 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple

import ot
import torch
from torch import Tensor

__all__ = [
    "COSTS",
    "Alignment",
    "align",
    "cost_matrix",
    "idf_weights",
    "plan_statistics",
    "solve_plans",
    "token_marginals",
    "transport_cost",
]

CostName = Literal["cosine", "sqeuclidean"]
COSTS: tuple[str, ...] = ("cosine", "sqeuclidean")


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
        cost: ``"cosine"`` (``1 - cos``, in ``[0, 2]``) or ``"sqeuclidean"`` (``||s - t||^2``).
        student_mask: optional ``(B, n)`` bool/0-1 mask; entries of masked rows are set to 0.
        teacher_mask: optional ``(B, m)`` mask; entries of masked columns are set to 0.

    Returns:
        ``(B, n, m)`` cost matrix in the dtype of the inputs. Masked entries are 0 (finite on
        purpose: they carry no mass, and ``inf`` would poison the log-domain iterations).
    """
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
    if cost == "cosine":
        student_unit = torch.nn.functional.normalize(student_tokens, dim=-1, eps=1e-8)
        teacher_unit = torch.nn.functional.normalize(teacher_tokens, dim=-1, eps=1e-8)
        costs = 1.0 - student_unit @ teacher_unit.transpose(1, 2)
    elif cost == "sqeuclidean":
        # ||s||^2 + ||t||^2 - 2 s.t, clamped: the expansion can dip below 0 by rounding.
        student_sq = (student_tokens * student_tokens).sum(-1, keepdim=True)
        teacher_sq = (teacher_tokens * teacher_tokens).sum(-1).unsqueeze(1)
        costs = (student_sq + teacher_sq - 2.0 * student_tokens @ teacher_tokens.transpose(1, 2)).clamp_min(
            0.0
        )
    else:
        raise ValueError(f"unknown cost {cost!r}; choose one of {COSTS}")
    if student_mask is not None or teacher_mask is not None:
        keep = torch.ones_like(costs, dtype=torch.bool)
        if student_mask is not None:
            keep = keep & student_mask.bool().unsqueeze(2)
        if teacher_mask is not None:
            keep = keep & teacher_mask.bool().unsqueeze(1)
        costs = costs.masked_fill(~keep, 0.0)
    return costs


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


def solve_plans(
    costs: Tensor,
    student_marginals: Tensor,
    teacher_marginals: Tensor,
    reg: float = 0.05,
    *,
    max_iter: int = 1000,
    tol: float = 1e-5,
    return_n_iter: bool = False,
    cpu_threads: int | None = 1,
) -> Tensor | tuple[Tensor, int]:
    """Entropic OT plans for a batch of cost matrices, solved in float32 (float64 kept) in the log domain.

    Args:
        costs: ``(B, n, m)`` cost matrices (detached internally; zero on padding).
        student_marginals: ``(B, n)`` row masses, each row summing to 1 (0 on padding).
        teacher_marginals: ``(B, m)`` column masses, each row summing to 1 (0 on padding).
        reg: entropic regularisation (``> 0``), in the units of the cost.
        max_iter: maximum Sinkhorn iterations.
        tol: stop when the L2 row-marginal error of every pair is below ``tol`` (checked every 10
            iterations, POT's rule). Small ``reg`` relative to the spread of the costs converges
            slowly; a plan cut off at ``max_iter`` meets its marginals only approximately (see
            ``marginal_error`` in :func:`plan_statistics`).
        return_n_iter: also return the number of Sinkhorn iterations run.
        cpu_threads: torch intra-op threads for the solve on CPU (restored afterwards); ``None`` keeps
            the process setting. Default 1: each iteration is a few small kernels, and on a busy
            2-core machine a 2-thread pool made the same solve 2-100x slower (bench/loss_overhead.py).

    Returns:
        ``(B, n, m)`` detached plans with marginals ``student_marginals`` / ``teacher_marginals``;
        padded rows and columns hold exactly 0. With ``return_n_iter``, ``(plans, n_iter)``.

    Raises:
        ValueError: on a non-positive ``reg``, non-finite costs, or a pair with no mass on either side.
    """
    if not reg > 0:
        raise ValueError(f"reg must be > 0 for entropic OT, got {reg}")
    costs = costs.detach()
    if costs.dtype not in (torch.float32, torch.float64):
        costs = costs.float()
    if not torch.isfinite(costs).all():
        raise ValueError("cost matrices contain NaN or inf (check the token embeddings)")
    a = student_marginals.detach().to(costs.dtype)
    b = teacher_marginals.detach().to(costs.dtype)
    if ((a.sum(1) <= 0) | (b.sum(1) <= 0)).any():
        raise ValueError("a pair has no token mass on one side (empty sentence); drop it before solving")
    # Equal total mass in the working dtype, or Sinkhorn cannot meet both marginals (and never stops).
    a = a / a.sum(1, keepdim=True)
    b = b / b.sum(1, keepdim=True)
    previous_threads = torch.get_num_threads()
    limit_threads = costs.device.type == "cpu" and cpu_threads is not None and cpu_threads != previous_threads
    if limit_threads:
        torch.set_num_threads(cpu_threads)
    try:
        with torch.autocast(device_type=costs.device.type, enabled=False):
            result = ot.solve_batch(
                costs,
                reg=float(reg),
                a=a,
                b=b,
                max_iter=max_iter,
                tol=tol,
                method="log_sinkhorn",
                grad="detach",
            )
    finally:
        if limit_threads:
            torch.set_num_threads(previous_threads)
    plans = result.plan.detach()
    return (plans, int(result.log["n_iter"]) + 1) if return_n_iter else plans


def transport_cost(plans: Tensor, costs: Tensor) -> Tensor:
    """``<plan, cost>_F`` per pair, shape ``(B,)``; differentiable in ``costs`` (plans are constants)."""
    return (plans.detach().to(costs.dtype) * costs).sum(dim=(1, 2))


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
    reg: float = 0.05,
    cost: CostName = "cosine",
    student_weights: Tensor | None = None,
    teacher_weights: Tensor | None = None,
    max_iter: int = 1000,
    tol: float = 1e-5,
) -> Alignment:
    """Align one sentence pair: the entropic OT plan between its student and teacher tokens.

    Args:
        student_token_embeddings: ``(n, d)`` tokens of one sentence (no padding).
        teacher_token_embeddings: ``(m, d)`` tokens of its translation.
        reg: entropic regularisation.
        cost: ``"cosine"`` or ``"sqeuclidean"``.
        student_weights: optional ``(n,)`` non-negative token weights (default uniform).
        teacher_weights: optional ``(m,)`` non-negative token weights (default uniform).
        max_iter: maximum Sinkhorn iterations.
        tol: Sinkhorn stopping tolerance.

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
    costs = cost_matrix(student, teacher, cost)
    a = token_marginals(
        torch.ones(student.shape[:2], dtype=torch.bool),
        None if student_weights is None else student_weights.detach()[None],
    )
    b = token_marginals(
        torch.ones(teacher.shape[:2], dtype=torch.bool),
        None if teacher_weights is None else teacher_weights.detach()[None],
    )
    plans = solve_plans(costs, a, b, reg, max_iter=max_iter, tol=tol)
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
