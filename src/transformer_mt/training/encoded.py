"""A tokenized parallel corpus, ready to be cut into teacher-forcing batches.

:class:`TrainingCorpus` is what the trainer needs of its data; :class:`EncodedCorpus` (token
ids in Python lists) and :class:`~transformer_mt.training.store_corpus.StoreCorpus` (a
memory-mapped token store) both provide it, with the same batches for the same random state.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from transformer_mt.data.batching import Batch
from transformer_mt.data.bucketing import BatchOrder, count_batches, length_batches
from transformer_mt.data.pairs import SentencePair
from transformer_mt.data.tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer


class TrainingCorpus(Protocol):
    """Sentence pairs as the trainer draws them: lengths, a batch order, padded batches."""

    source_lengths: np.ndarray  # (N,) source length + </s>
    target_lengths: np.ndarray  # (N,) target length + one shifted special

    def __len__(self) -> int: ...

    def batch_order(self, max_tokens: int, rng: random.Random | None) -> BatchOrder:
        """Token-budget batches of sentence indices (shuffled with ``rng`` when given)."""
        ...

    def num_batches(self, max_tokens: int) -> int: ...

    def num_target_tokens(self) -> int: ...

    def batch(self, indices: np.ndarray | list[int]) -> Batch: ...


@dataclass(frozen=True)
class EncodedCorpus:
    sources: list[list[int]]  # source ids, without specials
    targets: list[list[int]]  # target ids, without specials
    dropped: int = 0  # pairs left out for exceeding the length limit

    @classmethod
    def from_pairs(
        cls, tokenizer: Tokenizer, pairs: Sequence[SentencePair], max_length: int | None = None
    ) -> EncodedCorpus:
        """Tokenize; pairs with a side over ``max_length`` tokens (with specials) are left out."""
        sources = tokenizer.encode_source([s for s, _ in pairs])
        targets = tokenizer.encode_target([t for _, t in pairs])
        if max_length is None:
            return cls(sources, targets)
        keep = [
            i
            for i in range(len(pairs))
            if len(sources[i]) + 1 <= max_length and len(targets[i]) + 1 <= max_length
        ]
        return cls(
            [sources[i] for i in keep], [targets[i] for i in keep], dropped=len(pairs) - len(keep)
        )

    def __len__(self) -> int:
        return len(self.sources)

    def lengths(self) -> list[tuple[int, int]]:
        """(source, target) lengths as batched: source + </s>, target + one shifted special."""
        return [(len(s) + 1, len(t) + 1) for s, t in zip(self.sources, self.targets, strict=True)]

    @functools.cached_property
    def source_lengths(self) -> np.ndarray:  # type: ignore[override]  # a Protocol attribute
        return np.fromiter((len(s) + 1 for s in self.sources), np.int64, len(self.sources))

    @functools.cached_property
    def target_lengths(self) -> np.ndarray:  # type: ignore[override]  # a Protocol attribute
        return np.fromiter((len(t) + 1 for t in self.targets), np.int64, len(self.targets))

    def batch_order(self, max_tokens: int, rng: random.Random | None) -> BatchOrder:
        return length_batches(self.source_lengths, self.target_lengths, max_tokens, rng)

    def num_batches(self, max_tokens: int) -> int:
        return count_batches(self.source_lengths, self.target_lengths, max_tokens)

    def num_target_tokens(self) -> int:
        return sum(len(t) + 1 for t in self.targets)

    def batch(self, indices: np.ndarray | Sequence[int]) -> Batch:
        return Batch.from_token_ids(
            [self.sources[i] for i in indices],
            [self.targets[i] for i in indices],
            pad_id=PAD_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
        )
