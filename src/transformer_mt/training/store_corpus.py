"""A split of a token store as training data: batches read straight from the mapped arrays.

:class:`StoreCorpus` has the interface of :class:`~transformer_mt.training.encoded.EncodedCorpus`
(:class:`~transformer_mt.training.encoded.TrainingCorpus`): the same lengths, the same batch
order for the same random state, the same padded batches. What it holds in memory is two length
arrays (2 or 4 bytes per sentence); a batch's token ids are read from the store's files with
``pread`` (:class:`~transformer_mt.data.store.RowReader`), never mapped, so a run's resident
memory does not grow with the corpus.

Shape letters: N sentences in the split, B sentences in a batch, L longest side in the batch.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch

from transformer_mt.data.batching import Batch
from transformer_mt.data.bucketing import BatchOrder, count_batches, length_batches
from transformer_mt.data.store import RowReader, TokenStore
from transformer_mt.data.tokenizer import BOS_ID, EOS_ID, PAD_ID


class StoreCorpus:
    """One split (``train`` or ``valid``) of an opened :class:`TokenStore`."""

    def __init__(
        self, store: TokenStore, split: str, special_ids: tuple[int, int, int] | None = None
    ) -> None:
        """``special_ids``: (pad, start, end) ids, the tokenizer's (default: our 0, 2, 3;
        an imported MarianMT model's differ)."""
        self.store, self.split = store, split
        self.pad_id, self.bos_id, self.eos_id = special_ids or (PAD_ID, BOS_ID, EOS_ID)
        self._source: RowReader = store.rows(split, "source")
        self._target: RowReader = store.rows(split, "target")
        self.source_lengths = _lengths(self._source.offsets, self._source.count)  # (N,) + </s>
        self.target_lengths = _lengths(self._target.offsets, self._target.count)  # (N,)

    def __len__(self) -> int:
        return len(self.source_lengths)

    def batch_order(self, max_tokens: int, rng: random.Random | None) -> BatchOrder:
        """The epoch's batches as index arrays (see :func:`length_batches`)."""
        return length_batches(self.source_lengths, self.target_lengths, max_tokens, rng)

    def num_batches(self, max_tokens: int) -> int:
        return count_batches(self.source_lengths, self.target_lengths, max_tokens)

    def num_target_tokens(self) -> int:
        return int(self.target_lengths.sum(dtype=np.int64))

    def batch(self, indices: np.ndarray | list[int]) -> Batch:
        """The padded, shifted batch of these sentences (equal to ``Batch.from_token_ids``)."""
        rows = np.asarray(indices, dtype=np.int64)  # (B,)
        source = _with_columns(*self._source.read(rows))
        target = _with_columns(*self._target.read(rows))
        pad, bos, eos = self.pad_id, self.bos_id, self.eos_id
        return Batch(
            src_ids=_padded(source, start=None, end=eos, pad=pad),
            tgt_in_ids=_padded(target, start=bos, end=None, pad=pad),
            tgt_out_ids=_padded(target, start=None, end=eos, pad=pad),
            pad_id=pad,
        )


def _lengths(
    offsets: Callable[[int, int], np.ndarray], count: int, chunk: int = 1 << 20
) -> np.ndarray:
    """(N,) sentence lengths + 1, in the smallest dtype that holds them; ``offsets(start,
    stop)`` is read a million sentences at a time, so no int64 array of the corpus' size is
    ever made."""
    longest = 0
    for start in range(0, count, chunk):
        bounds = offsets(start, min(start + chunk, count))  # (chunk + 1,)
        longest = max(longest, int(np.diff(bounds).max(initial=0)))
    lengths = np.empty(count, dtype=np.uint16 if longest + 1 < 1 << 16 else np.int32)  # (N,)
    for start in range(0, count, chunk):
        stop = min(start + chunk, count)
        lengths[start:stop] = np.diff(offsets(start, stop)) + 1
    return lengths


Gathered = tuple[np.ndarray, np.ndarray, np.ndarray]
"""A batch's ids end to end (I,), each sentence's length (B,), each id's column (I,)."""


def _with_columns(flat: np.ndarray, lengths: np.ndarray) -> Gathered:
    """Rows' ids end to end (I,) and their lengths (B,), with each id's column (I,)."""
    column = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # (I,)
    return flat.astype(np.int64), lengths, column


def _padded(
    gathered: Gathered, *, start: int | None, end: int | None, pad: int = PAD_ID
) -> torch.Tensor:
    """Rows ``[start] + ids + [end]`` (either special optional) right-padded with PAD.

    Returns (B, L + 1) long: each row has its ids and exactly one special."""
    flat, lengths, column = gathered
    count = len(lengths)
    width = int(lengths.max(initial=0)) + 1
    out = np.full((count, width), pad, dtype=np.int64)  # (B, L + 1)
    row = np.repeat(np.arange(count), lengths)  # (I,) the row of each id
    shift = 1 if start is not None else 0
    out[row, column + shift] = flat
    if start is not None:
        out[:, 0] = start
    if end is not None:
        out[np.arange(count), lengths] = end
    return torch.from_numpy(out)
