"""Dropout that draws 16 random bits per element instead of a Bernoulli sample.

On CPU, ``torch.nn.functional.dropout`` draws one Bernoulli sample per element, which costs
several times more than filling the same bytes from 64-bit random words (the measurement is in
``docs/performance.md``). Each element is dropped with probability ``round(p * 65536) / 65536``;
the random stream is torch's default generator, so ``torch.manual_seed`` makes it reproducible.
"""

from __future__ import annotations

import torch
from torch import nn

_LEVELS = 1 << 16


def random_keep_mask(shape: torch.Size, p: float, device: torch.device) -> torch.Tensor:
    """Boolean mask of ``shape``; each element is ``False`` with probability ``p`` (16-bit)."""
    count = shape.numel()
    words = torch.empty((count + 3) // 4, dtype=torch.int64, device=device)
    # The full int64 range makes all 64 bits uniform (the default range leaves the top bit 0).
    words.random_(-(2**63), 2**63 - 1)
    halves = words.view(torch.int16)[:count].view(shape)  # uniform over [-32768, 32767]
    threshold = -(_LEVELS // 2) + round(p * _LEVELS)
    return halves >= threshold


def fast_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout: zero elements with probability ``p`` and scale the rest by 1 / (1 - p)."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return nn.functional.dropout(x, p, training=True)
    keep = random_keep_mask(x.shape, p, x.device)
    return x * keep.to(x.dtype) * (1.0 / (1.0 - p))


class Dropout(nn.Module):
    """Drop-in replacement for :class:`torch.nn.Dropout` using :func:`fast_dropout` on CPU."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fast_dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
