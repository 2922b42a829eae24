"""Files written whole or not at all: a crash never leaves a half-written record that a rerun would trust."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(path: Path, content: Any) -> None:
    """``content`` as indented JSON (non-JSON values as ``str``), written to ``<name>.partial`` and renamed.

    The run record of :func:`optical_st.training.distill` and the cells and reports of the scaling study
    are written this way: a reader (or a rerun deciding what is finished) sees the old file or the new.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(content, indent=2, default=str) + "\n", encoding="utf-8")
    partial.replace(path)
