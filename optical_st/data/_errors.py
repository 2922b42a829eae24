"""What can go wrong with data: validation errors (with file and line) and warnings."""

from __future__ import annotations


class BitextValidationError(ValueError):
    """Bad bitext input; the message names the file and the 1-based line (or row)."""


class BenchmarkValidationError(ValueError):
    """An inconsistent CLIR benchmark (unknown ids in qrels, a query without a relevant document, ...)."""


class DuplicatePairsWarning(UserWarning):
    """Bitext contains repeated pairs or repeated sentences (counts in the message)."""


class HeldOutDataWarning(UserWarning):
    """FLORES-200 devtest rows from the articles this project keeps held out for final evaluation."""
