"""Float arithmetic that gives the same bits on every Python the project runs on (3.8 in Studio
notebooks, 3.11 here, 3.12 on MSF)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable


def add_up(values: Iterable[float]) -> float:
    """Left to right, as Python <= 3.11's ``sum`` adds floats: 3.12's ``sum`` compensates rounding,
    so the same values would sum to a different last bit there (and move a score on the edge)."""
    return functools.reduce(operator.add, values, 0.0)
