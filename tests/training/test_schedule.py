"""The learning-rate multiplier: linear warmup to 1, then inverse square-root decay."""

from __future__ import annotations

import itertools
import math

import pytest

from transformer_mt.training.schedule import inverse_sqrt_factor


def test_warmup_rises_linearly_to_one() -> None:
    assert [inverse_sqrt_factor(step, 4) for step in (1, 2, 3, 4)] == [0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize(("step", "expected"), [(4, 1.0), (16, 0.5), (64, 0.25), (100, 0.2)])
def test_decay_after_warmup_is_sqrt_warmup_over_step(step: int, expected: float) -> None:
    assert inverse_sqrt_factor(step, 4) == pytest.approx(expected)


def test_peak_is_at_the_end_of_warmup() -> None:
    factors = [inverse_sqrt_factor(step, 300) for step in range(1, 2000)]
    assert max(factors) == 1.0
    assert factors.index(1.0) == 299  # step 300
    assert all(a < b for a, b in itertools.pairwise(factors[:300]))
    assert all(a > b for a, b in itertools.pairwise(factors[299:]))


def test_without_warmup_the_decay_starts_at_once() -> None:
    assert [inverse_sqrt_factor(step, 0) for step in (1, 4, 9)] == [1.0, 0.5, 1 / 3]


def test_step_zero_counts_as_the_first_step() -> None:
    assert inverse_sqrt_factor(0, 10) == inverse_sqrt_factor(1, 10) == 0.1
    assert inverse_sqrt_factor(0, 0) == 1.0
    assert math.isfinite(inverse_sqrt_factor(-5, 10))
