"""A tokenized parallel corpus, ready to be cut into teacher-forcing batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformer_mt.data.batching import Batch, token_budget_batches
from transformer_mt.data.pairs import SentencePair
from transformer_mt.data.tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer


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

    def num_batches(self, max_tokens: int) -> int:
        return len(token_budget_batches(self.lengths(), max_tokens))

    def num_target_tokens(self) -> int:
        return sum(len(t) + 1 for t in self.targets)

    def batch(self, indices: Sequence[int]) -> Batch:
        return Batch.from_token_ids(
            [self.sources[i] for i in indices],
            [self.targets[i] for i in indices],
            pad_id=PAD_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
        )
