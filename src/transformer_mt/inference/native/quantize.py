"""Weights to int8 for the native kernel: symmetric per output channel on 7 bits ([-63, 63], so
that the kernel's int16 pair sums of 8-bit inputs cannot saturate), rows padded to 32 bytes."""

from __future__ import annotations

import torch

ALIGN = 32  # int8 rows padded to whole 32-byte vectors (decoder_step.cpp's kAlign)
LEVELS = 63  # largest |q|


def quantize_per_channel(
    weight: torch.Tensor, bias: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(N, K)`` fp32 -> int8 ``q (N, Kp)`` in [-63, 63] (K padded to a multiple of 32 with
    zeros), per-row
    scales ``(N,)`` with ``weight ~ scale[:, None] * q``, int32 row sums of ``q`` ``(N,)`` and
    the bias ``(N,)`` (empty if none)."""
    weight = weight.detach().float()
    rows, width = weight.shape
    scale = weight.abs().amax(dim=1).clamp_min(1e-12) / LEVELS  # (N,)
    padded = torch.zeros(rows, -(-width // ALIGN) * ALIGN, dtype=torch.int8)  # (N, Kp)
    padded[:, :width] = torch.round(weight / scale[:, None]).clamp(-LEVELS, LEVELS).to(torch.int8)
    sums = padded.sum(dim=1, dtype=torch.int32)  # (N,)
    kept_bias = torch.empty(0) if bias is None else bias.detach().float().clone()
    return padded, scale.contiguous(), sums, kept_bias
