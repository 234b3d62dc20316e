"""Allowed ranges of numeric settings: one rule for finiteness and bounds, used everywhere.

The experiment config (``training.lr``), the model configs, the decoding options (CLI flags and
the server's JSON) and the server's limits all declare their numeric fields' ranges with
:class:`Range` and check them with :func:`range_problems`, so ``nan``, ``inf``, ``-5`` or a
seed of ``2**70`` get the same clear message wherever they come in, and every comparison is
written once (a plain ``value <= 0`` test lets ``nan`` through).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Range:
    """Finite numbers from ``low`` to ``high`` (``None``: unbounded); ``*_open`` excludes the
    bound itself. ``optional``: ``None`` is allowed too (e.g. "no step limit")."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is out of range (``"must be ..., got ..."``), or ``None`` if it is in."""
        if value is None and self.optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number ({self.describe()}), got {value!r}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number ({self.describe()}), got {value!r}"
        return None if self._inside(value) else f"must be {self.describe()}, got {_shown(value)}"

    def _inside(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        """``positive``, ``at least 1``, ``in [0, 1)``, ``at most 65535``..."""
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            text = f"in {left}{low}, {high}{right}"
        elif self.low == 0 and self.low_open:
            text = "positive"
        elif self.low is not None:
            text = f"greater than {low}" if self.low_open else f"at least {low}"
        elif self.high is not None:
            text = f"less than {high}" if self.high_open else f"at most {high}"
        else:
            text = "(any)"
        return text


POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
AT_LEAST_ONE = Range(1)
FRACTION = Range(0, 1, high_open=True)  # dropout, label smoothing: [0, 1)
SEED = Range(0, 2**63 - 1)  # what torch.Generator.manual_seed takes without wrapping


def range_problems(values: Any, ranges: Mapping[str, Range]) -> Iterator[tuple[str, str]]:
    """``(field, problem)`` for every field of ``values`` (a dataclass or any object with those
    attributes) outside its declared range, in the order the ranges are declared."""
    for name, allowed in ranges.items():
        problem = allowed.problem(getattr(values, name))
        if problem is not None:
            yield name, problem


def first_range_problem(values: Any, ranges: Mapping[str, Range]) -> tuple[str, str] | None:
    return next(range_problems(values, ranges), None)


def _shown(value: float) -> str:
    """``repr`` of a value, except integers too long to print usefully (or at all: Python
    refuses to turn one of over 4,300 digits into text)."""
    if isinstance(value, int) and value.bit_length() > 80:
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"{'-' if value < 0 else ''}an integer of about {digits} digits"
    return repr(value)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "2**63 - 1" if value == 2**63 - 1 else str(value)
