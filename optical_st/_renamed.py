"""Public names that moved in the one-concept-per-module layout (issue 17) still import, with a warning.

A package face lists its old names in a ``RENAMED`` table (old name -> ``"module:name"``) and answers them
from its module ``__getattr__`` through :func:`renamed`, so ``from optical_st.scaling import
DistillationRecipe`` keeps working and says where the name lives now. Nothing here is in ``__all__``.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from typing import Any


def renamed(face: str, name: str, table: Mapping[str, str]) -> Any:
    """The object the old public ``face.name`` now is (``FutureWarning``); ``AttributeError`` if none."""
    if name not in table:
        raise AttributeError(f"module {face!r} has no attribute {name!r}")
    module, new_name = table[name].split(":")
    warnings.warn(
        f"{face}.{name} moved: use {module}.{new_name} (the old name will be removed)",
        FutureWarning,
        stacklevel=3,
    )
    return getattr(importlib.import_module(module), new_name)
