"""``OTDistillCallback`` and ``Schedule``, where sentence-transformers users look for callbacks.

They live in :mod:`optical_st.training` (``training/_callback.py``, ``training/_schedule.py``), the
package that wires them into :func:`optical_st.training.distill`; this module re-exports them.
"""

from optical_st.training import (
    BEST_DIRNAME,
    BEST_INFO_FILE,
    LOG_PREFIX,
    OTDistillCallback,
    Schedule,
    ScheduleKind,
)

__all__ = ["BEST_DIRNAME", "BEST_INFO_FILE", "LOG_PREFIX", "OTDistillCallback", "Schedule", "ScheduleKind"]
