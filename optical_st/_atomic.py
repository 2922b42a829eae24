"""Files written whole or not at all: a crash never leaves a half-written record that a rerun would trust."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_text(path: Path, text: str) -> None:
    """``text`` (UTF-8) written to ``<name>.partial`` and renamed over ``path``; the folder is made.

    Every result file is written this way (run records, evaluation results, cards, scaling cells and
    reports): a crash or a full disk leaves the previous file whole, and a torn ``.partial`` beside it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
    except BaseException:
        partial.unlink(missing_ok=True)  # a full disk: free what the torn copy took
        raise
    partial.replace(path)


def write_json(path: Path, content: Any) -> None:
    """``content`` as indented JSON (non-JSON values as ``str``), written whole or not at all (:func:`write_text`).

    The run record of :func:`optical_st.training.distill` and the cells and reports of the scaling study
    are written this way: a reader (or a rerun deciding what is finished) sees the old file or the new.
    """
    write_text(path, json.dumps(content, indent=2, default=str) + "\n")
