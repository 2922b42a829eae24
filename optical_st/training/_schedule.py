"""``Schedule``: a loss attribute moving from a start to an end value over the run (linear, cosine, constant)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

ScheduleKind = Literal["constant", "linear", "cosine"]


@dataclass(frozen=True)
class Schedule:
    """A value moving from ``start`` to ``end`` as training progresses from 0 to 1.

    Args:
        start: value at the first step.
        end: value at the last step.
        kind: ``"linear"``, ``"cosine"`` (half cosine: flat at both ends) or ``"constant"``
            (always ``start``).

    Example:
        >>> Schedule(0.1, 0.0, "linear")(0.25)
        0.075
        >>> round(Schedule(1.0, 0.0, "cosine")(0.5), 6)
        0.5
    """

    start: float
    end: float
    kind: ScheduleKind = "linear"

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "linear", "cosine"):
            raise ValueError(f"unknown schedule kind {self.kind!r}; use 'constant', 'linear' or 'cosine'")
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise ValueError(f"schedule values must be finite, got start={self.start}, end={self.end}")

    def __call__(self, progress: float) -> float:
        progress = min(max(float(progress), 0.0), 1.0)
        if self.kind == "constant":
            return self.start
        fraction = progress if self.kind == "linear" else 0.5 * (1.0 - math.cos(math.pi * progress))
        return self.start + (self.end - self.start) * fraction

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """Parse ``"START"``, ``"START:END"`` or ``"START:END:KIND"`` (the CLI form)."""
        parts = text.split(":")
        try:
            if len(parts) == 1:
                return cls(float(parts[0]), float(parts[0]), "constant")
            if len(parts) == 2:
                return cls(float(parts[0]), float(parts[1]), "linear")
            if len(parts) == 3:
                return cls(float(parts[0]), float(parts[1]), parts[2])  # type: ignore[arg-type]
        except ValueError as error:
            raise ValueError(f"bad schedule {text!r}: {error}") from None
        raise ValueError(f"bad schedule {text!r}: expected START, START:END or START:END:KIND")


# loss attributes that must stay positive at every step: OTDistillLoss refuses reg <= 0 when it is reached
POSITIVE_ATTRIBUTES: tuple[str, ...] = ("reg",)


def check_schedule(name: str, schedule: Schedule) -> None:
    """Refuse, before training, a schedule whose values the loss would refuse when the run reaches them."""
    values = (schedule.start,) if schedule.kind == "constant" else (schedule.start, schedule.end)
    flag = f"--{name.replace('_', '-')}-schedule {schedule.start:g}:{schedule.end:g}"
    if name in POSITIVE_ATTRIBUTES and min(values) <= 0:
        raise ValueError(
            f"{flag}: {name} must stay positive over the whole run, got {min(values):g} (the loss would stop at "
            "that step)"
        )
    if name == "reg":
        from optical_st.transport import check_reg

        try:
            check_reg(max(values))
        except ValueError as error:
            raise ValueError(f"{flag}: {error}") from None
