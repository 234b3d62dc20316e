"""Attention against independent references.

- ``attend`` (both paths) equals :func:`torch.nn.functional.scaled_dot_product_attention` and a
  softmax written out by hand in float64;
- :class:`MultiHeadAttention` equals :class:`torch.nn.MultiheadAttention` loaded with the same
  weights, with and without a key padding mask.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (the conventional alias)
from torch import nn

from attention_reference import B, D, H, S, T, key_padding, qkv, softmax_reference
from transformer_mt import masks
from transformer_mt.model.attention import MultiHeadAttention, attend


@pytest.mark.parametrize("mask", [None, key_padding()], ids=["no-mask", "padding"])
def test_both_paths_equal_sdpa_and_the_hand_written_softmax(mask: torch.Tensor | None) -> None:
    query, key, value = qkv(torch.float64)
    expected, expected_weights = softmax_reference(query, key, value, mask)
    sdpa = F.scaled_dot_product_attention(query, key, value, attn_mask=mask)
    fast, none = attend(query, key, value, mask)
    explicit, weights = attend(query, key, value, mask, need_weights=True)
    assert none is None
    assert weights is not None
    torch.testing.assert_close(fast, sdpa)
    torch.testing.assert_close(fast, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(explicit, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(weights, expected_weights, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("need_weights", [False, True])
def test_an_additive_mask_attends_as_the_boolean_one(need_weights: bool) -> None:
    """A float mask (0 / -inf) is added to the scores, in either path."""
    query, key, value = qkv(torch.float64)
    mask = key_padding()
    expected, _ = softmax_reference(query, key, value, mask)
    context, _ = attend(query, key, value, masks.additive(mask), need_weights=need_weights)
    torch.testing.assert_close(context, expected, rtol=1e-6, atol=1e-6)


def test_explicit_weights_are_distributions_with_masked_keys_at_zero() -> None:
    query, key, value = qkv()
    _, weights = attend(query, key, value, key_padding(), need_weights=True)
    assert weights is not None
    assert weights.shape == (B, H, T, S)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(B, H, T))
    assert torch.all(weights[1, :, :, 2:] == 0)
    assert torch.all(weights[0] > 0)


def test_causal_mask_in_both_paths() -> None:
    query, key, value = qkv()
    key, value = key[:, :, :T], value[:, :, :T]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    fast, _ = attend(query, key, value, causal)
    explicit, weights = attend(query, key, value, causal, need_weights=True)
    sdpa = F.scaled_dot_product_attention(query, key, value, is_causal=True)
    torch.testing.assert_close(fast, sdpa)
    torch.testing.assert_close(explicit, sdpa, rtol=1e-5, atol=1e-6)
    assert weights is not None
    assert torch.all(weights.triu(diagonal=1) == 0)
    # The first query can only see the first key: its output is that key's value.
    torch.testing.assert_close(explicit[:, :, 0], value[:, :, 0])


def test_a_key_that_is_masked_out_has_no_influence() -> None:
    query, key, value = qkv()
    mask = key_padding()
    before, _ = attend(query, key, value, mask)
    key[1, :, 2:] = 1e3  # change only sentence 1's masked keys and values
    value[1, :, 2:] = -1e3
    after, _ = attend(query, key, value, mask)
    torch.testing.assert_close(after, before)


def reference_attention(ours: MultiHeadAttention) -> nn.MultiheadAttention:
    """torch's MultiheadAttention with our weights: in_proj = [W_q; W_k; W_v]."""
    reference = nn.MultiheadAttention(D, H, batch_first=True)
    with torch.no_grad():
        reference.in_proj_weight.copy_(
            torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight])
        )
        reference.in_proj_bias.copy_(
            torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias])
        )
        reference.out_proj.weight.copy_(ours.out_proj.weight)
        reference.out_proj.bias.copy_(ours.out_proj.bias)
    return reference.eval()


def random_attention() -> MultiHeadAttention:
    torch.manual_seed(0)
    attention = MultiHeadAttention(D, H).eval()
    with torch.no_grad():  # non-zero biases so that a bias mix-up would show
        for linear in (attention.q_proj, attention.k_proj, attention.v_proj, attention.out_proj):
            linear.bias.normal_()
    return attention


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_multi_head_attention_equals_torch(need_weights: bool, padded: bool) -> None:
    ours = random_attention()
    reference = reference_attention(ours)
    generator = torch.Generator().manual_seed(1)
    query = torch.randn(B, T, D, generator=generator)
    key = torch.randn(B, S, D, generator=generator)
    value = torch.randn(B, S, D, generator=generator)  # distinct from key: cross-attention shape
    real_keys = key_padding()[:, 0, 0] if padded else torch.ones(B, S, dtype=torch.bool)
    with torch.no_grad():
        out, weights = ours(
            query, key, value, key_padding() if padded else None, need_weights=need_weights
        )
        expected, expected_weights = reference(
            query,
            key,
            value,
            key_padding_mask=~real_keys,  # torch: True = ignore
            need_weights=True,
            average_attn_weights=False,
        )
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    assert out.shape == (B, T, D)
    if need_weights:
        assert weights is not None
        torch.testing.assert_close(weights, expected_weights, rtol=1e-5, atol=1e-6)
    else:
        assert weights is None


def test_multi_head_self_attention_equals_torch_with_a_causal_mask() -> None:
    ours = random_attention()
    reference = reference_attention(ours)
    x = torch.randn(B, T, D, generator=torch.Generator().manual_seed(2))
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    with torch.no_grad():
        out, _ = ours(x, x, x, causal)
        expected, _ = reference(x, x, x, attn_mask=~causal, need_weights=False)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_width_must_divide_into_heads() -> None:
    with pytest.raises(ValueError, match=r"d_model=10.*num_heads=4"):
        MultiHeadAttention(10, 4)


def test_attention_dropout_only_in_training_and_weights_stay_undropped() -> None:
    attention = MultiHeadAttention(D, H, dropout=0.5)
    x = torch.randn(B, T, D, generator=torch.Generator().manual_seed(3))
    attention.eval()
    first, _ = attention(x, x, x, None)
    second, _ = attention(x, x, x, None)
    torch.testing.assert_close(first, second)
    attention.train()
    torch.manual_seed(0)
    dropped, weights = attention(x, x, x, None, need_weights=True)
    assert not torch.allclose(dropped, first)
    assert weights is not None  # the returned probabilities are the undropped distribution
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(B, H, T))
