"""Whole, finite weights: a diverged model (NaN/inf) or a torn weights file is refused, never used.

A run whose learning rate is far too large can leave NaN weights that still encode (every embedding NaN,
or a constant after normalisation) and score at chance level; without this check ``evaluate``, ``scale``
and ``push-model`` would report or publish those numbers as if they were a model's.
"""

from __future__ import annotations

import json
from pathlib import Path
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


def weights_finite(model: Any, *, trainable_only: bool = False) -> bool:
    """Whether every weight of ``model`` (or every trainable one) is finite: one sum per tensor.

    A sum is finite exactly when its values are (short of sums beyond 1e38, a diverged model anyway), and
    costs a quarter of an elementwise ``isfinite`` over e5-small's 117 M values.
    """
    import torch

    with torch.no_grad():
        # summed in float32: a half-precision sum overflows at 65504 for perfectly finite weights
        sums = [
            p.sum(dtype=torch.float32) for p in model.parameters() if p.requires_grad or not trainable_only
        ]
        return not sums or bool(torch.isfinite(torch.stack(sums)).all())


def non_finite_summary(model: Any) -> str | None:
    """``"1,234 of 5,678 weights (22%) are NaN or infinite (first: name)"``, or ``None`` when all are finite."""
    if weights_finite(model):
        return None
    bad, total, names = non_finite_weights(model)
    if not bad:  # finite values whose float32 sum overflows: weights near 1e38 (diverged as well)
        return "weights so large that their float32 sum overflows"
    return f"{bad:,} of {total:,} weights ({bad / total:.0%}) are NaN or infinite (first: {names[0]})"


def check_finite_weights(model: Any, label: str) -> None:
    """Raise :class:`NonFiniteWeightsError` naming ``label`` when any weight of ``model`` is NaN or infinite."""
    summary = non_finite_summary(model)
    if summary:
        raise NonFiniteWeightsError(
            f"{label}: {summary}; a training run that diverged (e.g. a learning rate far too large) - refused"
        )


def safetensors_problem(path: Path) -> str | None:
    """Why the ``.safetensors`` file at ``path`` cannot be whole (torn by a kill or a full disk), or ``None``.

    Reads only the header: its length, its JSON, and the end of the last tensor, which must be the file's end.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                return f"{path} is truncated ({size} bytes, no header)"
            header_length = int.from_bytes(prefix, "little")
            if header_length > size - 8:
                return f"{path} is truncated ({size} bytes, shorter than its header)"
            header = json.loads(handle.read(header_length))
    except (OSError, ValueError, UnicodeDecodeError) as error:
        return f"{path} cannot be read as safetensors ({type(error).__name__})"
    ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
    expected = 8 + header_length + max(ends, default=0)
    if size < expected:
        return f"{path} is truncated ({size} of {expected} bytes)"
    return None


def torn_weights(folder: Path) -> str | None:
    """The first torn ``.safetensors`` file under ``folder`` (see :func:`safetensors_problem`), or ``None``."""
    for path in sorted(Path(folder).rglob("*.safetensors")):
        problem = safetensors_problem(path)
        if problem:
            return problem
    return None
