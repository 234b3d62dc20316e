"""Attention maps: real probabilities (rows sum to 1, future masked), equal to a recomputation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cli.toy_data import trained_toy_run
from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.decoding.translator import Translator
from transformer_mt.explain.attention import attention_maps

SOURCE, TARGET = "you see a big red car", "你看大红车"


def test_shapes_and_tokens(translator: Translator) -> None:
    maps = attention_maps(translator, SOURCE, TARGET)
    config = translator.model.config
    pieces = translator.tokenizer.target_pieces(TARGET)
    assert maps.source_tokens == [*translator.tokenizer.source_pieces(SOURCE), "</s>"]
    assert maps.target_tokens == ["<s>", *pieces]
    assert maps.output_tokens == [*pieces, "</s>"]
    S, T, H = len(maps.source_tokens), len(maps.target_tokens), config.num_heads  # noqa: N806
    assert [m.shape for m in maps.encoder] == [(H, S, S)] * config.num_encoder_layers
    assert [m.shape for m in maps.decoder_self] == [(H, T, T)] * config.num_decoder_layers
    assert [m.shape for m in maps.cross] == [(H, T, S)] * config.num_decoder_layers
    assert maps.alignment.shape == (T, S)


def test_rows_are_distributions_and_the_future_is_masked(translator: Translator) -> None:
    maps = attention_maps(translator, SOURCE, TARGET)
    for layer in [*maps.encoder, *maps.decoder_self, *maps.cross]:
        assert np.all(layer >= 0)
        np.testing.assert_allclose(layer.sum(axis=-1), 1.0, atol=1e-5)
    for layer in maps.decoder_self:
        future = np.triu(np.ones(layer.shape[-2:], dtype=bool), k=1)
        assert np.all(layer[:, future] == 0.0)
    np.testing.assert_allclose(maps.alignment, maps.cross[-1].mean(axis=0), atol=1e-7)


@torch.inference_mode()
def test_encoder_attention_equals_softmax_of_the_layers_own_projections(
    translator: Translator, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """softmax(Q K^T / sqrt(d)) per head, recomputed from the first layer's saved weights (the
    translator's own layers are packed for inference)."""
    model = translator.model
    saved = load_file(RunDir(trained_toy_run(tmp_path_factory).run_dir).require_weights())
    maps = attention_maps(translator, SOURCE, TARGET)
    (ids,), _ = translator.encode_sources([SOURCE])
    x = model.source_embedder(torch.tensor([ids]))[0]  # (S, D)
    layer = model.encoder_layers[0]
    if model.config.norm_position == "pre":
        x = layer.attention_residual.norm(x)
    d = layer.self_attention.head_dim
    prefix = "encoder_layers.0.self_attention"
    for head in range(model.config.num_heads):
        rows = slice(head * d, (head + 1) * d)
        q = x @ saved[f"{prefix}.q_proj.weight"][rows].T + saved[f"{prefix}.q_proj.bias"][rows]
        k = x @ saved[f"{prefix}.k_proj.weight"][rows].T + saved[f"{prefix}.k_proj.bias"][rows]
        expected = (q @ k.T / math.sqrt(d)).softmax(dim=-1)  # (S, S)
        np.testing.assert_allclose(maps.encoder[0][head], expected.numpy(), atol=1e-5)


def test_no_target_means_the_greedy_translation(translator: Translator) -> None:
    maps = attention_maps(translator, SOURCE)
    (best,) = translator.translate_detailed([SOURCE], beam_size=1)
    expected = translator.tokenizer.target_id_pieces(best.candidates[0].tokens)
    assert maps.target_from_model
    assert maps.output_tokens[:-1] == [p for p in expected if p != "</s>"]


def test_to_dict_is_json(translator: Translator) -> None:
    maps = attention_maps(translator, SOURCE, TARGET)
    data = json.loads(json.dumps(maps.to_dict()))
    np.testing.assert_allclose(np.array(data["alignment"]), maps.alignment, rtol=1e-6)
    assert data["source_tokens"] == maps.source_tokens
    assert len(data["cross"]) == len(maps.cross)
