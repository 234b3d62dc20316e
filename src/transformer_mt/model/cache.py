"""Typed state for incremental (cached) decoding.

Shape letters: A sentences, N rows per sentence (beams), R = A * N rows, H heads, S source
length, C capacity (positions preallocated), L tokens decoded so far, K head width.

Cross-attention keys and values are projected once per *sentence*: the beams of a sentence
share them (the decoder folds a sentence's beams into the query axis of attention).

Self-attention keys and values live in buffers preallocated for ``C`` positions, one slot per
(sentence, position, beam); a step writes one position in place. Beam search never moves them:
when beams are reordered, only a small table of *ancestors* changes (for each beam and
position, the slot its history was written to), and each beam attends to the keys of all its
sentence's slots under a mask that admits exactly its own history. That reads the same keys
as attending to a copied, reordered cache but copies nothing; the mask is built once per step
for every layer. Buffers are copied only when the set of sentences changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LayerCache:
    """One decoder layer's keys and values."""

    cross_keys: torch.Tensor  # (A, H, S, K); self-attention K/V are kept in its dtype
    cross_values: torch.Tensor  # (A, H, S, K)
    self_keys: torch.Tensor | None = None  # (A, H, C, N, K) buffer; positions < L are valid
    self_values: torch.Tensor | None = None  # (A, H, C, N, K)
    capacity: int = 0  # positions to allocate at the first step (0: grow as needed)

    def reserve(self, position: int, beams: int) -> None:
        """Make room for ``position`` in the self-attention buffers of ``beams`` beams per
        sentence (allocated at the first step, in the cross-attention keys' dtype)."""
        if self.self_keys is None or self.self_values is None:
            sentences, heads, _, width = self.cross_keys.shape
            shape = (sentences, heads, max(self.capacity, position + 1), beams, width)
            self.self_keys = self.cross_keys.new_empty(shape)  # (A, H, C, N, K)
            self.self_values = self.cross_keys.new_empty(shape)
        self.self_keys = _with_room(self.self_keys, position)
        self.self_values = _with_room(self.self_values, position)

    def append(
        self, keys: torch.Tensor, values: torch.Tensor, position: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store this step's ``(R, H, 1, K)`` at ``position``; return every slot of each
        sentence so far, position-major: views ``(A, H, (L+1) * N, K)``."""
        sentences = self.cross_keys.shape[0]
        new_keys, new_values = group_beams(keys, sentences), group_beams(values, sentences)
        self.reserve(position, new_keys.shape[2])
        assert self.self_keys is not None and self.self_values is not None
        self.self_keys[:, :, position] = new_keys
        self.self_values[:, :, position] = new_values
        end = position + 1
        return self.self_keys[:, :, :end].flatten(2, 3), self.self_values[:, :, :end].flatten(2, 3)

    def select(self, sentences: torch.Tensor) -> None:
        """Keep sentences ``sentences`` ``(A',)`` (dropped, repeated or permuted), in place."""
        self.cross_keys = self.cross_keys.index_select(0, sentences)
        self.cross_values = self.cross_values.index_select(0, sentences)
        if self.self_keys is not None and self.self_values is not None:
            self.self_keys = self.self_keys.index_select(0, sentences)
            self.self_values = self.self_values.index_select(0, sentences)


def group_beams(rows: torch.Tensor, sentences: int) -> torch.Tensor:
    """One step's per-row heads ``(R, H, 1, K)`` -> per sentence ``(A, H, N, K)``: a
    sentence's beams become its positions."""
    count, heads, _, width = rows.shape
    return rows.reshape(sentences, count // sentences, heads, width).transpose(1, 2)


def _with_room(buffer: torch.Tensor, position: int) -> torch.Tensor:
    """``buffer`` (positions on dim 2), or a copy with room for ``position`` (capacity doubled)
    when it has none; the first ``position`` positions are kept."""
    if position < buffer.shape[2]:
        return buffer
    shape = list(buffer.shape)
    shape[2] = max(2 * shape[2], position + 1)
    grown = buffer.new_empty(shape)
    grown[:, :, :position] = buffer[:, :, :position]
    return grown


@dataclass
class DecoderCache:
    """Everything the decoder needs to run one more step without recomputing the prefix."""

    layers: list[LayerCache]
    source_mask: torch.Tensor  # (A, 1, 1, S) cross-attention mask, one row per sentence
    padded: bool = True  # whether any source has padding (if not, attention takes no mask)
    length: int = 0  # tokens decoded so far (the next token's position)
    beams: int = 1  # N: consecutive rows per sentence (row r belongs to sentence r // N)
    # (A, N, C): the beam slot holding position p of beam n's history; None for one beam.
    ancestors: torch.Tensor | None = None
    # (A, W): the target ids each sentence may produce, sorted, padded with -1 (a vocabulary
    # shortlist); None: every token.
    vocabulary: torch.Tensor | None = None

    def memory_mask(self) -> torch.Tensor | None:
        """The cross-attention mask ``(A, 1, 1, S)``, or None when no source is padded (every
        key may be attended: an unmasked call skips turning the mask into scores each layer)."""
        return self.source_mask if self.padded else None

    def record_step(self) -> torch.Tensor | None:
        """Record that every beam writes its own slot at position ``length``; return the
        ancestor table ``(A, N, C')`` (None with one beam: each row has its own slots)."""
        if self.beams == 1:
            return None
        sentences, position = self.source_mask.shape[0], self.length
        own = torch.arange(self.beams, device=self.source_mask.device)  # (N,)
        if self.ancestors is None:
            capacity = max(self.layers[0].capacity, position + 1)
            self.ancestors = own.new_empty(sentences, self.beams, capacity)  # (A, N, C)
        self.ancestors = _with_room(self.ancestors, position)
        self.ancestors[:, :, position] = own
        return self.ancestors

    def step_mask(self) -> torch.Tensor | None:
        """Record the step (:meth:`record_step`) and return which slots each beam attends to
        at this step: ``(A, 1, N, (L+1) * N)`` bool, position-major like
        :meth:`LayerCache.append`'s keys (None with one beam: it sees every slot)."""
        ancestors = self.record_step()
        if ancestors is None:
            return None
        sentences = ancestors.shape[0]
        own = torch.arange(self.beams, device=ancestors.device)  # (N,)
        history = ancestors[:, :, : self.length + 1]  # (A, N, L+1)
        allowed = history[:, :, :, None] == own  # (A, N, L+1, N)
        return allowed.view(sentences, 1, self.beams, -1)  # (A, 1, N, (L+1) * N)

    def select(self, index: torch.Tensor) -> DecoderCache:
        """Keep/reorder rows ``index`` ``(R',)``, e.g. by beam back-pointers, and return self.

        Consecutive groups of ``beams`` new rows must each come from one sentence (beams move
        within their sentence; sentences may be dropped, repeated or permuted). Reordering
        beams changes only the ancestor table; keys and values are copied only when the set of
        sentences changes. The cache is changed in place.
        """
        grouped = index.view(-1, self.beams)  # (A', N)
        sentences = grouped[:, 0] // self.beams  # (A',)
        if self.ancestors is not None:
            source_beams = grouped % self.beams  # (A', N) beam each new beam continues
            kept = self.ancestors.index_select(0, sentences)  # (A', N, C)
            gather = source_beams[:, :, None].expand(-1, -1, kept.shape[2])
            self.ancestors = kept.gather(1, gather)  # (A', N, C)
        unchanged = sentences.shape[0] == self.source_mask.shape[0] and torch.equal(
            sentences, torch.arange(sentences.shape[0], device=sentences.device)
        )
        if not unchanged:
            for layer in self.layers:
                layer.select(sentences)
            self.source_mask = self.source_mask.index_select(0, sentences)
            if self.vocabulary is not None:
                self.vocabulary = self.vocabulary.index_select(0, sentences)
        return self
