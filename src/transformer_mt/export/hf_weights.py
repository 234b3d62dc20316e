"""Our weights under Hugging Face's BART-family names (MarianMT, Pegasus).

Both HF architectures compute exactly our functions, with one difference in layout: their
sinusoidal position table puts all sines first and all cosines second, while ours interleaves
them (sin on even, cos on odd dimensions). Every operation on the residual stream (LayerNorm,
residual sums, the linear layers reading or writing it) commutes with a fixed permutation of
the model dimension, so the weights are exported with the residual dimension permuted into HF's
order; the model then computes the same logits with HF's own table. Attention heads and the
feed-forward's inner dimension are untouched.

Shape letters: V vocabulary, D model width, F feed-forward width, P positions.
"""

from __future__ import annotations

import torch
from torch import nn

from transformer_mt.model.attention import MultiHeadAttention
from transformer_mt.model.layers import DecoderLayer, EncoderLayer, FeedForward, Residual
from transformer_mt.model.transformer import Transformer

StateDict = dict[str, torch.Tensor]


def residual_permutation(d_model: int) -> torch.Tensor:
    """Index ``(D,)`` taking our interleaved sin/cos layout to HF's halves: even dims, then odd."""
    return torch.cat([torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)])


class _Permuted:
    """Applies the residual permutation to the rows/columns of weights that touch the stream."""

    def __init__(self, d_model: int) -> None:
        self.index = residual_permutation(d_model)

    def reads(self, linear: nn.Linear) -> StateDict:
        """A linear layer whose input is the residual stream: permute its columns."""
        return {"weight": linear.weight[:, self.index], "bias": linear.bias}

    def writes(self, linear: nn.Linear) -> StateDict:
        """A linear layer whose output joins the residual stream: permute rows and bias."""
        return {"weight": linear.weight[self.index], "bias": linear.bias[self.index]}

    def norm(self, norm: nn.Module) -> StateDict:
        assert isinstance(norm, nn.LayerNorm)
        return {"weight": norm.weight[self.index], "bias": norm.bias[self.index]}

    def table(self, table: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` -> ``(N, D)`` (embeddings, position tables, output projection)."""
        return table[:, self.index]


def _prefixed(prefix: str, parts: StateDict) -> StateDict:
    return {f"{prefix}.{name}": tensor for name, tensor in parts.items()}


def _attention(prefix: str, attention: MultiHeadAttention, perm: _Permuted) -> StateDict:
    state: StateDict = {}
    for name in ("q_proj", "k_proj", "v_proj"):
        state |= _prefixed(f"{prefix}.{name}", perm.reads(getattr(attention, name)))
    return state | _prefixed(f"{prefix}.out_proj", perm.writes(attention.out_proj))


def _feed_forward(prefix: str, feed_forward: FeedForward, perm: _Permuted) -> StateDict:
    return _prefixed(f"{prefix}.fc1", perm.reads(feed_forward.expand)) | _prefixed(
        f"{prefix}.fc2", perm.writes(feed_forward.contract)
    )


def _norm(prefix: str, residual: Residual, perm: _Permuted) -> StateDict:
    return _prefixed(prefix, perm.norm(residual.norm))


def _encoder_layer(prefix: str, layer: EncoderLayer, perm: _Permuted) -> StateDict:
    return (
        _attention(f"{prefix}.self_attn", layer.self_attention, perm)
        | _norm(f"{prefix}.self_attn_layer_norm", layer.attention_residual, perm)
        | _feed_forward(prefix, layer.feed_forward, perm)
        | _norm(f"{prefix}.final_layer_norm", layer.feed_forward_residual, perm)
    )


def _decoder_layer(prefix: str, layer: DecoderLayer, perm: _Permuted) -> StateDict:
    return (
        _attention(f"{prefix}.self_attn", layer.self_attention, perm)
        | _norm(f"{prefix}.self_attn_layer_norm", layer.self_attention_residual, perm)
        | _attention(f"{prefix}.encoder_attn", layer.cross_attention, perm)
        | _norm(f"{prefix}.encoder_attn_layer_norm", layer.cross_attention_residual, perm)
        | _feed_forward(prefix, layer.feed_forward, perm)
        | _norm(f"{prefix}.final_layer_norm", layer.feed_forward_residual, perm)
    )


@torch.no_grad()
def hf_state_dict(model: Transformer) -> StateDict:
    """Our weights under ``MarianMTModel``/``PegasusForConditionalGeneration`` names.

    Pre-norm models add the final ``layer_norm`` of the encoder and decoder stacks. Position
    tables are included (permuted), so learned positions export too.
    """
    config = model.config
    perm = _Permuted(config.d_model)
    source = perm.table(model.source_embedder.tokens.weight)  # (V, D)
    target = perm.table(model.target_embedder.tokens.weight)  # (V, D)
    state: StateDict = {
        "model.encoder.embed_tokens.weight": source,
        "model.decoder.embed_tokens.weight": target,
        "lm_head.weight": perm.table(model.output_projection.weight),
        "final_logits_bias": torch.zeros(1, config.tgt_vocab_size),
    }
    if config.share_embeddings:
        state["model.shared.weight"] = target
    for side, embedder in (("encoder", model.source_embedder), ("decoder", model.target_embedder)):
        state[f"model.{side}.embed_positions.weight"] = perm.table(embedder.positions.weights())
    for i, layer in enumerate(model.encoder_layers):
        assert isinstance(layer, EncoderLayer)
        state |= _encoder_layer(f"model.encoder.layers.{i}", layer, perm)
    for i, layer in enumerate(model.decoder_layers):
        assert isinstance(layer, DecoderLayer)
        state |= _decoder_layer(f"model.decoder.layers.{i}", layer, perm)
    if config.norm_position == "pre":
        for side, norm in (("encoder", model.encoder_norm), ("decoder", model.decoder_norm)):
            state |= _prefixed(f"model.{side}.layer_norm", perm.norm(norm))
    return {name: tensor.detach().clone().contiguous() for name, tensor in state.items()}
