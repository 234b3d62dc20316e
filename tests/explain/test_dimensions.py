"""Dimensions and parameter counts of real models add up to their parameters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from transformer_mt.decoding.translator import Translator
from transformer_mt.explain.dimensions import model_dimensions
from transformer_mt.model import Transformer


def _total(model: Transformer) -> int:
    return sum(p.numel() for p in model.parameters())  # parameters() yields shared ones once


@pytest.mark.parametrize(
    "overrides",
    [{}, {"share_embeddings": False, "tie_output": False}, {"norm_position": "pre"}],
)
def test_blocks_add_up_to_the_model(
    make_model: Callable[..., Transformer], overrides: dict[str, object]
) -> None:
    model = make_model(**overrides)
    dims = model_dimensions(model)
    assert dims.total_parameters == _total(model)
    attention = next(b for b in dims.blocks if b.name == "encoder 1 self-attention")
    E = model.config.d_model  # noqa: N806
    assert attention.parameters == 4 * (E * E + E)  # W_Q, W_K, W_V, W_O with biases
    projection = next(b for b in dims.blocks if b.name == "output projection")
    assert projection.shared == model.config.tie_output
    assert (projection.parameters == 0) == model.config.tie_output


def test_head_shapes(translator: Translator) -> None:
    config = translator.model.config
    dims = model_dimensions(translator.model, tokens=7)
    assert dims.head_dim * dims.num_heads == dims.d_model == config.d_model
    shapes = {s.name: s.shape for s in dims.shapes}
    assert shapes["Q, K, V of one head (X W)"] == (7, config.d_model // config.num_heads)
    assert shapes["all heads' Q (split)"] == (config.num_heads, 7, dims.head_dim)
    # (3E, E): W_Q, W_K, W_V of h heads of d rows each (fused for inference)
    qkv = translator.model.encoder_layers[0].self_attention.qkv_proj.weight
    assert tuple(qkv[: dims.head_dim].T.shape) == shapes["W_Q, W_K, W_V of one head"]
    assert dims.total_parameters == _total(translator.model)
