"""The run record next to a trained model (``optical_st_run.json``): what its card says about training."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optical_st.hub._cards import scrub
from optical_st.results import load_rows

RUN_INFO_FILE = "optical_st_run.json"
"""Written next to a trained model by :func:`save_run_info`; :func:`push_model` reads it back."""


def save_run_info(
    directory: str | Path,
    training_info: Mapping[str, Any] | None = None,
    evaluation_results: Any = None,
    benchmark_ids: Mapping[str, str] | None = None,
) -> Path:
    """Write ``optical_st_run.json`` (training facts, CLIR rows, benchmark Hub ids) next to a saved model.

    :func:`push_model` reads it when given that directory, so the card of a run pushed later (or by
    ``optical-st push-model``) has the same training details. Secret-looking keys are dropped.
    """
    path = Path(directory) / RUN_INFO_FILE
    payload = {
        "training_info": scrub(dict(training_info or {})),
        "evaluation_results": load_rows(evaluation_results),
        "benchmark_ids": dict(benchmark_ids or {}),
    }
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


def load_run_info(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / RUN_INFO_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg}, line {error.lineno}).") from None
