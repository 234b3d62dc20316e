"""Typed state for incremental (cached) decoding.

Shape letters: B batch (times beams), H heads, S source length, L tokens decoded so far,
K head width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LayerCache:
    """One decoder layer's keys and values.

    ``cross_keys``/``cross_values`` are projected once from the encoder memory and reused at every
    step; ``self_keys``/``self_values`` grow by one position per step.
    """

    cross_keys: torch.Tensor  # (B, H, S, K)
    cross_values: torch.Tensor  # (B, H, S, K)
    self_keys: torch.Tensor | None = None  # (B, H, L, K)
    self_values: torch.Tensor | None = None  # (B, H, L, K)

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add this step's ``(B, H, 1, K)`` keys/values; return all keys/values so far."""
        if self.self_keys is None or self.self_values is None:
            self.self_keys, self.self_values = keys, values
        else:
            self.self_keys = torch.cat([self.self_keys, keys], dim=2)  # (B, H, L+1, K)
            self.self_values = torch.cat([self.self_values, values], dim=2)  # (B, H, L+1, K)
        return self.self_keys, self.self_values

    def select(self, index: torch.Tensor) -> LayerCache:
        """Keep batch rows ``index`` (reorder beams, drop finished sentences)."""
        return LayerCache(
            cross_keys=self.cross_keys.index_select(0, index),
            cross_values=self.cross_values.index_select(0, index),
            self_keys=None if self.self_keys is None else self.self_keys.index_select(0, index),
            self_values=None
            if self.self_values is None
            else self.self_values.index_select(0, index),
        )


@dataclass
class DecoderCache:
    """Everything the decoder needs to run one more step without recomputing the prefix."""

    layers: list[LayerCache]
    source_mask: torch.Tensor  # (B, 1, 1, S) cross-attention mask
    length: int = 0  # tokens decoded so far (the next token's position)

    def select(self, index: torch.Tensor) -> DecoderCache:
        """Reorder/subset the batch dimension, e.g. by beam back-pointers. index ``(B',)``."""
        return DecoderCache(
            layers=[layer.select(index) for layer in self.layers],
            source_mask=self.source_mask.index_select(0, index),
            length=self.length,
        )
