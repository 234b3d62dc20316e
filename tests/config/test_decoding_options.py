"""DecodingOptions: validated once, and the one description every entry point reads."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from transformer_mt.cli.decode import evaluate, translate
from transformer_mt.config import DecodingOptions, OptionError, config_from_dict
from transformer_mt.config.decoding import FIELDS
from transformer_mt.errors import ConfigError


def test_defaults_are_beam_search_with_four_beams() -> None:
    options = DecodingOptions()
    assert (options.beam_size, options.n_best, options.sample) == (4, 1, False)
    assert options.strategy == "beam"
    assert DecodingOptions(beam_size=1).strategy == "greedy"
    assert DecodingOptions(beam_size=1, n_best=1, sample=True).strategy == "sample"
    assert DecodingOptions(beam_size=2, n_best=2).describe() == "beam 2"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"beam_size": 0}, "beam_size"),
        ({"n_best": 0}, "n_best"),
        ({"top_k": -1}, "top_k"),
        ({"seed": -1}, "seed"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_length_offset": -1}, "max_length_offset"),
        ({"max_length_ratio": math.nan}, "max_length_ratio"),
        ({"length_penalty": -0.5}, "length_penalty"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": math.inf}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"beam_size": "4"}, "beam_size"),
        ({"sample": 1}, "sample"),
        ({"beam_size": True}, "beam_size"),
    ],
)
def test_a_bad_value_names_its_field(values: dict[str, Any], field: str) -> None:
    with pytest.raises(OptionError, match=field) as caught:
        DecodingOptions(**values)
    assert caught.value.field == field
    assert not caught.value.combination
    assert isinstance(caught.value, ValueError)  # what the Python API promises


@pytest.mark.parametrize("values", [{"beam_size": 2, "n_best": 3}, {"sample": True, "n_best": 2}])
def test_contradicting_options_are_a_combination_error(values: dict[str, Any]) -> None:
    with pytest.raises(OptionError, match="n_best") as caught:
        DecodingOptions(**values)
    assert caught.value.combination


def test_replace_validates_again_and_rejects_unknown_names() -> None:
    options = DecodingOptions(beam_size=5, n_best=3)
    assert options.replace(length_penalty=0.6) == DecodingOptions(
        beam_size=5, n_best=3, length_penalty=0.6
    )
    with pytest.raises(OptionError, match="n_best"):
        options.replace(beam_size=2)
    with pytest.raises(TypeError):
        options.replace(beams=2)


def test_options_are_frozen_and_hashable() -> None:
    options = DecodingOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.beam_size = 2  # type: ignore[misc]
    assert len({DecodingOptions(), DecodingOptions(), DecodingOptions(beam_size=2)}) == 2


def test_every_option_has_help() -> None:
    for name in FIELDS:
        assert DecodingOptions.help(name).endswith(".")


def test_the_cli_has_a_flag_for_every_option() -> None:
    """translate and evaluate build their flags from the fields (evaluate scores one best)."""
    assert set(FIELDS) <= {p.name for p in translate.params}
    assert set(FIELDS) - {"n_best"} <= {p.name for p in evaluate.params}


def test_the_server_schema_is_built_from_the_options() -> None:
    pytest.importorskip("fastapi")
    from transformer_mt.serve.schemas import SERVED_OPTIONS, TranslateRequest

    schema = TranslateRequest.model_fields
    for name in SERVED_OPTIONS:
        assert schema[name].default == FIELDS[name].default
        assert schema[name].description == DecodingOptions.help(name)
    request = TranslateRequest(sentences=["a"], beam_size=3, n_best=2)
    assert request.decoding_options() == DecodingOptions(beam_size=3, n_best=2)


def test_the_evaluation_section_is_decoding_options() -> None:
    def config(evaluation: dict[str, Any]) -> Any:
        return config_from_dict({"training": {"max_steps": 1}, "evaluation": evaluation})

    loaded = config({"beam_size": 2, "max_length_ratio": 1.5})
    assert loaded.evaluation == DecodingOptions(beam_size=2, max_length_ratio=1.5)
    with pytest.raises(ConfigError, match="evaluation: beam_size must be at least 1"):
        config({"beam_size": 0})
    with pytest.raises(ConfigError, match=r"evaluation\.beams"):
        config({"beams": 2})
