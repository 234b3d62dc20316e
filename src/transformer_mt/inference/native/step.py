"""The int8 decoder step in one native call: weights prepared once, the cache shared with Python.

Shape letters: A sentences, N beams, R = A * N rows, D model width, V target vocabulary,
S source length, C cache capacity, L tokens so far.

:class:`NativeStep` is made from a model's fp32 weights (before PyTorch's quantization): every
decoder linear layer becomes int8 per output channel (``decoder_step.cpp`` quantizes each input
row per call), embeddings, positions and LayerNorms stay fp32. It reads and writes the same
:class:`~transformer_mt.model.cache.DecoderCache` as the Python step (fp32 keys and values), so
the searches, beam reordering and finished-sentence removal are unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from transformer_mt.inference.native.build import native_ops
from transformer_mt.inference.native.linear import NativeInt8Linear
from transformer_mt.inference.native.quantize import (
    pack_columns,
    quantize_per_channel,
    unpack_columns,
)
from transformer_mt.model.cache import DecoderCache
from transformer_mt.model.transformer import Transformer

ACTIVATIONS = {"relu": 0, "gelu": 1, "swish": 2, "silu": 2}


def decoder_norms(model: Transformer) -> list[nn.LayerNorm]:
    """Every LayerNorm of the decoder step (the layers', then the final one if any)."""
    norms = [m for m in model.decoder_layers.modules() if isinstance(m, nn.LayerNorm)]
    final = model.decoder_norm
    return norms + ([final] if isinstance(final, nn.LayerNorm) else [])


def unsupported(model: nn.Module) -> str | None:
    """Why the native step cannot run ``model`` (None if it can)."""
    if not isinstance(model, Transformer):
        return "not a Transformer"
    config = model.config
    if config.activation not in ACTIVATIONS:
        return f"activation {config.activation!r}"
    if next(model.parameters()).device.type != "cpu":
        return "not on the CPU"
    if len({norm.eps for norm in decoder_norms(model)}) > 1:
        return "LayerNorms with different eps"
    return None


def _linear(layer: nn.Module) -> list[torch.Tensor]:
    """Packed weight, scales, column sums, bias (empty if none)."""
    if isinstance(layer, NativeInt8Linear):
        return layer.quantized()
    q, scale, sums, bias = quantize_per_channel(layer.weight, layer.bias)
    return [pack_columns(q), scale, sums, bias]


def _norm(norm: nn.Module) -> list[torch.Tensor]:
    return [norm.weight.detach().float().clone(), norm.bias.detach().float().clone()]


def decoder_params(model: Transformer) -> list[torch.Tensor]:
    """The flat parameter list ``decoder_step.cpp`` reads (its order)."""
    embedder = model.target_embedder
    params = [
        embedder.tokens.weight.detach().float().clone(),
        embedder.positions.weights().detach().float().contiguous().clone(),
    ]
    for layer in model.decoder_layers:
        self_attention, cross = layer.self_attention, layer.cross_attention
        qkv = self_attention.qkv_proj  # fused by the fast path
        if qkv is None:
            raise ValueError("the native step needs fused Q/K/V projections")
        params += _linear(qkv) + _linear(self_attention.out_proj)
        params += _norm(layer.self_attention_residual.norm)
        params += _linear(cross.q_proj) + _linear(cross.out_proj)
        params += _norm(layer.cross_attention_residual.norm)
        params += _linear(layer.feed_forward.expand) + _linear(layer.feed_forward.contract)
        params += _norm(layer.feed_forward_residual.norm)
    final = model.decoder_norm
    params += _norm(final) if isinstance(final, nn.LayerNorm) else [torch.empty(0)] * 2
    output = _linear(model.output_projection)
    # The output layer's weight in rows as well, for a shortlist's listed columns.
    return params + output + [unpack_columns(output[0], output[1].numel())]


def sentence_runs(sentences: int) -> int:
    """Into how many runs of whole sentences a step splits its batch, each decoded on a thread
    of its own: one per thread (one fork per step rather than one per operation, as
    CTranslate2's ``inter_threads``); 1 for a single sentence (its operations share the
    threads)."""
    return min(torch.get_num_threads(), sentences)


class NativeStep:
    """``decode_step`` of an int8 model as one native call. Made by :meth:`create`."""

    def __init__(self, model: Transformer, ops: Any) -> None:
        config = model.config
        self.ops = ops
        self.params = decoder_params(model)
        self.heads = config.num_heads
        self.pre_norm = config.norm_position == "pre"
        self.activation = ACTIVATIONS[config.activation]
        self.embed_scale = float(model.target_embedder.scale)
        self.max_positions = config.max_positions
        norms = decoder_norms(model)
        self.eps = float(norms[0].eps) if norms else 1e-5

    @classmethod
    def create(cls, model: nn.Module) -> NativeStep | None:
        """The native step for ``model``'s fp32 weights, or None where it cannot run (no
        compiled library, or a model it does not cover)."""
        if unsupported(model) is not None:
            return None
        ops = native_ops()
        if ops is None:
            return None
        assert isinstance(model, Transformer)
        return cls(model, ops)

    def __call__(
        self, tokens: torch.Tensor, cache: DecoderCache, *, log_probs: bool = False
    ) -> torch.Tensor:
        """The newest token of each row ``(R,)`` -> next-token logits ``(R, V)`` (their
        log-softmax with ``log_probs``); writes this step's keys and values into ``cache`` and
        advances it by one position."""
        position = cache.length
        if position >= self.max_positions:
            raise ValueError(
                f"sequence of {position + 1} positions exceeds max_positions={self.max_positions}"
            )
        ancestors = cache.record_step()  # (A, N, C') or None
        for layer in cache.layers:
            layer.reserve(position, cache.beams)
        valid = cache.source_mask.flatten(1) if cache.padded else None  # (A, S)
        logits = self.ops.decoder_step(
            tokens.contiguous(),
            self.params,
            [layer.self_keys for layer in cache.layers],
            [layer.self_values for layer in cache.layers],
            [layer.cross_keys for layer in cache.layers],
            [layer.cross_values for layer in cache.layers],
            valid,
            ancestors,
            cache.vocabulary,
            position,
            cache.beams,
            self.heads,
            self.pre_norm,
            self.activation,
            self.embed_scale,
            self.eps,
            log_probs,
            sentence_runs(cache.source_mask.shape[0]),
        )  # (R, V)
        cache.length += 1
        return logits
