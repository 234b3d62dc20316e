"""The teacher-forcing shift of one sentence pair, with the model's probabilities.

Training feeds the decoder ``<s> + y`` and asks it to predict ``y + </s>`` at every position in
one parallel pass (:func:`~transformer_mt.data.batching.teacher_forcing_shift`). The table shows,
per position, what the decoder reads, what it must predict, the probability it gives that target
and what it would have predicted itself.

Shape letters: T target length + 1, V target vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from transformer_mt.data.batching import teacher_forcing_shift
from transformer_mt.decoding.translator import Translator
from transformer_mt.explain.inputs import as_batch, encode_pair, source_pieces, target_pieces


@dataclass(frozen=True)
class ShiftRow:
    position: int  # 1-based
    decoder_input: str  # the piece the decoder reads here (from <s> + y)
    target: str  # the piece it must predict here (y + </s>)
    probability: float  # the model's probability of ``target`` here
    predicted: str  # the model's most probable piece here
    predicted_probability: float


@dataclass(frozen=True)
class ShiftTable:
    source_tokens: list[str]
    rows: list[ShiftRow]
    target_from_model: bool  # True when the target is the model's greedy translation

    @property
    def loss(self) -> float:
        """Mean negative log-likelihood per target token (the unsmoothed training loss)."""
        return -sum(math.log(max(r.probability, 1e-45)) for r in self.rows) / len(self.rows)

    @property
    def accuracy(self) -> float:
        """Share of positions whose most probable piece is the target."""
        return sum(r.predicted == r.target for r in self.rows) / len(self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "loss": self.loss, "accuracy": self.accuracy}


@torch.inference_mode()
def shift_table(translator: Translator, source: str, target: str | None = None) -> ShiftTable:
    """The shift of ``(source, target)`` (``None``: the greedy translation), one forward pass."""
    config = translator.model.config
    pair = encode_pair(translator, source, target)
    decoder_input, decoder_output = teacher_forcing_shift(
        pair.target_ids, config.bos_id, config.eos_id
    )
    src, tgt = as_batch(pair.source_ids, translator), as_batch(decoder_input, translator)
    log_probs = translator.model(src, tgt)[0].float().log_softmax(dim=-1)  # (T, V)
    targets = torch.tensor(decoder_output, device=log_probs.device)  # (T,)
    probabilities = log_probs.gather(1, targets[:, None])[:, 0].exp().tolist()  # (T,)
    best_log_probs, best_ids = log_probs.max(dim=-1)  # (T,), (T,)
    predicted = target_pieces(translator, best_ids.tolist())
    rows = [
        ShiftRow(position, read, wanted, probability, guess, guess_probability)
        for position, (read, wanted, probability, guess, guess_probability) in enumerate(
            zip(
                target_pieces(translator, decoder_input),
                target_pieces(translator, decoder_output),
                probabilities,
                predicted,
                best_log_probs.exp().tolist(),
                strict=True,
            ),
            start=1,
        )
    ]
    return ShiftTable(source_pieces(translator, pair.source_ids), rows, pair.from_model)
