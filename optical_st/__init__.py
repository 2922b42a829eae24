"""optical-st: OPTICAL optimal-transport distillation for cross-lingual retrieval in South Asian languages.

Heavy objects are imported lazily so that ``import optical_st`` and the CLI stay fast::

    from optical_st import OTDistillLoss, CLIREvaluator
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "OTDistillLoss": "optical_st.losses",
    "OTDistillCallback": "optical_st.callbacks",
    "CLIREvaluator": "optical_st.evaluation",
    "CLIRBenchmark": "optical_st.data",
    "load_bitext": "optical_st.data",
    "load_benchmark": "optical_st.data",
    "get_language": "optical_st.languages",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'optical_st' has no attribute {name!r}")
