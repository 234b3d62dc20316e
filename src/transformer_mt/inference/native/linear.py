"""A linear layer on the native int8 kernel: int8 weights per output channel, each input row
quantized on its own (so a row's output never depends on the other rows of the batch)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from transformer_mt.inference.linear import InferenceLinear
from transformer_mt.inference.native.quantize import pack_columns, quantize_per_channel


class NativeInt8Linear(InferenceLinear):
    """``(.., in_features) -> (.., out_features)`` through ``decoder_step.cpp``'s int8 kernel.
    Made from a trained fp32 ``nn.Linear``; for inference only."""

    def __init__(self, linear: nn.Module, ops: Any) -> None:
        super().__init__(linear)
        self.ops = ops
        q, scale, sums, bias = quantize_per_channel(linear.weight, linear.bias)
        self.register_buffer("packed", pack_columns(q))  # (N' / 8, Kp / 4, 8, 4) int8
        self.register_buffer("scale", scale)  # (N,)
        self.register_buffer("sums", sums)  # (N,) int32
        self.register_buffer("bias_or_empty", bias)  # (N,) or (0,)

    def quantized(self) -> list[torch.Tensor]:
        """What the native step takes for this layer: weight, scales, sums, bias."""
        return [self.packed, self.scale, self.sums, self.bias_or_empty]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).float().contiguous()  # (R, K)
        out = self.ops.int8_linear(rows, self.packed, self.scale, self.sums, self.bias_or_empty)
        return out.view(*x.shape[:-1], self.out_features)
