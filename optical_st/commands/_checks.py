"""Checks of command-line values, run before any work so that a bad value costs nothing.

argparse only converts types (``--epochs 0`` and ``--warmup-ratio 2`` are valid floats); these
checks reject values outside their range with one line that names the flag (``ValueError``, which
``optical_st.cli`` prints as ``optical-st COMMAND: error: ...``).
"""

from __future__ import annotations

import math


def _number(flag: str, value: float) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{flag} must be a finite number, got {value}")


def check_positive(flag: str, value: float | None) -> None:
    """``value`` > 0 (``None``: the flag was not given)."""
    if value is None:
        return
    _number(flag, value)
    if not value > 0:
        raise ValueError(f"{flag} must be positive, got {value}")


def check_non_negative(flag: str, value: float | None, meaning_of_zero: str = "") -> None:
    """``value`` >= 0; ``meaning_of_zero`` (e.g. ``"never"``) is quoted in the message."""
    if value is None:
        return
    _number(flag, value)
    if not value >= 0:
        hint = f" (0: {meaning_of_zero})" if meaning_of_zero else ""
        raise ValueError(f"{flag} must be 0 or more{hint}, got {value}")


def check_fraction(flag: str, value: float | None) -> None:
    """``0 <= value <= 1``."""
    if value is None:
        return
    _number(flag, value)
    if not 0 <= value <= 1:
        raise ValueError(f"{flag} must be between 0 and 1, got {value}")


def parse_cutoffs(flag: str, text: str) -> list[int]:
    """``"1,5,10"`` -> ``[1, 5, 10]``: positive integers, each bad item named."""
    values = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            value = int(item)
        except ValueError:
            raise ValueError(
                f"{flag} takes comma-separated whole numbers like 1,5,10; {item!r} is not one"
            ) from None
        if value < 1:
            raise ValueError(f"{flag}: cut-offs must be 1 or more, got {value}")
        values.append(value)
    if not values:
        raise ValueError(f"{flag} is empty; give cut-offs like 1,5,10")
    return values


def check_device(flag: str, device: str | None) -> None:
    """``device`` names a torch device this machine has (``--device cuda`` on a CPU-only machine fails here)."""
    if device is None:
        return
    import torch

    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise ValueError(f"{flag} {device!r} is not a torch device (e.g. cpu, cuda, cuda:1, mps)") from None
    try:
        # allocating nothing on the device is the one test that covers cuda, mps, xpu, ... alike
        torch.empty(0, device=parsed)
    except (AssertionError, RuntimeError) as error:
        # torch's messages run to a paragraph: keep the first sentence
        reason = (str(error).strip() or type(error).__name__).split(". ")[0].splitlines()[0][:120]
        raise ValueError(f"{flag} {device!r} cannot be used on this machine ({reason})") from None
