"""What a Hub repository id looks like (``owner/name``), and when such a name is a local folder instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def hub_id_form(value: Any) -> bool:
    """``owner/name`` in form (see :func:`looks_like_hub_id` for names that could be local folders)."""
    return isinstance(value, str) and bool(re.fullmatch(r"[\w.-]+/[\w.-]+", value))


def looks_like_hub_id(value: Any) -> bool:
    """``owner/name`` that is not also a local path (``runs/x`` is a folder, not a Hub id)."""
    return hub_id_form(value) and not Path(value).exists()


def check_repo_id(repo_id: str) -> None:
    if not hub_id_form(repo_id):
        raise ValueError(f"repo_id must look like 'user/name', got {repo_id!r}.")
