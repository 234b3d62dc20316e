"""Numeric ranges: one finiteness and bounds rule for configs, CLI flags and server requests."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transformer_mt.config import config_from_dict
from transformer_mt.config.decoding import DecodingOptions, OptionError
from transformer_mt.errors import ConfigError
from transformer_mt.ranges import AT_LEAST_ONE, FRACTION, POSITIVE, SEED, Range, range_problems


@pytest.mark.parametrize(
    ("allowed", "value", "problem"),
    [
        (POSITIVE, 0, "must be positive, got 0"),
        (POSITIVE, math.nan, "must be a finite number (positive), got nan"),
        (POSITIVE, math.inf, "must be a finite number (positive), got inf"),
        (AT_LEAST_ONE, -5, "must be at least 1, got -5"),
        (FRACTION, 1.0, "must be in [0, 1), got 1.0"),
        (SEED, 2**70, "must be in [0, 2**63 - 1], got 1180591620717411303424"),
        (Range(0, 65535), 70000, "must be in [0, 65535], got 70000"),
        (Range(high=10, high_open=True), 10, "must be less than 10, got 10"),
        (POSITIVE, "3", "must be a number (positive), got '3'"),
        (POSITIVE, True, "must be a number (positive), got True"),
        (POSITIVE, None, "must be a number (positive), got None"),
    ],
)
def test_out_of_range_values_are_named_with_the_range(
    allowed: Range, value: object, problem: str
) -> None:
    assert allowed.problem(value) == problem


def test_integers_beyond_any_float_are_out_of_range_not_an_overflow() -> None:
    assert SEED.problem(10**400) == "must be in [0, 2**63 - 1], got an integer of about 401 digits"
    assert POSITIVE.problem(-(10**5000)) == "must be positive, got -an integer of about 5001 digits"
    assert Range(0).problem(10**400) is None
    with pytest.raises(OptionError, match="seed must be in"):
        DecodingOptions(seed=10**400)


def test_in_range_values_and_optional_none_pass() -> None:
    assert POSITIVE.problem(1e-300) is None
    assert FRACTION.problem(0) is None
    assert SEED.problem(2**63 - 1) is None
    assert Range(1, optional=True).problem(None) is None


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_value_passes_exactly_when_it_is_finite_and_inside(value: float) -> None:
    allowed = Range(-2.5, 3, low_open=True)
    inside = math.isfinite(value) and -2.5 < value <= 3
    assert (allowed.problem(value) is None) == inside


def test_range_problems_lists_every_field_in_declared_order() -> None:
    class Values:
        a, b, c = 0, 2, math.nan

    found = list(range_problems(Values(), {"c": POSITIVE, "b": POSITIVE, "a": POSITIVE}))
    assert [name for name, _ in found] == ["c", "a"]


@pytest.mark.parametrize(
    ("training", "message"),
    [
        ({"lr": math.nan}, "training.lr must be a finite number (positive), got nan"),
        ({"max_steps": -5}, "training.max_steps must be at least 1, got -5"),
        ({"max_minutes": -1.0}, "training.max_minutes must be positive, got -1.0"),
        ({"bleu_every": -1}, "training.bleu_every must be at least 0, got -1"),
        ({"clip_norm": math.inf}, "training.clip_norm must be a finite number (at least 0)"),
        ({"seed": -1}, "training.seed must be in [0, 2**63 - 1], got -1"),
        ({"adam_betas": [0.9, math.nan]}, "training.adam_betas must be two numbers in [0, 1)"),
    ],
)
def test_the_config_rejects_out_of_range_training_fields(
    training: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_dict({"training": {"max_steps": 1, **training}})
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"length_penalty": math.nan}, "length_penalty"),
        ({"seed": 2**70}, "seed"),
        ({"temperature": math.inf}, "temperature"),
        ({"top_p": math.nan}, "top_p"),
        ({"max_length_ratio": -1.0}, "max_length_ratio"),
    ],
)
def test_decoding_options_use_the_same_rule(options: dict[str, object], field: str) -> None:
    with pytest.raises(OptionError) as error:
        DecodingOptions(**options)  # type: ignore[arg-type]
    assert error.value.field == field
