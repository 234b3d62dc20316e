"""A split of a token store as training data: batches read straight from the mapped arrays.

:class:`StoreCorpus` has the interface of :class:`~transformer_mt.training.encoded.EncodedCorpus`
(:class:`~transformer_mt.training.encoded.TrainingCorpus`): the same lengths, the same batch
order for the same random state, the same padded batches. What it holds in memory is two length
arrays (2 or 4 bytes per sentence); a batch's token ids are gathered from the memory-mapped
store with numpy, and the mapped pages are let go every :data:`RELEASE_EVERY` batches, so a
run's resident memory does not grow with the corpus.

Shape letters: N sentences in the split, B sentences in a batch, L longest side in the batch.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch

from transformer_mt.data.batching import Batch
from transformer_mt.data.bucketing import BatchOrder, count_batches, length_batches
from transformer_mt.data.store import TokenStore
from transformer_mt.data.tokenizer import BOS_ID, EOS_ID, PAD_ID

# Batches between releases of the mapped pages. The kernel maps up to 16 cached neighbour pages
# per fault (fault-around), so pages pile up fast; releasing a mapping with few pages costs
# microseconds.
RELEASE_EVERY = 1


class StoreCorpus:
    """One split (``train`` or ``valid``) of an opened :class:`TokenStore`."""

    def __init__(
        self, store: TokenStore, split: str, special_ids: tuple[int, int, int] | None = None
    ) -> None:
        """``special_ids``: (pad, start, end) ids, the tokenizer's (default: our 0, 2, 3;
        an imported MarianMT model's differ)."""
        self.store, self.split = store, split
        self.pad_id, self.bos_id, self.eos_id = special_ids or (PAD_ID, BOS_ID, EOS_ID)
        self._source = store.ids(split, "source")  # ((T,) ids, (N + 1,) offsets)
        self._target = store.ids(split, "target")
        # The offsets are read whole for the lengths: their pages are released chunk by chunk.
        self.source_lengths = _lengths(self._source[1], store.release_pages)  # (N,) with </s>
        self.target_lengths = _lengths(self._target[1], store.release_pages)  # (N,)
        self._batches_read = 0

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
        source = _gather(*self._source, rows)
        target = _gather(*self._target, rows)
        self._batches_read += 1
        if self._batches_read % RELEASE_EVERY == 0:
            self.store.release_pages()
        pad, bos, eos = self.pad_id, self.bos_id, self.eos_id
        return Batch(
            src_ids=_padded(source, start=None, end=eos, pad=pad),
            tgt_in_ids=_padded(target, start=bos, end=None, pad=pad),
            tgt_out_ids=_padded(target, start=None, end=eos, pad=pad),
            pad_id=pad,
        )


def _lengths(
    offsets: np.ndarray, release: Callable[[], None] = lambda: None, chunk: int = 1 << 20
) -> np.ndarray:
    """(N,) sentence lengths + 1, in the smallest dtype that holds them; computed a million at
    a time (``release`` is called after each), so neither an int64 array of the corpus' size
    nor the mapped offsets stay in memory."""
    count = len(offsets) - 1
    longest = 0
    for start in range(0, count, chunk):
        longest = max(longest, int(np.diff(offsets[start : start + chunk + 1]).max(initial=0)))
        release()
    lengths = np.empty(count, dtype=np.uint16 if longest + 1 < 1 << 16 else np.int32)  # (N,)
    for start in range(0, count, chunk):
        stop = min(start + chunk, count)
        lengths[start:stop] = np.diff(offsets[start : stop + 1]) + 1
        release()
    return lengths


Gathered = tuple[np.ndarray, np.ndarray, np.ndarray]
"""A batch's ids end to end (I,), each sentence's length (B,), each id's column (I,)."""


def _gather(ids: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> Gathered:
    """The ids of ``rows`` read from the mapped arrays (I = the rows' total length)."""
    starts, ends = offsets[rows], offsets[rows + 1]  # (B,), (B,)
    lengths = ends - starts  # (B,)
    column = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return ids[np.repeat(starts, lengths) + column].astype(np.int64), lengths, column


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
