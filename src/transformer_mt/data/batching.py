"""Batches for teacher forcing, and token-budget batching by length.

Shape letters: B sentences in the batch, S source length, T target length + 1.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

TokenIds = Sequence[int]


def teacher_forcing_shift(
    target: TokenIds, bos_id: int, eos_id: int
) -> tuple[list[int], list[int]]:
    """The shift of the notes: decoder input ``<s> + y`` and prediction targets ``y + </s>``.

    Both have ``len(y) + 1`` tokens: at position ``i`` the decoder sees ``<s> y_1 .. y_i`` (with the
    causal mask) and must predict ``y_{i+1}`` (``</s>`` after the last token). This is
    ``<s> + y[:-1]`` / ``y`` when ``y`` already ends with ``</s>``.
    """
    tokens = list(target)
    return [bos_id, *tokens], [*tokens, eos_id]


def pad_sequences(sequences: Sequence[TokenIds], pad_id: int) -> torch.Tensor:
    """Right-pad to the longest sequence. -> ``(B, L)`` long."""
    length = max((len(s) for s in sequences), default=0)
    out = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        out[row, : len(sequence)] = torch.as_tensor(list(sequence), dtype=torch.long)
    return out


@dataclass(frozen=True)
class Batch:
    """A padded batch of sentence pairs, already shifted for teacher forcing."""

    src_ids: torch.Tensor  # (B, S) source tokens, no <s>, ending with </s>
    tgt_in_ids: torch.Tensor  # (B, T) decoder input: <s> + y
    tgt_out_ids: torch.Tensor  # (B, T) targets: y + </s>
    pad_id: int

    @classmethod
    def from_token_ids(
        cls,
        sources: Sequence[TokenIds],
        targets: Sequence[TokenIds],
        *,
        pad_id: int,
        bos_id: int,
        eos_id: int,
    ) -> Batch:
        """Build a batch from unpadded token ids (sources and targets without specials)."""
        shifted = [teacher_forcing_shift(t, bos_id, eos_id) for t in targets]
        return cls(
            src_ids=pad_sequences([[*s, eos_id] for s in sources], pad_id),
            tgt_in_ids=pad_sequences([inp for inp, _ in shifted], pad_id),
            tgt_out_ids=pad_sequences([out for _, out in shifted], pad_id),
            pad_id=pad_id,
        )

    @property
    def num_target_tokens(self) -> int:
        """Real (non-padding) target tokens, including each ``</s>``."""
        return int((self.tgt_out_ids != self.pad_id).sum())

    @property
    def num_sentences(self) -> int:
        return int(self.src_ids.shape[0])

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            src_ids=self.src_ids.to(device, non_blocking=True),
            tgt_in_ids=self.tgt_in_ids.to(device, non_blocking=True),
            tgt_out_ids=self.tgt_out_ids.to(device, non_blocking=True),
            pad_id=self.pad_id,
        )


def token_budget_batches(
    lengths: Sequence[tuple[int, int]], max_tokens: int, rng: random.Random | None = None
) -> list[list[int]]:
    """Group example indices into batches of at most ``max_tokens`` padded tokens per side.

    ``lengths[i]`` is ``(source_len, target_len)`` with specials. Examples are sorted by length
    (ties broken randomly when ``rng`` is given) so that a batch wastes little padding; the
    batch order is shuffled with ``rng``. A single example longer than the budget forms its own
    batch. Deterministic for a given ``rng`` state.
    """
    if max_tokens <= 0:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    jitter = [rng.random() for _ in lengths] if rng is not None else [0.0] * len(lengths)
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i][1], lengths[i][0], jitter[i]))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        size = max(lengths[index])
        if current and max(longest, size) * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(index)
        longest = max(longest, size)
    if current:
        batches.append(current)
    if rng is not None:
        rng.shuffle(batches)
    return batches
