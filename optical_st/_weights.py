"""Finite weights: a diverged model (NaN or infinite parameters) is refused, never measured or published.

A run whose learning rate is far too large can leave NaN weights that still encode (every embedding NaN,
or a constant after normalisation) and score at chance level; without this check ``evaluate``, ``scale``
and ``push-model`` would report or publish those numbers as if they were a model's.
"""

from __future__ import annotations

from typing import Any


class NonFiniteWeightsError(ValueError):
    """A model holds NaN or infinite weights (e.g. a training run that diverged)."""


def non_finite_weights(model: Any) -> tuple[int, int, list[str]]:
    """(non-finite values, all values, names of the parameters holding some) of a torch module."""
    import torch

    bad, total, names = 0, 0, []
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            count = int(parameter.numel() - torch.isfinite(parameter).sum())
            total += parameter.numel()
            if count:
                bad += count
                names.append(name)
    return bad, total, names


def check_finite_weights(model: Any, label: str) -> None:
    """Raise :class:`NonFiniteWeightsError` naming ``label`` when any weight of ``model`` is NaN or infinite."""
    bad, total, names = non_finite_weights(model)
    if bad:
        raise NonFiniteWeightsError(
            f"{label}: {bad / total:.0%} of the weights are NaN or infinite (first: {names[0]}); a training "
            "run that diverged (e.g. a learning rate far too large) - refused"
        )
