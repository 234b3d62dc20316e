"""Weights to int8 for the native kernel: symmetric per output channel on 7 bits ([-63, 63], so
that the kernel can add two int16 pair sums of 7-bit inputs without saturating), rows padded to
32 bytes; then packed in panels of 32 output columns for dense products (``int8_linear.h``)."""

from __future__ import annotations

import torch

ALIGN = 32  # int8 rows padded to whole 32-byte vectors (int8_rows.h's kAlign)
LEVELS = 63  # largest |q|
PANEL = 32  # output columns per packed panel (int8_linear.h's kPanel)
BLOCK = 8  # output columns per 32-byte vector of a panel
GROUP = 4  # inputs per column in that vector


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


def pack_columns(q: torch.Tensor) -> torch.Tensor:
    """``q (N, Kp)`` -> ``(N' / 8, Kp / 4, 8, 4)`` with ``N'`` = N rounded up to whole panels of
    32 (zero columns beyond N): ``packed[b, g, c, j] = q[8 b + c, 4 g + j]``, so that one 32-byte
    vector holds 4 consecutive inputs of 8 consecutive output columns."""
    rows, width = q.shape
    padded = torch.zeros(-(-rows // PANEL) * PANEL, width, dtype=torch.int8)  # (N', Kp)
    padded[:rows] = q
    blocks = padded.view(-1, BLOCK, width // GROUP, GROUP)  # (N' / 8, 8, Kp / 4, 4)
    return blocks.permute(0, 2, 1, 3).contiguous()


def unpack_columns(packed: torch.Tensor, rows: int) -> torch.Tensor:
    """:func:`pack_columns`'s inverse: ``(N' / 8, Kp / 4, 8, 4)`` -> ``q (N, Kp)``."""
    blocks, groups = packed.shape[:2]
    return packed.permute(0, 2, 1, 3).reshape(blocks * BLOCK, groups * GROUP)[:rows].contiguous()
