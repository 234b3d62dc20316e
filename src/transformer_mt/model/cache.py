"""Typed state for incremental (cached) decoding.

Shape letters: A sentences, N rows per sentence (beams), R = A * N rows, H heads, S source
length, C capacity (positions preallocated), L tokens decoded so far, K head width.

Cross-attention keys and values are projected once per *sentence*: the beams of a sentence
share them (the decoder folds a sentence's beams into the query axis of cross-attention), so
reordering beams never touches them. Self-attention keys and values live in buffers preallocated
for ``C`` positions; a step writes one position in place instead of concatenating, and a beam
reorder copies only the rows whose beam changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LayerCache:
    """One decoder layer's keys and values."""

    cross_keys: torch.Tensor  # (A, H, S, K)
    cross_values: torch.Tensor  # (A, H, S, K)
    self_keys: torch.Tensor | None = None  # (R, H, C, K) buffer; positions < length are valid
    self_values: torch.Tensor | None = None  # (R, H, C, K)
    capacity: int = 0  # positions to allocate at the first step (0: grow as needed)

    def append(
        self, keys: torch.Tensor, values: torch.Tensor, position: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store this step's ``(R, H, 1, K)`` at ``position``; return views ``(R, H, L+1, K)``."""
        if self.self_keys is None or self.self_values is None:
            self.self_keys = _buffer(keys, max(self.capacity, position + 1))
            self.self_values = _buffer(values, max(self.capacity, position + 1))
        elif position >= self.self_keys.shape[2]:
            grown = max(2 * self.self_keys.shape[2], position + 1)
            self.self_keys = _grow(self.self_keys, position, grown)
            self.self_values = _grow(self.self_values, position, grown)
        self.self_keys[:, :, position : position + 1] = keys
        self.self_values[:, :, position : position + 1] = values
        return self.self_keys[:, :, : position + 1], self.self_values[:, :, : position + 1]

    def select(self, rows: torch.Tensor, sentences: torch.Tensor | None, length: int) -> None:
        """Keep rows ``rows`` ``(R',)`` of the self-attention buffers (first ``length``
        positions) and, unless ``sentences`` is None, sentences ``sentences`` ``(A',)`` of the
        cross-attention keys/values. Changes this cache in place."""
        if sentences is not None:
            self.cross_keys = self.cross_keys.index_select(0, sentences)
            self.cross_values = self.cross_values.index_select(0, sentences)
        if self.self_keys is None or self.self_values is None:
            return
        self.self_keys = _select_rows(self.self_keys, rows, length)
        self.self_values = _select_rows(self.self_values, rows, length)


def _buffer(like: torch.Tensor, capacity: int) -> torch.Tensor:
    rows, heads, _, width = like.shape
    return like.new_empty(rows, heads, capacity, width)  # (R, H, C, K)


def _grow(buffer: torch.Tensor, length: int, capacity: int) -> torch.Tensor:
    grown = _buffer(buffer, capacity)
    grown[:, :, :length] = buffer[:, :, :length]
    return grown


def _select_rows(buffer: torch.Tensor, rows: torch.Tensor, length: int) -> torch.Tensor:
    """Rows ``rows`` of ``buffer``'s first ``length`` positions, copying as little as possible."""
    if rows.shape[0] == buffer.shape[0]:
        changed = (rows != torch.arange(rows.shape[0], device=rows.device)).nonzero()[:, 0]
        if changed.numel():  # the right side is gathered before the in-place write
            buffer[changed, :, :length] = buffer[rows[changed], :, :length]
        return buffer
    selected = buffer.new_empty(rows.shape[0], *buffer.shape[1:])  # (R', H, C, K)
    selected[:, :, :length] = buffer[rows, :, :length]
    return selected


@dataclass
class DecoderCache:
    """Everything the decoder needs to run one more step without recomputing the prefix."""

    layers: list[LayerCache]
    source_mask: torch.Tensor  # (A, 1, 1, S) cross-attention mask, one row per sentence
    length: int = 0  # tokens decoded so far (the next token's position)
    beams: int = 1  # N: consecutive rows per sentence (row r belongs to sentence r // N)

    def select(self, index: torch.Tensor) -> DecoderCache:
        """Keep/reorder rows ``index`` ``(R',)``, e.g. by beam back-pointers, and return self.

        Consecutive groups of ``beams`` new rows must each come from one sentence (beams move
        within their sentence; sentences may be dropped, repeated or permuted). Cross-attention
        state is copied only when the set of sentences changes. The cache is changed in place.
        """
        sentences = index.view(-1, self.beams)[:, 0] // self.beams  # (A',)
        unchanged = sentences.shape[0] == self.source_mask.shape[0] and torch.equal(
            sentences, torch.arange(sentences.shape[0], device=sentences.device)
        )
        picked = None if unchanged else sentences
        for layer in self.layers:
            layer.select(index, picked, self.length)
        if picked is not None:
            self.source_mask = self.source_mask.index_select(0, picked)
        return self
