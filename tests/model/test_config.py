"""TransformerConfig: frozen, validated, and round-trips through a dict."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from transformer_mt.model import TransformerConfig


def test_head_width_is_model_width_over_heads(
    make_config: Callable[..., TransformerConfig],
) -> None:
    assert make_config(d_model=32, num_heads=4).head_dim == 8


def test_indivisible_width_names_both_numbers(
    make_config: Callable[..., TransformerConfig],
) -> None:
    with pytest.raises(ValueError, match="d_model=30") as error:
        make_config(d_model=30, num_heads=4)
    assert "num_heads=4" in str(error.value)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"src_vocab_size": 0, "share_embeddings": False}, "src_vocab_size"),
        ({"d_model": -16}, "d_model"),
        ({"num_heads": 0}, "num_heads"),
        ({"d_ff": 0}, "d_ff"),
        ({"num_encoder_layers": 0}, "num_encoder_layers"),
        ({"num_decoder_layers": 0}, "num_decoder_layers"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"attention_dropout": 1.5}, "attention_dropout"),
        ({"activation": "tanh"}, "activation"),
        ({"norm_position": "middle"}, "norm_position"),
        ({"positional_encoding": "rotary"}, "positional_encoding"),
        ({"max_positions": 1}, "max_positions"),
        ({"tgt_vocab_size": 30}, "share_embeddings"),
        ({"pad_id": 24}, "pad_id"),
        ({"eos_id": -1}, "eos_id"),
        ({"bos_id": 3}, "distinct"),
        ({"pad_id": 3}, "distinct"),
        ({"output_bias": 1}, "output_bias"),
    ],
)
def test_invalid_fields_raise_a_value_error_naming_the_field(
    make_config: Callable[..., TransformerConfig], overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        make_config(**overrides)


def test_separate_vocabularies_are_allowed_without_sharing(
    make_config: Callable[..., TransformerConfig],
) -> None:
    config = make_config(src_vocab_size=40, tgt_vocab_size=30, share_embeddings=False)
    assert (config.src_vocab_size, config.tgt_vocab_size) == (40, 30)


def test_config_is_frozen(make_config: Callable[..., TransformerConfig]) -> None:
    config = make_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.d_model = 32  # type: ignore[misc]  # assigning is the point of the test


def test_dict_round_trip_and_unknown_keys(make_config: Callable[..., TransformerConfig]) -> None:
    config = make_config(norm_position="pre", activation="gelu")
    assert TransformerConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="d_modle"):
        TransformerConfig.from_dict({**config.to_dict(), "d_modle": 8})


def test_defaults_are_transformer_base() -> None:
    config = TransformerConfig(src_vocab_size=100, tgt_vocab_size=100)
    base = (config.d_model, config.num_heads, config.d_ff, config.num_encoder_layers)
    assert base == (512, 8, 2048, 6)
    assert (config.dropout, config.norm_position, config.positional_encoding) == (
        0.1,
        "post",
        "sinusoidal",
    )
