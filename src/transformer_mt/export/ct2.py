"""Export a run to CTranslate2 through its own ``TransformerSpec`` and ``Converter`` machinery.

The spec is filled straight from our modules (no detour through HF), so every configuration
CTranslate2's Transformer expresses exports: pre- or post-norm, joint or separate vocabularies,
sinusoidal or learned positions (the table is stored explicitly, in our layout). Quantization
(``int8``, ``int16``, ...) is CTranslate2's own ``ModelSpec.optimize(quantization=...)``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.data.tokenizer import UNK_ID, Tokenizer, model_files, pieces
from transformer_mt.data.vocabulary import VocabularyTokenizer
from transformer_mt.export import load_transformer, require
from transformer_mt.export.target import staged_directory
from transformer_mt.model.attention import MultiHeadAttention
from transformer_mt.model.config import TransformerConfig
from transformer_mt.model.layers import DecoderLayer, EncoderLayer, FeedForward
from transformer_mt.model.transformer import Transformer

QUANTIZATIONS = ("int8", "int8_float32", "int16", "float32")


def _array(tensor: torch.Tensor) -> Any:
    return tensor.detach().float().contiguous().numpy()


def _set_linear(spec: Any, *linears: nn.Linear) -> None:
    """One CTranslate2 linear from one or several of ours fused along the output dimension."""
    spec.weight = _array(torch.cat([linear.weight for linear in linears]))
    spec.bias = _array(torch.cat([linear.bias for linear in linears]))


def _set_norm(spec: Any, norm: nn.Module) -> None:
    assert isinstance(norm, nn.LayerNorm)
    spec.gamma, spec.beta = _array(norm.weight), _array(norm.bias)


def _set_attention(spec: Any, attention: MultiHeadAttention, *, cross: bool) -> None:
    projections = (attention.q_proj, attention.k_proj, attention.v_proj)
    if cross:  # queries from the decoder, keys and values from the memory
        _set_linear(spec.linear[0], projections[0])
        _set_linear(spec.linear[1], *projections[1:])
    else:
        _set_linear(spec.linear[0], *projections)
    _set_linear(spec.linear[-1], attention.out_proj)


def _set_feed_forward(spec: Any, feed_forward: FeedForward) -> None:
    _set_linear(spec.linear_0, feed_forward.expand)
    _set_linear(spec.linear_1, feed_forward.contract)


_ACTIVATIONS = {
    "relu": lambda a: a.RELU,
    "gelu": lambda a: a.GELU,
    "swish": lambda a: a.SWISH,
    "silu": lambda a: a.SWISH,
}


def transformer_spec(model: Transformer) -> Any:
    """A filled ``ctranslate2.specs.TransformerSpec`` computing ``model`` (vocabularies unset)."""
    ctranslate2 = require("ctranslate2")
    config = model.config
    activations = ctranslate2.specs.Activation
    spec = ctranslate2.specs.TransformerSpec.from_config(
        (config.num_encoder_layers, config.num_decoder_layers),
        config.num_heads,
        pre_norm=config.norm_position == "pre",
        activation=_ACTIVATIONS[config.activation](activations),
    )
    scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
    for side, embedder in (
        (spec.encoder, model.source_embedder),
        (spec.decoder, model.target_embedder),
    ):
        side.scale_embeddings = scale
        side.position_encodings.encodings = _array(embedder.positions.weights())
    spec.encoder.embeddings[0].weight = _array(model.source_embedder.tokens.weight)
    spec.decoder.embeddings.weight = _array(model.target_embedder.tokens.weight)
    spec.decoder.projection.weight = _array(model.output_projection.weight)
    if model.output_projection.bias is not None:  # an imported MarianMT's final_logits_bias
        spec.decoder.projection.bias = _array(model.output_projection.bias)
    for layer_spec, layer in zip(spec.encoder.layer, model.encoder_layers, strict=True):
        assert isinstance(layer, EncoderLayer)
        _set_attention(layer_spec.self_attention, layer.self_attention, cross=False)
        _set_norm(layer_spec.self_attention.layer_norm, layer.attention_residual.norm)
        _set_feed_forward(layer_spec.ffn, layer.feed_forward)
        _set_norm(layer_spec.ffn.layer_norm, layer.feed_forward_residual.norm)
    for layer_spec, layer in zip(spec.decoder.layer, model.decoder_layers, strict=True):
        assert isinstance(layer, DecoderLayer)
        _set_attention(layer_spec.self_attention, layer.self_attention, cross=False)
        _set_norm(layer_spec.self_attention.layer_norm, layer.self_attention_residual.norm)
        _set_attention(layer_spec.attention, layer.cross_attention, cross=True)
        _set_norm(layer_spec.attention.layer_norm, layer.cross_attention_residual.norm)
        _set_feed_forward(layer_spec.ffn, layer.feed_forward)
        _set_norm(layer_spec.ffn.layer_norm, layer.feed_forward_residual.norm)
    if config.norm_position == "pre":
        _set_norm(spec.encoder.layer_norm, model.encoder_norm)
        _set_norm(spec.decoder.layer_norm, model.decoder_norm)
    return spec


def model_spec(
    model: Transformer, source_vocab: list[str], target_vocab: list[str], unk_id: int = UNK_ID
) -> Any:
    """The complete spec: weights, vocabularies (in id order) and special tokens."""
    spec = transformer_spec(model)
    spec.register_source_vocabulary(source_vocab)
    spec.register_target_vocabulary(target_vocab)
    config: TransformerConfig = model.config
    spec.config.bos_token = target_vocab[config.bos_id]
    spec.config.eos_token = target_vocab[config.eos_id]
    spec.config.unk_token = target_vocab[unk_id]
    spec.config.decoder_start_token = target_vocab[config.bos_id]
    return spec


def vocabularies(run: RunDir, config: TransformerConfig) -> tuple[list[str], list[str]]:
    """The source and target pieces in id order: SentencePiece's, or an imported model's
    vocabulary (ids without a piece, up to the model's vocabulary size, get placeholders)."""
    tokenizer = Tokenizer.load(run.tokenizer_dir)
    if not isinstance(tokenizer, VocabularyTokenizer):
        source_model, target_model, _ = model_files(run.tokenizer_dir)
        return pieces(source_model), pieces(target_model)
    tables = []
    for vocabulary, size in (
        (tokenizer.source_vocabulary, config.src_vocab_size),
        (tokenizer.target_vocabulary, config.tgt_vocab_size),
    ):
        table = [f"<unused{i}>" for i in range(size)]
        for piece, i in vocabulary.items():
            table[i] = piece
        tables.append(table)
    return tables[0], tables[1]


def _unk_id(run: RunDir) -> int:
    return Tokenizer.load(run.tokenizer_dir).unk_id


def write_model(spec: Any, directory: Path, quantization: str | None) -> None:
    """Validate, quantize and save ``spec`` into the existing empty ``directory``.

    The steps of CTranslate2's ``Converter.convert`` without its directory handling, which
    deletes an existing output directory (``force=True``) or refuses it; where the model goes is
    :func:`~transformer_mt.export.target.staged_directory`'s business.
    """
    spec.validate()
    spec.optimize(quantization=quantization)
    spec.save(str(directory))


def export_ctranslate2(
    run_dir: Path, out: Path, *, quantization: str | None = None, overwrite: bool = False
) -> Path:
    """Convert ``run_dir``'s best weights into a CTranslate2 model directory ``out``.

    ``out`` must be missing or empty unless ``overwrite``; it is never the run directory or
    one of its files (:mod:`transformer_mt.export.target`).
    """
    require("ctranslate2")
    run = RunDir(Path(run_dir))
    with staged_directory(Path(out), run, overwrite=overwrite) as staging:
        model = load_transformer(run)
        spec = model_spec(model, *vocabularies(run, model.config), unk_id=_unk_id(run))
        write_model(spec, staging, quantization)
    return Path(out)
