"""The three attention masks of a real padded batch, as the model builds them.

The masks come from :mod:`transformer_mt.masks` applied to the
:class:`~transformer_mt.data.batching.Batch` the trainer builds from real sentence pairs; they are
only expanded from their broadcast shapes to full query x key grids for display. ``True`` means
"may attend".

Shape letters: B sentences, S source length, T target length + 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from transformer_mt import masks
from transformer_mt.data.batching import Batch
from transformer_mt.decoding.translator import Translator
from transformer_mt.errors import UserError
from transformer_mt.explain.inputs import source_pieces, target_pieces


@dataclass(frozen=True)
class BatchMasks:
    """The masks of one padded batch, with the tokens on each axis."""

    source_tokens: list[list[str]]  # B rows of S pieces (<pad> where padded)
    decoder_tokens: list[list[str]]  # B rows of T decoder input pieces: <s> + y, padded
    encoder: np.ndarray  # (B, S, S) bool: encoder self-attention, query x key
    decoder: np.ndarray  # (B, T, T) bool: decoder causal + padding mask
    cross: np.ndarray  # (B, T, S) bool: cross-attention, target query x source key

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_tokens": self.source_tokens,
            "decoder_tokens": self.decoder_tokens,
            "encoder": self.encoder.tolist(),
            "decoder": self.decoder.tolist(),
            "cross": self.cross.tolist(),
        }


def batch_masks(translator: Translator, pairs: Sequence[tuple[str, str]]) -> BatchMasks:
    """Build the batch the trainer would build from ``pairs`` and return its three masks."""
    if not pairs:
        raise UserError("no sentence pairs to draw the masks of")
    tokenizer, config = translator.tokenizer, translator.model.config
    limit = config.max_positions - 1
    sources = [ids[:limit] for ids in tokenizer.encode_source([s for s, _ in pairs])]
    targets = [ids[:limit] for ids in tokenizer.encode_target([t for _, t in pairs])]
    batch = Batch.from_token_ids(
        sources, targets, pad_id=config.pad_id, bos_id=config.bos_id, eos_id=config.eos_id
    )
    size, source_length = batch.src_ids.shape
    target_length = batch.tgt_in_ids.shape[1]
    encoder = masks.encoder_mask(batch.src_ids, config.pad_id)  # (B, 1, 1, S)
    decoder = masks.decoder_self_mask(
        batch.tgt_in_ids, config.pad_id, real_start=True
    )  # (B, 1, T, T) as the model builds it
    cross = masks.cross_mask(batch.src_ids, config.pad_id)  # (B, 1, 1, S)
    return BatchMasks(
        source_tokens=[source_pieces(translator, row) for row in batch.src_ids.tolist()],
        decoder_tokens=[target_pieces(translator, row) for row in batch.tgt_in_ids.tolist()],
        encoder=encoder.expand(size, 1, source_length, source_length)[:, 0].cpu().numpy(),
        decoder=decoder.expand(size, 1, target_length, target_length)[:, 0].cpu().numpy(),
        cross=cross.expand(size, 1, target_length, source_length)[:, 0].cpu().numpy(),
    )


def pick_display_pairs(
    pairs: Sequence[tuple[str, str]], translator: Translator, count: int, max_tokens: int = 12
) -> list[tuple[str, str]]:
    """Up to ``count`` pairs of different source lengths (so that padding shows), each short
    enough to label (at most ``max_tokens`` pieces per side), in their original order."""
    chosen: list[tuple[str, str]] = []
    lengths: set[int] = set()
    tokenizer = translator.tokenizer
    for source, target in pairs:
        if len(chosen) == count:
            break
        if not source.strip() or not target.strip():
            continue
        length = len(tokenizer.source_pieces(source))
        if length in lengths or length > max_tokens:
            continue
        if len(tokenizer.target_pieces(target)) > max_tokens:
            continue
        chosen.append((source, target))
        lengths.add(length)
    return chosen
