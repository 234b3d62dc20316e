"""The fast CPU dropout: keep rate, scaling, eval identity, reproducibility, gradient."""

from __future__ import annotations

import pytest
import torch

from transformer_mt.model.dropout import Dropout, fast_dropout, random_keep_mask

N = 200_000  # elements for the statistical checks: standard error of the rate <= 0.0012


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_keeps_about_one_minus_p_and_scales_survivors(p: float) -> None:
    torch.manual_seed(0)
    x = torch.full((N,), 2.0)
    y = fast_dropout(x, p, training=True)
    kept = y != 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.01
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 2.0 / (1 - p)))
    # Inverted dropout keeps the expectation.
    assert abs(y.mean().item() - 2.0) < 0.05


def test_drops_are_spread_over_the_tensor() -> None:
    """Every 16-bit lane and every region of a 2-D tensor drops at the same rate."""
    torch.manual_seed(0)
    mask = random_keep_mask(torch.Size((400, 1000)), 0.25, torch.device("cpu"))
    assert mask.shape == (400, 1000)
    assert mask.dtype == torch.bool
    for lane in range(4):  # the four int16 halves of each random int64 word
        rate = mask.flatten()[lane::4].float().mean().item()
        assert abs(rate - 0.75) < 0.01, lane
    assert abs(mask[:200].float().mean().item() - mask[200:].float().mean().item()) < 0.01
    assert abs(mask[:, :500].float().mean().item() - mask[:, 500:].float().mean().item()) < 0.01


def test_odd_sizes_get_a_full_mask() -> None:
    for shape in [(1,), (3,), (5, 7), (2, 3, 5)]:
        mask = random_keep_mask(torch.Size(shape), 0.5, torch.device("cpu"))
        assert mask.shape == shape


def test_eval_mode_and_zero_p_are_identity() -> None:
    x = torch.randn(4, 5)
    dropout = Dropout(0.5).eval()
    assert torch.equal(dropout(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert torch.equal(fast_dropout(x, 0.7, training=False), x)


def test_reproducible_under_manual_seed() -> None:
    x = torch.ones(1000)
    dropout = Dropout(0.5).train()
    torch.manual_seed(123)
    first = dropout(x)
    torch.manual_seed(123)
    second = dropout(x)
    third = dropout(x)
    assert torch.equal(first, second)
    assert not torch.equal(second, third)


def test_gradient_is_mask_times_scale() -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 32, requires_grad=True)
    y = fast_dropout(x, 0.4, training=True)
    upstream = torch.randn(64, 32)
    y.backward(upstream)
    keep = (y != 0).float()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, upstream * keep / 0.6)
    torch.testing.assert_close(y, x.detach() * keep / 0.6)


def test_keeps_the_dtype() -> None:
    torch.manual_seed(0)
    x = torch.ones(100, dtype=torch.bfloat16)
    y = fast_dropout(x, 0.5, training=True)
    assert y.dtype == torch.bfloat16
    assert set(y.unique().tolist()) <= {0.0, 2.0}


def test_repr_names_p() -> None:
    assert repr(Dropout(0.25)) == "Dropout(p=0.25)"
