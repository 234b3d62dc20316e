"""Our weights under Hugging Face's BART-family names (MarianMT, Pegasus).

Both HF architectures compute exactly our functions, with one difference in layout: their
sinusoidal position table puts all sines first and all cosines second, while ours interleaves
them (sin on even, cos on odd dimensions). Every operation on the residual stream (LayerNorm,
residual sums, the linear layers reading or writing it) commutes with a fixed permutation of
the model dimension, so the weights are exported with the residual dimension permuted into HF's
order; the model then computes the same logits with HF's own table. Attention heads and the
feed-forward's inner dimension are untouched.

One table, :func:`correspondences`, pairs each of our tensors with its HF name and how the
permutation applies to it; :func:`hf_state_dict` (export) reads it one way and
:func:`load_hf_state_dict` (``transformer-mt import-hf``) the other, with the inverse
permutation.

Shape letters: V vocabulary, D model width, F feed-forward width, P positions.
"""

from __future__ import annotations

import torch
from torch import nn

from transformer_mt.model.attention import MultiHeadAttention
from transformer_mt.model.layers import DecoderLayer, EncoderLayer, FeedForward
from transformer_mt.model.transformer import Transformer

StateDict = dict[str, torch.Tensor]

# How a tensor touches the residual stream, i.e. which of its axes the permutation reorders.
READS = "reads"  # (out, D) weight of a layer reading the stream: columns
WRITES = "writes"  # (D, in) weight of a layer writing to it: rows
VECTOR = "vector"  # (D,) bias of such a layer, LayerNorm weight or bias: entries
TABLE = "table"  # (N, D) embedding, position table or output projection: columns
PLAIN = "plain"  # untouched (biases of layers reading the stream)
LOGITS_BIAS = "logits_bias"  # our (V,) output bias; HF's final_logits_bias is (1, V)


def residual_permutation(d_model: int) -> torch.Tensor:
    """Index ``(D,)`` taking our interleaved sin/cos layout to HF's halves: even dims, then odd."""
    return torch.cat([torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)])


def permuted(tensor: torch.Tensor, layout: str, index: torch.Tensor) -> torch.Tensor:
    """``tensor`` with the axis ``layout`` names reordered by ``index`` ``(D,)``."""
    if layout in (READS, TABLE):
        return tensor[:, index]
    if layout in (WRITES, VECTOR):
        return tensor[index]
    return tensor


Correspondence = tuple[str, torch.Tensor, str]  # HF name, our tensor, its layout


def _linear(prefix: str, linear: nn.Linear, layout: str) -> list[Correspondence]:
    bias_layout = VECTOR if layout == WRITES else PLAIN
    return [
        (f"{prefix}.weight", linear.weight, layout),
        (f"{prefix}.bias", linear.bias, bias_layout),
    ]


def _attention(prefix: str, attention: MultiHeadAttention) -> list[Correspondence]:
    parts = [
        _linear(f"{prefix}.{name}", getattr(attention, name), READS)
        for name in ("q_proj", "k_proj", "v_proj")
    ]
    return [
        *parts[0],
        *parts[1],
        *parts[2],
        *_linear(f"{prefix}.out_proj", attention.out_proj, WRITES),
    ]


def _feed_forward(prefix: str, feed_forward: FeedForward) -> list[Correspondence]:
    return _linear(f"{prefix}.fc1", feed_forward.expand, READS) + _linear(
        f"{prefix}.fc2", feed_forward.contract, WRITES
    )


def _norm(prefix: str, norm: nn.Module) -> list[Correspondence]:
    assert isinstance(norm, nn.LayerNorm)
    return [(f"{prefix}.weight", norm.weight, VECTOR), (f"{prefix}.bias", norm.bias, VECTOR)]


def _encoder_layer(prefix: str, layer: EncoderLayer) -> list[Correspondence]:
    return (
        _attention(f"{prefix}.self_attn", layer.self_attention)
        + _norm(f"{prefix}.self_attn_layer_norm", layer.attention_residual.norm)
        + _feed_forward(prefix, layer.feed_forward)
        + _norm(f"{prefix}.final_layer_norm", layer.feed_forward_residual.norm)
    )


def _decoder_layer(prefix: str, layer: DecoderLayer) -> list[Correspondence]:
    return (
        _attention(f"{prefix}.self_attn", layer.self_attention)
        + _norm(f"{prefix}.self_attn_layer_norm", layer.self_attention_residual.norm)
        + _attention(f"{prefix}.encoder_attn", layer.cross_attention)
        + _norm(f"{prefix}.encoder_attn_layer_norm", layer.cross_attention_residual.norm)
        + _feed_forward(prefix, layer.feed_forward)
        + _norm(f"{prefix}.final_layer_norm", layer.feed_forward_residual.norm)
    )


def correspondences(model: Transformer) -> list[Correspondence]:
    """Every weight of ``model`` with its ``MarianMTModel``/``Pegasus`` name and layout.

    Tied tensors appear under each of their names (embeddings first); learned position tables
    are included, fixed sinusoidal ones are not (HF builds its own, see the module docstring).
    """
    table: list[Correspondence] = [
        ("model.encoder.embed_tokens.weight", model.source_embedder.tokens.weight, TABLE),
        ("model.decoder.embed_tokens.weight", model.target_embedder.tokens.weight, TABLE),
        ("lm_head.weight", model.output_projection.weight, TABLE),
    ]
    if model.config.share_embeddings:
        table.append(("model.shared.weight", model.target_embedder.tokens.weight, TABLE))
    for side, embedder in (("encoder", model.source_embedder), ("decoder", model.target_embedder)):
        if embedder.positions.learned is not None:
            table.append(
                (f"model.{side}.embed_positions.weight", embedder.positions.learned.weight, TABLE)
            )
    for i, layer in enumerate(model.encoder_layers):
        assert isinstance(layer, EncoderLayer)
        table += _encoder_layer(f"model.encoder.layers.{i}", layer)
    for i, layer in enumerate(model.decoder_layers):
        assert isinstance(layer, DecoderLayer)
        table += _decoder_layer(f"model.decoder.layers.{i}", layer)
    if model.config.norm_position == "pre":
        for side, norm in (("encoder", model.encoder_norm), ("decoder", model.decoder_norm)):
            table += _norm(f"model.{side}.layer_norm", norm)
    if model.output_projection.bias is not None:
        table.append(("final_logits_bias", model.output_projection.bias, LOGITS_BIAS))
    return table


@torch.no_grad()
def hf_state_dict(model: Transformer) -> StateDict:
    """Our weights under ``MarianMTModel``/``PegasusForConditionalGeneration`` names.

    Pre-norm models add the final ``layer_norm`` of the encoder and decoder stacks. Position
    tables are included (permuted, sinusoidal ones too), and ``final_logits_bias`` (zeros for
    a model without an output bias).
    """
    config = model.config
    index = residual_permutation(config.d_model)
    state: StateDict = {"final_logits_bias": torch.zeros(1, config.tgt_vocab_size)}
    for name, tensor, layout in correspondences(model):
        state[name] = tensor[None] if layout == LOGITS_BIAS else permuted(tensor, layout, index)
    for side, embedder in (("encoder", model.source_embedder), ("decoder", model.target_embedder)):
        state[f"model.{side}.embed_positions.weight"] = permuted(
            embedder.positions.weights(), TABLE, index
        )
    return {name: tensor.detach().clone().contiguous() for name, tensor in state.items()}


@torch.no_grad()
def load_hf_state_dict(model: Transformer, state: StateDict, aliases: dict[str, str]) -> None:
    """Copy HF-named weights ``state`` into ``model`` (the inverse of :func:`hf_state_dict`).

    A name missing from ``state`` is looked up again as ``aliases[name]`` (HF saves tied
    tensors once, e.g. ``model.shared.weight`` for both embeddings). A tensor tied in our model
    is loaded once, from its first name. Raises ``KeyError`` naming a missing tensor and
    ``ValueError`` naming one of the wrong shape.
    """
    inverse = torch.argsort(residual_permutation(model.config.d_model))
    loaded: set[int] = set()
    for name, tensor, layout in correspondences(model):
        if id(tensor) in loaded:
            continue
        source = name
        while source not in state and source in aliases:
            source = aliases[source]
        if source not in state:
            raise KeyError(name)
        given = state[source]
        expected = (1, *tensor.shape) if layout == LOGITS_BIAS else tuple(tensor.shape)
        if tuple(given.shape) != expected:
            raise ValueError(f"{source} has shape {tuple(given.shape)}, expected {expected}")
        tensor.copy_(given[0] if layout == LOGITS_BIAS else permuted(given, layout, inverse))
        loaded.add(id(tensor))
