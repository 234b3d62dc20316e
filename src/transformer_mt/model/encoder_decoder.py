"""What every architecture shares: the final linear layer and the teacher-forced forward pass.

Subclasses provide ``encode(src_ids)``, ``decode(tgt_in_ids, memory, src_ids)`` and an
``output_projection`` linear layer; training, decoding and export use only that interface.
"""

from __future__ import annotations

import torch
from torch import nn


class EncoderDecoder(nn.Module):
    output_projection: nn.Linear  # (.., D) -> (.., V)

    def encode(self, src_ids: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(
        self, tgt_in_ids: torch.Tensor, memory: torch.Tensor, src_ids: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError

    def project(self, hidden: torch.Tensor) -> torch.Tensor:
        """Final linear layer: ``(.., D)`` -> logits ``(.., V)`` (softmax gives probabilities)."""
        return self.output_projection(hidden)

    def forward(self, src_ids: torch.Tensor, tgt_in_ids: torch.Tensor) -> torch.Tensor:
        """src_ids ``(B, S)``, tgt_in_ids ``(B, T)`` -> logits ``(B, T, V)``."""
        memory = self.encode(src_ids)  # (B, S, D)
        return self.project(self.decode(tgt_in_ids, memory, src_ids))  # (B, T, V)
