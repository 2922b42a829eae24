"""What a Hub repository id looks like (``owner/name``), and when such a name is a local folder instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_OWNER_AND_NAME = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_NAME = re.compile(r"[A-Za-z0-9][\w.-]*")


def hub_id_form(value: Any, *, owner_optional: bool = False) -> bool:
    """``owner/name`` in form: one slash, starting with a letter or digit (``./x``, ``~/x`` are paths).

    ``owner_optional`` also accepts a bare ``name``, as the Hub's older model ids (``bert-base-uncased``).
    Whether the name is also a local folder is :func:`looks_like_hub_id`'s question.
    """
    if not isinstance(value, str):
        return False
    return bool(_OWNER_AND_NAME.fullmatch(value) or (owner_optional and _NAME.fullmatch(value)))


def looks_like_hub_id(value: Any, *, owner_optional: bool = False) -> bool:
    """A Hub id in form that is not also an existing local path (``runs/x`` is a folder when it exists)."""
    return hub_id_form(value, owner_optional=owner_optional) and not Path(value).expanduser().exists()


def check_repo_id(repo_id: str) -> None:
    """Refuse a repository id that is not ``owner/name`` (before anything is written or uploaded)."""
    if not hub_id_form(repo_id):
        raise ValueError(f"repo_id must look like 'user/name', got {repo_id!r}.")
