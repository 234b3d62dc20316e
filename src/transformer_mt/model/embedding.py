"""Token embeddings scaled by sqrt(d_model) plus positional encodings.

Shape letters: B batch, L sequence length, D model width.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from transformer_mt.model.dropout import Dropout


def sinusoidal_table(max_positions: int, d_model: int) -> torch.Tensor:
    """The fixed encoding of Vaswani et al.: sin on even, cos on odd dimensions. -> ``(P, D)``."""
    positions = torch.arange(max_positions, dtype=torch.float32)[:, None]  # (P, 1)
    rates = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)
    )  # (D/2,)
    table = torch.zeros(max_positions, d_model)
    table[:, 0::2] = torch.sin(positions * rates)
    table[:, 1::2] = torch.cos(positions * rates[: d_model // 2])
    return table


class PositionalEncoding(nn.Module):
    """Adds a position vector to each token vector; sinusoidal (fixed) or learned."""

    def __init__(self, kind: str, max_positions: int, d_model: int) -> None:
        super().__init__()
        self.max_positions = max_positions
        self.learned: nn.Embedding | None = None
        if kind == "learned":
            self.learned = nn.Embedding(max_positions, d_model)
            nn.init.normal_(self.learned.weight, std=d_model**-0.5)
        else:
            self.register_buffer(
                "table", sinusoidal_table(max_positions, d_model), persistent=False
            )

    def weights(self) -> torch.Tensor:
        """The vector added at every position, learned or fixed: ``(P, D)``."""
        return self.learned.weight if self.learned is not None else self.table

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """x ``(B, L, D)`` -> ``(B, L, D)``; ``offset`` is the first position (for cached steps)."""
        length = x.shape[1]
        if offset + length > self.max_positions:
            raise ValueError(
                f"sequence of {offset + length} positions exceeds "
                f"max_positions={self.max_positions}"
            )
        if self.learned is not None:
            positions = torch.arange(offset, offset + length, device=x.device)
            return x + self.learned(positions)  # (B, L, D)
        return x + self.table[offset : offset + length].to(x.dtype)  # (B, L, D)


class Embedder(nn.Module):
    """token ids ``(B, L)`` -> ``(B, L, D)``: embedding * sqrt(D) + position, then dropout.

    ``scaled=False`` leaves the embeddings unscaled (MarianMT's ``scale_embedding: false``)."""

    def __init__(
        self,
        tokens: nn.Embedding,
        positions: PositionalEncoding,
        dropout: float,
        *,
        scaled: bool = True,
    ) -> None:
        super().__init__()
        self.tokens = tokens
        self.positions = positions
        self.scale = math.sqrt(tokens.embedding_dim) if scaled else 1.0
        self.dropout = Dropout(dropout)

    def forward(self, ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        embedded = self.positions(self.tokens(ids) * self.scale, offset)  # (B, L, D)
        return self.dropout(embedded) if self.training else embedded  # identity in eval mode
