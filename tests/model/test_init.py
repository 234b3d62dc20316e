"""Weight initialisation: the two schemes draw what they document, and the config checks them."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

from transformer_mt.model import Transformer, TransformerConfig
from transformer_mt.model.init import initialize

MakeConfig = Callable[..., TransformerConfig]


def _wide_model(make_config: MakeConfig, init: str, **overrides: object) -> Transformer:
    """Wide enough (D 128, V 400) for the sample spreads to sit within 10% of the drawn ones."""
    torch.manual_seed(0)
    fields = {"d_model": 128, "num_heads": 4, "d_ff": 512, "tgt_vocab_size": 400,
              "src_vocab_size": 400, "init": init} | overrides  # fmt: skip
    return Transformer(make_config(**fields))


def test_normal_draws_every_linear_and_token_embedding_at_init_std(make_config: MakeConfig) -> None:
    model = _wide_model(make_config, "normal")
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear | nn.Embedding):
            assert module.weight.std().item() == pytest.approx(0.02, rel=0.1), name
        if isinstance(module, nn.Linear) and module.bias is not None:
            assert torch.count_nonzero(module.bias) == 0, name


def test_xavier_bounds_linears_by_fan_and_scales_embeddings_to_unit_vectors(
    make_config: MakeConfig,
) -> None:
    model = _wide_model(make_config, "xavier")
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and module is not model.output_projection:
            fan_out, fan_in = module.weight.shape
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            assert module.weight.abs().max().item() <= bound, name
            assert module.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)
    tokens = model.target_embedder.tokens.weight[1:]  # (V - 1, D), the padding row is zero
    assert tokens.std().item() == pytest.approx(128**-0.5, rel=0.1)


@pytest.mark.parametrize("init", ["normal", "xavier"])
def test_padding_row_is_zero_and_tied_output_shares_it(make_config: MakeConfig, init: str) -> None:
    model = _wide_model(make_config, init)
    assert torch.count_nonzero(model.target_embedder.tokens.weight[0]) == 0
    assert model.output_projection.weight is model.target_embedder.tokens.weight


def test_init_std_sets_the_spread(make_config: MakeConfig) -> None:
    model = _wide_model(make_config, "normal", init_std=0.05)
    ff = model.encoder_layers[0].feed_forward
    linear = next(m for m in ff.modules() if isinstance(m, nn.Linear))
    assert linear.weight.std().item() == pytest.approx(0.05, rel=0.1)


def test_layer_norms_and_learned_positions_are_left_to_their_own_init(
    make_config: MakeConfig,
) -> None:
    model = _wide_model(make_config, "normal", positional_encoding="learned")
    positions = model.source_embedder.positions.learned
    assert positions is not None
    assert positions.weight.std().item() == pytest.approx(128**-0.5, rel=0.1)
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            assert torch.equal(module.weight, torch.ones_like(module.weight))


@pytest.mark.parametrize(
    ("overrides", "field"), [({"init": "kaiming"}, "init"), ({"init_std": 0.0}, "init_std")]
)
def test_bad_init_settings_are_refused_by_name(
    make_config: MakeConfig, overrides: dict, field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        make_config(**overrides)


def test_unknown_scheme_is_refused_by_the_function_too() -> None:
    with pytest.raises(ValueError, match="normal or xavier"):
        initialize(nn.Linear(2, 2), "orthogonal", d_model=2)
    with pytest.raises(ValueError, match="normal or xavier"):
        initialize(nn.Linear(2, 2), "auto", d_model=2)


@pytest.mark.parametrize(("norm", "drawn"), [("post", "normal"), ("pre", "xavier")])
def test_auto_picks_each_norm_positions_faster_scheme(
    make_config: MakeConfig, norm: str, drawn: str
) -> None:
    auto = _wide_model(make_config, "auto", norm_position=norm)
    explicit = _wide_model(make_config, drawn, norm_position=norm)
    for (name, a), (_, b) in zip(
        auto.state_dict().items(), explicit.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
