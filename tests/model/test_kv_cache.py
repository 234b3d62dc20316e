"""Cached decoding (``start_cache`` + ``decode_step``) equals full recomputation (``forward``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from transformer_mt.inference import model as inference_model
from transformer_mt.inference.attention import FastAttention
from transformer_mt.inference.model import InferenceTransformer
from transformer_mt.model import DecoderCache, LayerCache, Transformer
from transformer_mt.model.attention import MultiHeadAttention

PAD, BOS, EOS = 0, 2, 3
TOL = {"rtol": 1e-5, "atol": 1e-5}
VARIANTS = [
    {},
    {"norm_position": "pre"},
    {"activation": "gelu", "positional_encoding": "learned"},
    {"share_embeddings": False, "tie_output": False, "src_vocab_size": 30},
]

TARGET = torch.tensor(
    [
        [BOS, 7, 12, 5, 9, 4],
        [BOS, 10, 11, 6, 8, 21],
        [BOS, 4, 6, 8, 15, 16],
    ]
)


def cached_logits(
    model: Transformer, src: torch.Tensor, tgt_in: torch.Tensor, capacity: int = 0
) -> torch.Tensor:
    """Feed ``tgt_in`` one token at a time through the cache. -> ``(B, T, V)``."""
    cache = model.start_cache(model.encode(src), src, capacity=capacity)
    steps = []
    for position in range(tgt_in.shape[1]):
        assert cache.length == position
        logits, cache = model.decode_step(tgt_in[:, position], cache)
        steps.append(logits)
    return torch.stack(steps, dim=1)


@pytest.mark.parametrize("capacity", [0, 6], ids=["growing", "preallocated"])
@pytest.mark.parametrize("overrides", VARIANTS, ids=["post", "pre", "gelu-learned", "untied"])
def test_cached_steps_equal_forward(
    make_model: Callable[..., Transformer],
    src_batch: torch.Tensor,
    overrides: dict[str, object],
    capacity: int,
) -> None:
    model = make_model(**overrides)
    with torch.no_grad():
        full = model(src_batch, TARGET)  # source padding included
        cached = cached_logits(model, src_batch, TARGET, capacity)
    assert cached.shape == full.shape == (3, 6, model.config.tgt_vocab_size)
    torch.testing.assert_close(cached, full, **TOL)


def test_unpadded_sources_attend_without_a_mask_and_still_equal_forward(
    model: Transformer, src_batch: torch.Tensor
) -> None:
    unpadded = src_batch[2:].repeat(2, 1)  # (2, 6): both sources fill every position
    with torch.no_grad():
        padded_cache = model.start_cache(model.encode(src_batch), src_batch)
        cache = model.start_cache(model.encode(unpadded), unpadded)
        full = model(unpadded, TARGET[:2])
        cached = cached_logits(model, unpadded, TARGET[:2])
    assert padded_cache.padded and padded_cache.memory_mask() is padded_cache.source_mask
    assert not cache.padded and cache.memory_mask() is None
    torch.testing.assert_close(cached, full, **TOL)


def test_cache_holds_cross_keys_once_and_self_keys_in_one_buffer(
    model: Transformer, src_batch: torch.Tensor
) -> None:
    with torch.no_grad():
        cache = model.start_cache(model.encode(src_batch), src_batch, capacity=5)
        assert len(cache.layers) == 2
        assert cache.source_mask.shape == (3, 1, 1, 6)
        layer = cache.layers[0]
        assert layer.cross_keys.shape == (3, 2, 6, 8)
        assert layer.cross_keys.is_contiguous() and layer.cross_values.is_contiguous()
        assert layer.self_keys is None
        cross_keys = layer.cross_keys
        _, cache = model.decode_step(TARGET[:, 0], cache)
        buffer = cache.layers[0].self_keys
        for step in range(1, 3):
            _, cache = model.decode_step(TARGET[:, step], cache)
        layer = cache.layers[0]
    assert layer.self_keys is buffer  # preallocated: written in place, never concatenated
    assert layer.self_values is not None
    assert layer.self_keys.shape == layer.self_values.shape == (3, 2, 5, 1, 8)  # (A, H, C, N, K)
    assert layer.cross_keys is cross_keys  # computed once, reused at every step


def test_reordered_cache_continues_like_the_reordered_batch(
    model: Transformer, src_batch: torch.Tensor
) -> None:
    """``select`` (beam back-pointers: repeat, drop, permute rows) keeps each row's state."""
    index = torch.tensor([2, 0, 0])
    with torch.no_grad():
        cache = model.start_cache(model.encode(src_batch), src_batch)
        for position in range(3):
            _, cache = model.decode_step(TARGET[:, position], cache)
        cache = cache.select(index)
        assert cache.length == 3
        steps = []
        for position in range(3, 6):
            logits, cache = model.decode_step(TARGET[index, position], cache)
            steps.append(logits)
        full = model(src_batch[index], TARGET[index])
    torch.testing.assert_close(torch.stack(steps, dim=1), full[:, 3:], **TOL)


@pytest.mark.parametrize(
    "index",
    [[1, 1, 2, 3, 5, 4], [4, 5, 0, 0], [2, 2, 3, 2, 4, 4]],
    ids=["reorder-beams", "drop-sentence", "partial-copy"],
)
def test_beams_share_cross_keys_and_reorder_within_sentences(
    model: Transformer, src_batch: torch.Tensor, index: list[int]
) -> None:
    """Two beams per sentence (rows 2s, 2s+1) equal the full model on the repeated sources."""
    rows = torch.arange(3).repeat_interleave(2)  # (6,) sentence of each row
    targets = TARGET.repeat_interleave(2, dim=0).clone()  # (6, T)
    targets[1::2, 1:] = targets[1::2, 1:].flip(1)  # the second beam of each sentence differs
    picked = torch.tensor(index)
    with torch.no_grad():
        cache = model.start_cache(model.encode(src_batch), src_batch, beams=2, capacity=6)
        assert cache.layers[0].cross_keys.shape[0] == 3  # once per sentence, not per beam
        for position in range(3):
            _, cache = model.decode_step(targets[:, position], cache)
        cache = cache.select(picked)
        continued = targets[picked]
        steps = [model.decode_step(continued[:, p], cache)[0] for p in range(3, 6)]
        full = model(src_batch[rows[picked]], continued)
    torch.testing.assert_close(torch.stack(steps, dim=1), full[:, 3:], **TOL)


def test_layer_cache_append_and_select_by_hand() -> None:
    cross = torch.arange(3.0).view(3, 1, 1, 1)  # (A=3, H=1, S=1, K=1): row r holds r
    cache = LayerCache(cross_keys=cross, cross_values=-cross, capacity=4)
    keys, values = cache.append(torch.full((3, 1, 1, 1), 1.0), torch.full((3, 1, 1, 1), 2.0), 0)
    assert keys.shape == (3, 1, 1, 1)
    keys, values = cache.append(cross + 10, cross + 20, 1)
    assert keys[:, 0, :, 0].tolist() == [[1.0, 10.0], [1.0, 11.0], [1.0, 12.0]]
    assert values[:, 0, :, 0].tolist() == [[2.0, 20.0], [2.0, 21.0], [2.0, 22.0]]
    cache.select(torch.tensor([2, 2, 1]))
    assert cache.cross_keys.flatten().tolist() == [2.0, 2.0, 1.0]
    assert cache.cross_values.flatten().tolist() == [-2.0, -2.0, -1.0]
    assert cache.self_keys is not None
    assert cache.self_keys[:, 0, :2, 0, 0].tolist() == [[1.0, 12.0], [1.0, 12.0], [1.0, 11.0]]
    cache.select(torch.tensor([1]))  # fewer sentences: a new, smaller buffer
    assert cache.self_keys[:, 0, :2, 0, 0].tolist() == [[1.0, 12.0]]
    keys, _ = cache.append(torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1), 4)  # grows
    assert cache.self_keys.shape[2] >= 5
    assert keys[0, 0, :2, 0].tolist() == [1.0, 12.0]


def test_beams_keep_their_slots_and_a_reorder_only_rewrites_the_ancestor_table() -> None:
    """One sentence, two beams: slots are written once; the mask follows each beam's history."""
    layer = LayerCache(cross_keys=torch.zeros(1, 1, 1, 1), cross_values=torch.zeros(1, 1, 1, 1))
    cache = DecoderCache(layers=[layer], source_mask=torch.ones(1, 1, 1, 1, dtype=torch.bool))
    cache.beams = 2
    for position, rows in enumerate([[10.0, 11.0], [20.0, 21.0]]):
        mask = cache.step_mask()  # (A, 1, N, (L+1) * N)
        assert mask is not None
        layer.append(torch.tensor(rows).view(2, 1, 1, 1), torch.zeros(2, 1, 1, 1), position)
        cache.length += 1
    assert mask[0, 0].tolist() == [[True, False, True, False], [False, True, False, True]]
    buffer = layer.self_keys
    cache.select(torch.tensor([1, 1]))  # both new beams continue beam 1
    assert layer.self_keys is buffer  # nothing copied
    mask = cache.step_mask()
    assert mask is not None
    keys, _ = layer.append(torch.tensor([30.0, 31.0]).view(2, 1, 1, 1), torch.zeros(2, 1, 1, 1), 2)
    slots = keys[0, 0, :, 0]  # position-major: (p0 b0, p0 b1, p1 b0, p1 b1, p2 b0, p2 b1)
    assert [slots[mask[0, 0, beam]].tolist() for beam in range(2)] == [
        [11.0, 21.0, 30.0],  # beam 0: beam 1's history, then its own new slot
        [11.0, 21.0, 31.0],
    ]


def test_decoder_cache_select_keeps_length_and_reorders_mask() -> None:
    mask = torch.tensor([[True, False], [True, True]])[:, None, None, :]
    layer = LayerCache(cross_keys=torch.zeros(2, 1, 2, 1), cross_values=torch.zeros(2, 1, 2, 1))
    cache = DecoderCache(layers=[layer], source_mask=mask, length=4)
    picked = cache.select(torch.tensor([1, 0, 1]))
    assert picked.length == 4
    assert picked.source_mask[:, 0, 0].tolist() == [[True, True], [True, False], [True, True]]


def test_large_batches_cache_in_the_low_precision_dtype_and_stay_close(
    model: Transformer, src_batch: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inference model's ``cache_dtype`` (bf16 with int8 layers) holds K/V from
    ``LOW_PRECISION_CACHE_SIZE`` rows x width on."""
    width = model.config.d_model
    monkeypatch.setattr(inference_model, "LOW_PRECISION_CACHE_SIZE", 3 * width)
    with torch.no_grad():
        full = model(src_batch, TARGET)
        model = InferenceTransformer.convert(model, torch.bfloat16)
        for module in model.modules():  # attention that reads bf16 keys with fp32 queries
            if isinstance(module, MultiHeadAttention):
                FastAttention.convert(module)
        small = model.start_cache(model.encode(src_batch[:2]), src_batch[:2])  # 2 rows
        assert small.layers[0].cross_keys.dtype == torch.float32
        cache = model.start_cache(model.encode(src_batch), src_batch, capacity=6)  # 3 rows
        for position in range(TARGET.shape[1]):
            logits, cache = model.decode_step(TARGET[:, position], cache)
        cached = cached_logits(model, src_batch, TARGET)
    layer = cache.layers[0]
    assert layer.cross_keys.dtype == torch.bfloat16
    assert layer.self_keys is not None and layer.self_keys.dtype == torch.bfloat16
    assert logits.dtype == torch.float32
    assert not torch.equal(cached, full)  # really rounded to bf16 ...
    torch.testing.assert_close(cached, full, rtol=0.02, atol=0.02)  # ... and only that
