"""The inference attention against the reference: the explicit path for many-row steps,
keys cached in bf16, additive masks, fused Q/K/V."""

from __future__ import annotations

import pytest
import torch

from attention_reference import B, D, H, K, S, T, key_padding, qkv, softmax_reference
from transformer_mt import masks
from transformer_mt.inference.attention import (
    MANY_HEAD_ROWS,
    FastAttention,
    explicit_is_faster,
    fast_attend,
)
from transformer_mt.model.attention import MultiHeadAttention


@pytest.mark.parametrize("queries", [1, 4])
def test_decoding_steps_of_many_rows_take_the_explicit_path_and_compute_the_same(
    queries: int,
) -> None:
    generator = torch.Generator().manual_seed(1)
    rows = MANY_HEAD_ROWS // H  # batch x heads reaches the threshold
    query = torch.randn(rows, H, queries, K, generator=generator, dtype=torch.float64)
    key, value = torch.randn(2, rows, H, S, K, generator=generator, dtype=torch.float64)
    mask = torch.rand(rows, 1, queries, S, generator=generator) < 0.7
    mask[..., 0] = True  # every query sees at least one key
    assert explicit_is_faster(query)
    assert not explicit_is_faster(query[:1])  # one row: the fused kernel
    assert not explicit_is_faster(torch.zeros(rows, H, 5, K))  # a whole sequence
    expected, _ = softmax_reference(query, key, value, mask)
    context = fast_attend(query, key, value, mask)
    torch.testing.assert_close(context, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("copies", [1, MANY_HEAD_ROWS // 2], ids=["fused", "explicit"])
def test_keys_in_bf16_are_attended_in_bf16_and_the_context_returns_in_fp32(copies: int) -> None:
    query, key, value = (t.repeat(copies, 1, 1, 1) for t in qkv())
    mask = key_padding().repeat(copies, 1, 1, 1)
    expected, _ = softmax_reference(query.double(), key.double(), value.double(), mask)
    context = fast_attend(query, key.bfloat16(), value.bfloat16(), mask)
    assert context.dtype == torch.float32
    torch.testing.assert_close(context.double(), expected, rtol=0.03, atol=0.03)


@pytest.mark.parametrize("copies", [1, MANY_HEAD_ROWS // 2], ids=["fused", "explicit"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_an_additive_mask_attends_as_the_boolean_one(copies: int, dtype: torch.dtype) -> None:
    """A float mask (0 / -inf, fp32) is added to the scores, in either path and key dtype."""
    query, key, value = (t.repeat(copies, 1, 1, 1).double() for t in qkv())
    mask = key_padding().repeat(copies, 1, 1, 1)
    expected, _ = softmax_reference(query, key, value, mask)
    bias = masks.additive(mask)  # fp32, whatever the keys
    context = fast_attend(query, key.to(dtype), value.to(dtype), bias)
    tolerance = 1e-6 if dtype == torch.float64 else 0.03
    torch.testing.assert_close(context, expected, rtol=tolerance, atol=tolerance)


def test_fused_projections_compute_the_same_self_attention() -> None:
    torch.manual_seed(0)
    attention = FastAttention.convert(MultiHeadAttention(D, H).eval())
    x = torch.randn(B, T, D)
    mask = torch.tensor([[True, True, True], [True, True, False]])[:, None, None, :]
    with torch.no_grad():
        expected, _ = attention(x, x, x, mask)
        attention.fuse_projections()
        fused, _ = attention(x, x, x, mask)
    assert not hasattr(attention, "q_proj")  # replaced, not duplicated
    torch.testing.assert_close(fused, expected)
    with pytest.raises(ValueError, match="self-attention only"):
        attention(x, torch.randn(B, S, D), torch.randn(B, S, D), None)
