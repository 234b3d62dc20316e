"""Typed state for the LSTM decoder's incremental decoding.

Shape letters: N decoder layers, B batch (times beams), S source length, D model width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LSTMCache:
    """The recurrent state after the tokens decoded so far, plus the per-source tensors.

    Unlike the Transformer's cache it does not grow: the whole prefix is summarised in
    ``hidden``/``cell`` and the previous attentional vector (input feeding).
    """

    hidden: torch.Tensor  # (N, B, D) each decoder layer's h
    cell: torch.Tensor  # (N, B, D) each decoder layer's c
    attentional: torch.Tensor  # (B, D) the previous step's attentional vector (input feeding)
    memory: torch.Tensor  # (B, S, D) encoder outputs (attention values)
    keys: torch.Tensor  # (B, S, D) attention keys, projected once per source
    source_mask: torch.Tensor  # (B, S) True at real source tokens
    length: int = 0  # tokens decoded so far

    def select(self, index: torch.Tensor) -> LSTMCache:
        """Reorder/subset the batch dimension, e.g. by beam back-pointers. index ``(B',)``."""
        return LSTMCache(
            hidden=self.hidden.index_select(1, index),
            cell=self.cell.index_select(1, index),
            attentional=self.attentional.index_select(0, index),
            memory=self.memory.index_select(0, index),
            keys=self.keys.index_select(0, index),
            source_mask=self.source_mask.index_select(0, index),
            length=self.length,
        )
