"""Attention maps of one sentence pair: every layer and head, and the soft alignment.

The maps are the probabilities the model itself computes: one teacher-forced pass of
:meth:`Transformer.encode` / :meth:`Transformer.decode` with their ``weights=`` lists, which run
each attention's explicit softmax path (the same function as the fused kernel).

Shape letters: H heads, S source length (with ``</s>``), T target length + 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from transformer_mt.data.batching import teacher_forcing_shift
from transformer_mt.decoding.translator import Translator
from transformer_mt.explain.inputs import (
    as_batch,
    encode_pair,
    require_transformer,
    source_pieces,
    target_pieces,
)


@dataclass(frozen=True)
class AttentionMaps:
    """Attention probabilities of one sentence pair; every row of every map sums to 1."""

    source_tokens: list[str]  # S encoder input pieces, ending with </s>
    target_tokens: list[str]  # T decoder input pieces: <s> + y
    output_tokens: list[str]  # T prediction targets: y + </s>
    encoder: list[np.ndarray]  # per encoder layer: self-attention (H, S, S), query x key
    decoder_self: list[np.ndarray]  # per decoder layer: masked self-attention (H, T, T)
    cross: list[np.ndarray]  # per decoder layer: cross-attention (H, T, S)
    alignment: np.ndarray  # (T, S): the last decoder layer's cross-attention, mean over heads
    target_from_model: bool  # True when the target is the model's greedy translation

    @property
    def num_heads(self) -> int:
        return int(self.encoder[0].shape[0]) if self.encoder else int(self.cross[0].shape[0])

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and floats, safe for ``json.dumps``."""
        return {
            "source_tokens": list(self.source_tokens),
            "target_tokens": list(self.target_tokens),
            "output_tokens": list(self.output_tokens),
            "encoder": [layer.tolist() for layer in self.encoder],
            "decoder_self": [layer.tolist() for layer in self.decoder_self],
            "cross": [layer.tolist() for layer in self.cross],
            "alignment": self.alignment.tolist(),
            "alignment_layer": len(self.cross) - 1,
            "target_from_model": self.target_from_model,
        }


@torch.inference_mode()
def attention_maps(translator: Translator, source: str, target: str | None = None) -> AttentionMaps:
    """All attention maps for ``source`` and ``target`` (``None``: the greedy translation).

    The decoder reads ``<s> + y`` (teacher forcing, the same maps at every position as
    step-by-step decoding of ``y`` would give). ``alignment`` averages the last decoder layer's
    cross-attention over its heads: row ``t`` is where the model looks in the source while
    predicting ``output_tokens[t]``.
    """
    require_transformer(translator)
    config = translator.model.config
    pair = encode_pair(translator, source, target)
    decoder_input, decoder_output = teacher_forcing_shift(
        pair.target_ids, config.bos_id, config.eos_id
    )
    src = as_batch(pair.source_ids, translator)  # (1, S)
    tgt = as_batch(decoder_input, translator)  # (1, T)
    encoder_weights: list[dict[str, torch.Tensor]] = []
    decoder_weights: list[dict[str, torch.Tensor]] = []
    memory = translator.model.encode(src, weights=encoder_weights)  # (1, S, D)
    translator.model.decode(tgt, memory, src, weights=decoder_weights)  # (1, T, D)
    cross = [_numpy(layer["cross"]) for layer in decoder_weights]  # each (H, T, S)
    return AttentionMaps(
        source_tokens=source_pieces(translator, pair.source_ids),
        target_tokens=target_pieces(translator, decoder_input),
        output_tokens=target_pieces(translator, decoder_output),
        encoder=[_numpy(layer["self"]) for layer in encoder_weights],
        decoder_self=[_numpy(layer["self"]) for layer in decoder_weights],
        cross=cross,
        alignment=cross[-1].mean(axis=0),  # (T, S)
        target_from_model=pair.from_model,
    )


def _numpy(weights: torch.Tensor) -> np.ndarray:
    """The only sentence of a batch of one: ``(1, H, Q, K)`` -> float32 ``(H, Q, K)``."""
    return weights[0].float().cpu().numpy()
