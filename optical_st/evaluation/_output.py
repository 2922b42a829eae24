"""Results as strict JSON: no NaN (null instead), compact per-query values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np


def rounded(values: Mapping[str, list]) -> dict[str, list]:
    def compact(value: Any) -> Any:
        if isinstance(value, float):
            return int(value) if value.is_integer() else round(value, 6)
        return value

    return {key: [compact(v) for v in column] for key, column in values.items()}


def finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(item) for item in value]
    return value


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
