"""Property-based tests of the config loader against hostile input.

Properties, for any input:

* ``config_from_dict`` of arbitrary nested data (dicts with any keys, lists, ``None``, bools,
  huge ints, ``nan``/``inf``, any text), and of a valid config with fields replaced by such
  values, either returns an :class:`ExperimentConfig` or raises :class:`ConfigError` with a
  non-empty one-line message; never another exception.
* ``load_config`` of arbitrary bytes (invalid UTF-8, deep nesting, huge numbers, any text)
  behaves the same, and so do arbitrary ``--set`` override strings on a valid file.
* A config that loads round-trips: ``to_dict`` -> ``config_from_dict`` (and through YAML text
  -> ``load_config``) gives an equal config.
* Every numeric field of an accepted config is finite and inside its declared range
  (``DATA_RANGES``, ``TRAINING_RANGES``, ``MODEL_RANGES``, the decoding ``RANGES``).
* ``--set section.key=value`` with a valid key and an in-range value changes exactly that field.

The bugs these properties found are pinned as plain examples in ``test_loading_regressions.py``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from loading_support import BASE, base_dict, write

from transformer_mt.config import ExperimentConfig, config_from_dict, load_config
from transformer_mt.config.decoding import RANGES as DECODING_RANGES
from transformer_mt.config.experiment import (
    DATA_RANGES,
    MODEL_RANGES,
    SECTIONS,
    TRAINING_RANGES,
)
from transformer_mt.errors import ConfigError, UserError
from transformer_mt.ranges import Range

SECTION_RANGES: dict[str, dict[str, Range]] = {
    "data": DATA_RANGES,
    "model": MODEL_RANGES,
    "training": TRAINING_RANGES,
    "evaluation": DECODING_RANGES,
}

FIELDS: list[tuple[str, str]] = [
    (section, f.name) for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)
]

# (10**5000 has more digits than repr allows, so hypothesis could not print it: tested below.)
HUGE_INTS = [2**63 - 1, 2**63, 2**70, -(2**70), 10**400, -(10**400), 10**4000]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE_INTS),
    st.floats(),  # nan, inf, -0.0, subnormals
    st.text(max_size=20),
    st.sampled_from(["", "5e-4", "1e999", "-1e999", "nan", ".inf", "null", "auto", "lstm"]),
)
keys = st.one_of(st.text(max_size=10), st.integers(), st.none(), st.booleans(), st.floats())
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(keys, children, max_size=3),
    ),
    max_leaves=8,
)
field_names = st.sampled_from(sorted({name for _, name in FIELDS}))
sections = st.dictionaries(st.one_of(field_names, keys), values, max_size=4)
raw_configs = st.dictionaries(
    st.one_of(st.sampled_from(["run_dir", *SECTIONS]), keys),
    st.one_of(sections, values),
    max_size=5,
)

QUICK = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])


def assert_one_line(error: UserError) -> None:
    message = str(error)
    assert message.strip(), "empty error message"
    assert len(message.splitlines()) == 1, f"multi-line message: {message!r}"


def build(raw: Any) -> ExperimentConfig | None:
    """``config_from_dict(raw)``, or ``None`` after checking the ConfigError's message."""
    try:
        return config_from_dict(raw)
    except ConfigError as error:
        assert_one_line(error)
        return None


def load(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig | None:
    """``load_config(path, overrides)``, or ``None`` after checking the ConfigError's message."""
    try:
        return load_config(path, overrides)
    except ConfigError as error:
        assert_one_line(error)
        return None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("configs")


def numbers(value: Any) -> Iterator[int | float]:
    """Every int and float (not bool) inside nested dicts and lists."""
    if isinstance(value, dict):
        for item in value.values():
            yield from numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from numbers(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


def check_accepted(config: ExperimentConfig) -> None:
    """The properties every accepted config has: in range, finite, round-trips."""
    assert isinstance(config, ExperimentConfig)
    for section, ranges in SECTION_RANGES.items():
        values = getattr(config, section)
        for name, allowed in ranges.items():
            assert allowed.problem(getattr(values, name)) is None, (section, name)
    plain = config.to_dict()
    assert all(math.isfinite(number) for number in numbers(plain)), plain
    assert config_from_dict(plain) == config


# --- config_from_dict -------------------------------------------------------------------------


@QUICK
@given(raw=raw_configs)
def test_arbitrary_data_is_a_config_or_a_config_error(raw: dict[Any, Any]) -> None:
    config = build(raw)
    if config is not None:
        check_accepted(config)


@QUICK
@given(changes=st.dictionaries(st.sampled_from(FIELDS), values, min_size=1, max_size=3))
def test_a_valid_config_with_arbitrary_field_values(changes: dict[tuple[str, str], Any]) -> None:
    raw = base_dict()
    for (section, name), value in changes.items():
        raw[section][name] = value
    config = build(raw)
    if config is not None:
        check_accepted(config)


@QUICK
@given(section=st.sampled_from(list(SECTIONS)), value=values)
def test_a_section_of_any_type(section: str, value: Any) -> None:
    raw = base_dict()
    raw[section] = value
    config = build(raw)
    if config is not None:
        assert value is None or isinstance(value, dict)
        check_accepted(config)


NUMERIC_FIELDS = sorted(
    (section, name) for section, ranges in SECTION_RANGES.items() for name in ranges
)
hostile_numbers = st.one_of(
    st.floats(),
    st.integers(),
    st.sampled_from([*HUGE_INTS, math.nan, math.inf, -math.inf, 0, -1, 0.5, 1.0, 1e308, -0.0]),
)


@pytest.mark.parametrize(
    ("section", "name"), NUMERIC_FIELDS, ids=[".".join(k) for k in NUMERIC_FIELDS]
)
@settings(max_examples=25)
@given(value=hostile_numbers)
def test_a_numeric_field_is_accepted_only_in_range(section: str, name: str, value: Any) -> None:
    raw = base_dict()
    raw[section][name] = value
    config = build(raw)
    if config is not None:
        check_accepted(config)


# --- load_config: files and overrides ---------------------------------------------------------

yaml_documents = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    raw_configs.map(lambda raw: yaml.safe_dump(raw).encode()),
    # Nesting is kept shallow here: too deep for Python's stack is slow, and tested below.
    st.integers(1, 100).map(lambda depth: b"data: " + b"[" * depth + b"]" * depth),
    st.integers(1, 100).map(lambda depth: b"data: " + b"{a: " * depth + b"}" * depth),
    st.sampled_from([b"\xef\xbb\xbfrun_dir: x", b"training: {max_steps: 2001-02-30}"]),
)


@QUICK
@given(data=yaml_documents)
def test_any_file_is_a_config_or_a_config_error(workdir: Path, data: bytes) -> None:
    config = load(write(workdir, data))
    if config is not None:
        check_accepted(config)


override_keys = st.one_of(
    st.sampled_from(FIELDS).map(".".join),
    st.text(max_size=20),
    st.sampled_from(["run_dir", "training", "training.", ".lr", "a.b.c", " model.d_model "]),
)
override_values = st.one_of(
    st.text(max_size=20),
    values.map(lambda value: yaml.safe_dump(value, default_flow_style=True)),
    st.sampled_from(["9" * 5000, "0x" + "f" * 5000, "&a [*a]", "!!binary x", "2001-02-30"]),
)
overrides = st.one_of(
    st.text(max_size=30),
    st.tuples(override_keys, override_values).map("=".join),
)


@QUICK
@given(data=st.lists(overrides, min_size=1, max_size=3))
def test_any_override_is_a_config_or_a_config_error(workdir: Path, data: list[str]) -> None:
    config = load(write(workdir, yaml.safe_dump(BASE).encode()), data)
    if config is not None:
        check_accepted(config)


# --- a valid override changes exactly its field -----------------------------------------------


def in_range(allowed: Range, kind: str) -> st.SearchStrategy[Any]:
    """Values of type ``kind`` (``int`` or ``float``) that ``allowed`` accepts."""
    if kind == "int":
        low = None if allowed.low is None else math.floor(allowed.low) + int(allowed.low_open)
        high = None if allowed.high is None else math.ceil(allowed.high) - int(allowed.high_open)
        return st.integers(low, high)
    return st.floats(
        allowed.low,
        allowed.high,
        exclude_min=allowed.low_open,
        exclude_max=allowed.high_open,
        allow_nan=False,
        allow_infinity=False,
    )


def field_kind(section: str, name: str) -> str:
    field = next(f for f in dataclasses.fields(SECTIONS[section]) if f.name == name)
    return str(field.type).split("|")[0].strip()


# Fields whose every in-range value keeps the base config valid (no cross-field rule applies).
VALID_VALUES: dict[tuple[str, str], st.SearchStrategy[Any]] = {
    (section, name): in_range(allowed, field_kind(section, name))
    for section, ranges in SECTION_RANGES.items()
    for name, allowed in ranges.items()
    if (section, name) not in {("evaluation", "n_best"), ("model", "d_model")}
} | {
    ("model", "d_model"): st.integers(1, 2**20).map(lambda half: 2 * half),
    ("model", "num_heads"): st.sampled_from([1, 2, 4, 8, 16, 32]),
    ("model", "activation"): st.sampled_from(["relu", "gelu"]),
    ("model", "kind"): st.sampled_from(["transformer", "lstm"]),
    ("data", "skip_invalid"): st.booleans(),
    ("data", "train"): st.text(min_size=1).filter(str.strip),
    ("data", "test"): st.one_of(
        st.none(), st.text(min_size=1), st.lists(st.text(min_size=1), min_size=2, max_size=2)
    ),
    ("training", "device"): st.sampled_from(["auto", "cpu", "cuda"]),
    ("training", "tensorboard"): st.booleans(),
    ("evaluation", "sample"): st.booleans(),
}
for optional in ("max_steps", "max_epochs", "max_minutes", "ema_decay", "patience", "threads"):
    VALID_VALUES["training", optional] = st.one_of(st.none(), VALID_VALUES["training", optional])


def yaml_text(value: Any) -> str:
    """How a user would type ``value`` after ``=``: ``repr`` of a float (``5e-05``), or YAML."""
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    return yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip()


@settings(max_examples=200)
@given(data=st.data(), key=st.sampled_from(sorted(VALID_VALUES)))
def test_a_valid_override_changes_exactly_that_field(
    workdir: Path, data: st.DataObject, key: tuple[str, str]
) -> None:
    section, name = key
    value = data.draw(VALID_VALUES[key], label="value")
    path = write(workdir, yaml.safe_dump(BASE).encode())
    base = load_config(path)
    config = load_config(path, [f"{section}.{name}={yaml_text(value)}"])
    expected_section = dataclasses.replace(getattr(base, section), **{name: value})
    assert config == dataclasses.replace(base, **{section: expected_section})
    changed = getattr(config, section)
    assert getattr(changed, name) == value
    assert type(getattr(changed, name)) is type(value)


def valid_changes() -> st.SearchStrategy[dict[tuple[str, str], Any]]:
    """Several fields of :data:`BASE` set to in-range values (cross-field rules may fail)."""
    return st.dictionaries(st.sampled_from(sorted(VALID_VALUES)), st.none(), max_size=6).flatmap(
        lambda chosen: st.fixed_dictionaries({key: VALID_VALUES[key] for key in chosen})
    )


@QUICK
@given(changes=valid_changes())
def test_an_accepted_config_round_trips_through_its_yaml(
    workdir: Path, changes: dict[tuple[str, str], Any]
) -> None:
    raw = base_dict()
    for (section, name), value in changes.items():
        raw[section][name] = value
    config = build(raw)
    assume(config is not None)
    assert config is not None
    check_accepted(config)
    # As the run directory saves it (artifacts/rundir.py).
    text = yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True)
    assert load_config(write(workdir, text.encode())) == config
