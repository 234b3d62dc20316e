"""Regression examples of the config loader, each found by a property of
``test_loading_properties.py``: a hostile config is one ConfigError on one line."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from loading_support import BASE, base_dict, write

from transformer_mt.config import config_from_dict, load_config
from transformer_mt.config.experiment import SECTIONS
from transformer_mt.errors import ConfigError


def test_numbered_keys_next_to_named_ones_are_unknown_keys_not_a_type_error() -> None:
    # Found as {'': {}, 0: {}} (the file b"{(,0}"): sorting the unknown keys raised TypeError.
    raw: dict[Any, Any] = {**base_dict(), 1: {}, "a": {}}
    with pytest.raises(ConfigError, match=re.escape("unknown section(s) ['a', 1]; valid:")):
        config_from_dict(raw)
    raw = base_dict()
    raw["training"] |= {0: 1, "x": 2}
    with pytest.raises(ConfigError, match=re.escape("unknown key(s) training.x, training.0;")):
        config_from_dict(raw)


@pytest.mark.parametrize(
    ("section", "name", "value"),
    [
        pytest.param("training", "lr", 10**400, id="lr"),  # float(): OverflowError
        # math.isfinite in the range check: OverflowError
        pytest.param("training", "seed", 10**400, id="seed"),
        pytest.param("evaluation", "seed", -(10**400), id="decoding-seed"),
        pytest.param("training", "adam_betas", [10**400, 0.9], id="adam_betas"),
        pytest.param("model", "d_model", 10**5000, id="5000-digits"),  # repr: ValueError
    ],
)
def test_numbers_too_large_for_a_float_are_config_errors(
    section: str, name: str, value: Any
) -> None:
    raw = base_dict()
    raw[section][name] = value
    with pytest.raises(ConfigError, match=f"{name} is too large a number"):
        config_from_dict(raw)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"training: {seed: " + b"9" * 5000 + b"}", "Exceeds the limit"),  # was a ValueError
        (b"training: {max_steps: 2001-02-30}", "day is out of range"),  # was a ValueError
        (b"data: " + b"[" * 2000 + b"]" * 2000, "nested too deeply"),  # was a RecursionError
    ],
)
def test_yaml_the_parser_cannot_build_is_not_valid_yaml(
    tmp_path: Path, text: bytes, message: str
) -> None:
    with pytest.raises(ConfigError, match=f"not valid YAML: {message}"):
        load_config(write(tmp_path, text))


def test_an_override_too_deep_or_too_long_for_yaml_is_taken_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, yaml.safe_dump(BASE).encode())
    with pytest.raises(ConfigError, match=r"seed must be int, got '9999"):
        load_config(path, ["training.seed=" + "9" * 5000])
    assert load_config(path, ["data.train=" + "[" * 2000]).data.train == "[" * 2000


@pytest.mark.parametrize("key", ["a\nb", "\x85", 7])
def test_unknown_keys_are_named_on_one_line(key: object) -> None:
    raw = base_dict()
    raw["training"][key] = 1
    with pytest.raises(ConfigError, match=f"unknown key\\(s\\) training.{re.escape(repr(key))};"):
        config_from_dict(raw)


def test_an_unknown_override_key_is_named_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"training: 0\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ["training.l\nr=1"])
    assert str(error.value) == "--set: unknown key(s) training.'l\\nr'; valid keys: " + ", ".join(
        f.name for f in dataclasses.fields(SECTIONS["training"])
    )
    with pytest.raises(ConfigError, match=r"^--set training\.lr: section 'training' of the config"):
        load_config(path, ["\ntraining.lr=1"])


@pytest.mark.parametrize("value", [0, False, "", []])
def test_an_empty_value_that_is_not_a_mapping_is_not_a_section(value: object) -> None:
    raw = base_dict()
    raw["training"] = value  # was silently read as the defaults
    with pytest.raises(ConfigError, match="section 'training' must be a mapping"):
        config_from_dict(raw)


@pytest.mark.parametrize("value", [None, "", "  ", 5, ["runs"]])
def test_run_dir_must_be_a_path(value: object) -> None:
    raw = base_dict() | {"run_dir": value}  # None was the directory "None", 5 was "5"
    with pytest.raises(ConfigError, match="run_dir must be a directory path"):
        config_from_dict(raw)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"init_std": math.inf}, "model: init_std must be a finite number"),
        ({"init_std": math.nan}, "model: init_std must be a finite number"),
        ({"kind": "lstm", "num_heads": 0}, "model: num_heads must be at least 1, got 0"),
        ({"kind": "lstm", "d_ff": -5}, "model: d_ff must be at least 1, got -5"),
    ],
)
def test_model_numbers_are_checked_by_their_ranges(changes: dict[str, Any], message: str) -> None:
    raw = base_dict()
    raw["model"] |= changes  # init_std=inf and an LSTM's unused num_heads=0 were accepted
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from_dict(raw)
