"""The entropic regularisation of each pair: ``reg`` read in cost units or relative to the pair's costs."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from optical_st.transport._costs import pair_mask

RegScale = Literal["absolute", "mean", "spread"]

#: Defaults of :class:`optical_st.losses.OTDistillLoss` and :func:`align`: ``eps`` is half the standard
#: deviation of each pair's token costs (chosen from the measured trade-off in docs/loss.md).
DEFAULT_REG = 0.5
DEFAULT_REG_SCALE: RegScale = "spread"


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
    check_reg(reg)
    costs = costs.detach()
    unit = _REG_UNITS[scale](costs, pair_mask(student_mask, teacher_mask))
    return (reg * unit).clamp_min(1e-6 * reg)


# Beyond this the plan is the uniform product in any of the units, and float32 loses the Sinkhorn divergence
# (a difference of terms that grow with reg): at reg 5e4 the loss of a fixed pair was off by 10%.
MAX_REG = 1e3


def check_reg(reg: float) -> None:
    """Refuse a ``reg`` that is not positive and finite, or that is above :data:`MAX_REG`."""
    if not (math.isfinite(reg) and reg > 0):
        raise ValueError(f"reg must be positive and finite, got {reg}")
    if reg > MAX_REG:
        raise ValueError(
            f"reg must be at most {MAX_REG:g}, got {reg:g}: the plan is already uniform there and float32 loses "
            "the loss's precision"
        )
