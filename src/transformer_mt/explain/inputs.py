"""Turn the text a user gives into the token ids the model sees, and ids back into pieces.

Every explanation starts from a source sentence and a target: the user's reference translation,
or (when none is given) the model's own greedy translation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from transformer_mt.decoding.translator import Translator
from transformer_mt.errors import UserError
from transformer_mt.model.transformer import Transformer


@dataclass(frozen=True)
class EncodedPair:
    """A sentence pair as model inputs."""

    source_ids: list[int]  # source pieces + </s>, as the encoder sees them
    target_ids: list[int]  # target pieces y, without <s> or </s>
    from_model: bool  # True when the target is the model's greedy translation


def require_transformer(translator: Translator) -> None:
    """The explanations read attention weights and layers only a Transformer has."""
    if not isinstance(translator.model, Transformer):
        raise UserError(
            f"explain needs a Transformer; this run's model is {translator.model.config.kind!r} "
            "(it has no self-attention layers or heads to show)"
        )


def encode_source(translator: Translator, source: str) -> list[int]:
    """Source ids with ``</s>`` (truncated to the model's positions); blank input is an error."""
    (ids,), _ = translator.encode_sources([source])
    if not ids:
        raise UserError("the source sentence is empty")
    return ids


def greedy_target(translator: Translator, source: str) -> list[int]:
    """The model's greedy translation of ``source`` as target ids, without ``</s>`` (as
    ``translate --beam-size 1`` gives it, repetition guards included)."""
    (translation,) = translator.translate_detailed([source], beam_size=1)
    tokens = list(translation.candidates[0].tokens)
    return tokens[:-1] if tokens and tokens[-1] == translator.model.config.eos_id else tokens


def encode_pair(translator: Translator, source: str, target: str | None = None) -> EncodedPair:
    """Encode ``source`` and ``target`` (``None``: the model's greedy translation)."""
    source_ids = encode_source(translator, source)
    if target is None:
        return EncodedPair(source_ids, greedy_target(translator, source), from_model=True)
    (target_ids,) = translator.tokenizer.encode_target([target])
    limit = translator.model.config.max_positions - 1  # room for <s> (or </s>)
    return EncodedPair(source_ids, target_ids[:limit], from_model=False)


def as_batch(ids: list[int], translator: Translator) -> torch.Tensor:
    """One sequence as a batch of one on the translator's device. -> ``(1, L)``."""
    return torch.tensor([ids], dtype=torch.long, device=translator.device)


def source_pieces(translator: Translator, ids: list[int]) -> list[str]:
    return translator.tokenizer.source_id_pieces(ids)


def target_pieces(translator: Translator, ids: list[int]) -> list[str]:
    return translator.tokenizer.target_id_pieces(ids)
