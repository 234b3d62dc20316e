"""The inference Transformer's output layer (a transposed weight copy for a few rows) equals the
plain layer, follows weight changes and never serves training."""

from __future__ import annotations

import pytest
import torch

from transformer_mt.inference.linear import PackedLinear, packing_available
from transformer_mt.inference.model import FEW_ROWS, InferenceTransformer
from transformer_mt.model import Transformer, TransformerConfig


def model() -> InferenceTransformer:
    torch.manual_seed(0)
    config = TransformerConfig(
        src_vocab_size=50, tgt_vocab_size=50, d_model=16, num_heads=2, num_encoder_layers=1,
        num_decoder_layers=1, d_ff=32, dropout=0.0,
    )  # fmt: skip
    return InferenceTransformer.convert(Transformer(config).eval())


def test_few_rows_in_inference_equal_the_linear_layer() -> None:
    net = model()
    for rows in (1, FEW_ROWS, FEW_ROWS + 1):
        hidden = torch.randn(rows, 16)
        with torch.inference_mode():
            fast = net.project(hidden)
        torch.testing.assert_close(fast, net.output_projection(hidden))


def test_the_copy_follows_weight_changes() -> None:
    net = model()
    hidden = torch.randn(1, 16)
    with torch.no_grad():
        net.project(hidden)  # makes the copy
        net.output_projection.weight.mul_(2.0)  # an in-place change (as an optimizer step)
        after = net.project(hidden)
    torch.testing.assert_close(after, net.output_projection(hidden).detach())
    state = {k: v * 3 for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    with torch.no_grad():
        torch.testing.assert_close(net.project(hidden), net.output_projection(hidden))


def test_training_and_gradients_use_the_layer_itself() -> None:
    net = model()
    hidden = torch.randn(1, 16, requires_grad=True)
    net.project(hidden).sum().backward()  # grad enabled: the plain layer, no inference copy
    assert net.output_projection.weight.grad is not None
    assert net._transposed is None


def test_a_packed_output_layer_takes_the_copy_at_one_row_only() -> None:
    if not packing_available():
        pytest.skip("this PyTorch build has no oneDNN")
    net = model()
    expected = {rows: net.output_projection(torch.ones(rows, 16)).detach() for rows in (1, 2)}
    net.output_projection = PackedLinear(net.output_projection)
    with torch.inference_mode():
        for rows in (2, 1):
            torch.testing.assert_close(net.project(torch.ones(rows, 16)), expected[rows])
            assert (net._transposed is not None) == (rows == 1)
