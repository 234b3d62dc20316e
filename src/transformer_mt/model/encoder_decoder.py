"""What every architecture shares: the final linear layer and the teacher-forced forward pass.

Subclasses provide ``encode(src_ids)``, ``decode(tgt_in_ids, memory, src_ids)`` and an
``output_projection`` linear layer; training, decoding and export use only that interface.
"""

from __future__ import annotations

import torch
from torch import nn

# Rows up to which a CPU fp32 inference step multiplies by a transposed copy of the output
# weight: ``(R, D) @ (D, V)`` streams a large vocabulary matrix 1.3-2.7x faster than
# ``F.linear``'s ``(V, D)`` layout at 1-4 rows (measured: V 16,000, D 512, one core); at more
# rows the two are level, and in bf16 ``F.linear`` is faster.
FEW_ROWS = 4


class EncoderDecoder(nn.Module):
    output_projection: nn.Linear
    _transposed: tuple[int, int, torch.Tensor] | None = None  # (data_ptr, version, (D, V) copy)

    def encode(self, src_ids: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(
        self, tgt_in_ids: torch.Tensor, memory: torch.Tensor, src_ids: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError

    def project(self, hidden: torch.Tensor) -> torch.Tensor:
        """Final linear layer: ``(.., D)`` -> logits ``(.., V)`` (softmax gives probabilities)."""
        linear = self.output_projection
        if (
            self.training
            or torch.is_grad_enabled()  # the copy is for decoding, never for backward
            or hidden.dtype != torch.float32
            or hidden.device.type != "cpu"
            or hidden.numel() > _transposed_copy_rows(linear) * hidden.shape[-1]
        ):
            return linear(hidden)
        logits = hidden @ self._transposed_weight(linear.weight)  # (.., V)
        return logits if linear.bias is None else logits + linear.bias

    def _transposed_weight(self, weight: torch.Tensor) -> torch.Tensor:
        """``weight.T`` as a contiguous ``(D, V)`` copy, made again whenever the weight changes
        (an optimizer step or a load bumps its version)."""
        key = (weight.data_ptr(), weight._version)
        if self._transposed is None or self._transposed[:2] != key:
            self._transposed = (*key, weight.detach().t().contiguous())
        return self._transposed[2]

    def forward(self, src_ids: torch.Tensor, tgt_in_ids: torch.Tensor) -> torch.Tensor:
        """src_ids ``(B, S)``, tgt_in_ids ``(B, T)`` -> logits ``(B, T, V)``."""
        memory = self.encode(src_ids)  # (B, S, D)
        return self.project(self.decode(tgt_in_ids, memory, src_ids))  # (B, T, V)


def _transposed_copy_rows(linear: nn.Module) -> int:
    """Rows up to which the transposed copy beats ``linear``'s own product: FEW_ROWS for a plain
    layer, what an inference layer declares (``transposed_copy_rows``), else 0 (e.g. int8)."""
    return getattr(linear, "transposed_copy_rows", FEW_ROWS if type(linear) is nn.Linear else 0)
