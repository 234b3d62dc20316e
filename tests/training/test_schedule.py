"""The learning-rate multipliers: linear warmup to 1, then inverse square-root decay or a
linear decay to 0 at the end of the budget; and the share of the budget used."""

from __future__ import annotations

import itertools
import math

import pytest

from transformer_mt.training.schedule import (
    budget_share,
    inverse_sqrt_factor,
    linear_decay_factor,
    lr_factor,
)


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


def test_linear_warms_up_like_inverse_sqrt_then_follows_the_budget() -> None:
    assert [linear_decay_factor(step, 4, 0.0) for step in (1, 2, 3, 4, 5)] == [
        0.25,
        0.5,
        0.75,
        1.0,
        1.0,
    ]
    assert [linear_decay_factor(100, 4, p) for p in (0.25, 0.5, 0.9, 1.0)] == pytest.approx(
        [0.75, 0.5, 0.1, 0.0]
    )


def test_linear_is_the_smaller_of_warmup_and_remaining_budget() -> None:
    # A budget so short that the warmup is not over when the decay takes over.
    assert linear_decay_factor(2, 10, 0.9) == pytest.approx(0.1)
    assert linear_decay_factor(0, 0, 0.3) == pytest.approx(0.7)
    assert linear_decay_factor(50, 10, 1.5) == 0.0  # never negative


def test_lr_factor_dispatches_on_the_schedule_name() -> None:
    assert lr_factor("inverse_sqrt", 16, 4, 0.9) == inverse_sqrt_factor(16, 4)
    assert lr_factor("linear", 16, 4, 0.9) == linear_decay_factor(16, 4, 0.9)


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"max_steps": None, "max_minutes": None, "max_updates_by_epochs": None}, 0.0),
        ({"max_steps": 400, "max_minutes": None, "max_updates_by_epochs": None}, 0.25),
        ({"max_steps": None, "max_minutes": 2.0, "max_updates_by_epochs": None}, 0.5),
        ({"max_steps": None, "max_minutes": None, "max_updates_by_epochs": 200}, 0.5),
        # The limit nearest to being reached is the one that ends the run.
        ({"max_steps": 400, "max_minutes": 2.0, "max_updates_by_epochs": 1000}, 0.5),
        ({"max_steps": 50, "max_minutes": None, "max_updates_by_epochs": None}, 1.0),
    ],
)
def test_budget_share_is_the_largest_share_of_any_limit(
    limits: dict[str, float | None], expected: float
) -> None:
    assert budget_share(100, 60.0, **limits) == pytest.approx(expected)  # type: ignore[arg-type]
