"""The native int8 decoder step: its kernel against the quantized arithmetic written in torch, the
step against the fp32 Python step, and exact properties (rows are independent: batched equals
unbatched, padding changes nothing, a reordered beam equals its history decoded afresh)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from transformer_mt.inference.convert import convert_for_inference
from transformer_mt.inference.model import InferenceTransformer
from transformer_mt.inference.native import build
from transformer_mt.inference.native import step as step_module
from transformer_mt.inference.native.quantize import pack_columns, unpack_columns
from transformer_mt.inference.native.step import NativeStep, quantize_per_channel
from transformer_mt.model import Transformer
from transformer_mt.model.cache import DecoderCache

OPS = build.native_ops()
pytestmark = pytest.mark.skipif(OPS is None, reason=f"{build.unavailable_reason()}")

VARIANTS = [
    {},
    {"norm_position": "pre"},
    {"activation": "gelu", "output_bias": True, "tie_output": False},
    {"activation": "swish", "positional_encoding": "learned", "scale_embedding": False},
]


def reference_int8_linear(
    x: torch.Tensor, q: torch.Tensor, scale: torch.Tensor, sums: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """The kernel's arithmetic in torch: rows to 7 bits (``x ~ low + sx * u``), exact integer
    products, per-channel scales."""
    low, high = x.amin(dim=1), x.amax(dim=1)  # (R,)
    sx = torch.where(high > low, (high - low) / 127.0, torch.ones_like(low))  # (R,)
    u = torch.round((x - low[:, None]) * (1.0 / sx)[:, None]).clamp(max=127)  # (R, K)
    products = u.double() @ q[:, : x.shape[1]].double().T  # (R, N), exact integers
    y = scale * (sx[:, None] * products.float() + low[:, None] * sums.float())
    return y + bias if bias.numel() else y


def test_packing_puts_four_inputs_of_eight_columns_in_each_vector_and_unpacks() -> None:
    q = torch.randint(
        -63, 64, (40, 64), dtype=torch.int8, generator=torch.Generator().manual_seed(0)
    )
    packed = pack_columns(q)
    assert packed.shape == (8, 16, 8, 4)  # 40 columns padded to 2 panels of 32
    assert packed[1, 3, 5].tolist() == q[8 + 5, 12:16].tolist()
    assert torch.equal(packed[5:], torch.zeros_like(packed[5:]))  # columns 40 .. 63
    assert torch.equal(unpack_columns(packed, 40), q)


@pytest.mark.parametrize("rows", [1, 2, 3, 5, 33])
@pytest.mark.parametrize(
    ("width", "outputs"), [(16, 7), (40, 13), (64, 32), (256, 9), (96, 40), (32, 70)]
)
@pytest.mark.parametrize("with_bias", [True, False])
def test_the_kernel_computes_the_quantized_product(
    rows: int, width: int, outputs: int, with_bias: bool
) -> None:
    generator = torch.Generator().manual_seed(rows * 1000 + width + outputs)
    x = torch.randn(rows, width, generator=generator) * 3
    weight = torch.randn(outputs, width, generator=generator) * 0.1
    bias = torch.randn(outputs, generator=generator) if with_bias else None
    q, scale, sums, kept = quantize_per_channel(weight, bias)
    assert q.shape[1] % 32 == 0 and torch.equal(q[:, width:], torch.zeros_like(q[:, width:]))
    out = OPS.int8_linear(x, pack_columns(q), scale, sums, kept)
    torch.testing.assert_close(out, reference_int8_linear(x, q, scale, sums, kept))
    exact = torch.nn.functional.linear(x, weight, bias)
    assert (out - exact).abs().max() <= 0.03 * exact.abs().max()  # int8 rounding only


Maker = Callable[..., Transformer]


def native_model(make: Maker, seed: int = 0, **overrides: object) -> InferenceTransformer:
    model = convert_for_inference(make(seed, **overrides), "int8", torch.device("cpu"), fast=True)
    assert isinstance(model, InferenceTransformer) and model.native_step is not None
    return model


def fp32_model(make: Maker, seed: int = 0, **overrides: object) -> Transformer:
    model = convert_for_inference(make(seed, **overrides), "fp32", torch.device("cpu"), fast=True)
    assert isinstance(model, Transformer)
    return model


def padded_source() -> torch.Tensor:
    return torch.tensor([[5, 6, 7, 8, 3], [9, 10, 3, 0, 0], [11, 3, 0, 0, 0]])  # (3, 5)


def run_steps(
    model: Transformer, src: torch.Tensor, beams: int, steps: int, memory: torch.Tensor
) -> list[torch.Tensor]:
    """Logits of ``steps`` steps; between steps, beams are reordered within their sentence."""
    tokens = torch.full((src.shape[0] * beams,), 2)  # <s>
    out = []
    with torch.inference_mode():
        cache = model.start_cache(memory, src, beams=beams, capacity=2)  # grows as it decodes
        for step in range(steps):
            logits, cache = model.decode_step(tokens, cache)
            out.append(logits)
            rows = torch.arange(src.shape[0] * beams)
            index = rows // beams * beams + (rows % beams * 5 + step + 1) % beams  # (R,)
            cache.select(index)
            tokens = logits.argmax(dim=-1).index_select(0, index)
    return out


@pytest.mark.parametrize("overrides", VARIANTS)
@pytest.mark.parametrize("beams", [1, 3])
def test_the_native_step_follows_the_python_step(
    make_model: Maker, overrides: dict[str, object], beams: int
) -> None:
    src = padded_source()
    native = native_model(make_model, **overrides)
    reference = fp32_model(make_model, **overrides)
    with torch.inference_mode():
        memory = reference.encode(src)
    for got, expected in zip(
        run_steps(native, src, beams, 6, memory),
        run_steps(reference, src, beams, 6, memory),
        strict=True,
    ):
        assert torch.isfinite(got).all()
        cosine = torch.nn.functional.cosine_similarity(got, expected, dim=-1)
        assert cosine.min() > 0.995, cosine
        assert (got - expected).abs().max() <= 0.1 * expected.abs().max()


def test_batched_equals_unbatched_and_padding_changes_nothing(make_model: Maker) -> None:
    model = native_model(make_model)
    src = padded_source()
    memory = torch.randn(3, 5, 16)
    together = run_steps(model, src, 2, 4, memory)
    for sentence in range(3):
        length = int((src[sentence] != 0).sum())
        alone = run_steps(
            model,
            src[sentence : sentence + 1, :length],
            2,
            4,
            memory[sentence : sentence + 1, :length],
        )
        for step, logits in enumerate(alone):
            assert torch.equal(logits, together[step][2 * sentence : 2 * sentence + 2])


def test_padding_changes_nothing_for_sources_longer_than_a_vector(make_model: Maker) -> None:
    """Cross-attention over 11 source positions alone, or over 17 with 6 of padding, gives the
    same bits (the softmax works on whole vectors of 8 scores)."""
    model = native_model(make_model)
    src = torch.tensor([[*range(4, 14), 3, *[0] * 6], [*range(4, 20), 3]])  # (2, 17)
    memory = torch.randn(2, 17, 16, generator=torch.Generator().manual_seed(2))
    together = run_steps(model, src, 2, 3, memory)
    alone = run_steps(model, src[:1, :11], 2, 3, memory[:1, :11])
    for step, logits in enumerate(alone):
        assert torch.equal(logits, together[step][:2])


@pytest.mark.parametrize("runs", [2, 3])
@pytest.mark.parametrize("beams", [1, 2])
@pytest.mark.parametrize("shortlist", [False, True])
def test_sentences_decoded_in_runs_side_by_side_give_the_same_outputs(
    make_model: Maker, monkeypatch: pytest.MonkeyPatch, runs: int, beams: int, shortlist: bool
) -> None:
    """Splitting the batch into runs of sentences, one per thread, changes no bit of the
    logits or log-probabilities (with and without a shortlist, reordered beams, padding)."""
    model = native_model(make_model, norm_position="pre")
    src = torch.cat([padded_source(), padded_source()[[1, 0]]])  # (5, 5)
    memory = torch.randn(5, 5, 16, generator=torch.Generator().manual_seed(0))
    vocabulary = torch.tensor([[4, 5, 9, 12], [3, 6, 7, -1], [4, 8, 11, 13], [5, -1, -1, -1]])

    def decode() -> list[torch.Tensor]:
        tokens = torch.full((5 * beams,), 2)
        out = []
        with torch.inference_mode():
            cache = model.start_cache(memory, src, beams=beams, capacity=4)
            if shortlist:
                cache.vocabulary = torch.cat([vocabulary, vocabulary[:1]])  # (5, W)
            for position in range(4):
                logits, cache = model.decode_step(tokens, cache)
                log_probs, cache = model.step_log_probs(tokens, cache)
                out += [logits, log_probs]
                rows = torch.arange(5 * beams)
                # Each sentence rotates its beams by its own amount.
                shift = rows // beams + position + 1  # (R,)
                index = rows // beams * beams + (rows + shift) % beams  # (R,)
                cache.select(index)
                chosen = (logits.argmax(dim=-1) + rows) % 24  # beams differ from the start
                tokens = chosen.index_select(0, index)
        return out

    whole = decode()
    monkeypatch.setattr(step_module, "sentence_runs", lambda sentences: runs)
    for split, expected in zip(decode(), whole, strict=True):
        assert torch.equal(split, expected)


@pytest.mark.parametrize("beams", [1, 3])
def test_a_shortlist_of_every_token_gives_the_dense_logits_bit_for_bit(
    make_model: Maker, beams: int
) -> None:
    """Listed columns (weights in rows, one column at a time) and dense panels (eight columns
    at a time) round alike."""
    model = native_model(make_model, activation="gelu", output_bias=True, tie_output=False)
    src = padded_source()
    memory = torch.randn(3, 5, 16, generator=torch.Generator().manual_seed(1))
    tokens = torch.tensor([2, 5, 9] * beams)
    with torch.inference_mode():
        dense, _ = model.decode_step(tokens, model.start_cache(memory, src, beams=beams))
        cache = model.start_cache(memory, src, beams=beams)
        cache.vocabulary = torch.arange(24).repeat(3, 1)  # (A, V): every token
        listed, _ = model.decode_step(tokens, cache)
    assert torch.equal(listed, dense)


def test_a_reordered_beam_equals_its_history_decoded_afresh(make_model: Maker) -> None:
    model = native_model(make_model, seed=1, norm_position="pre")
    src = padded_source()[:1]
    memory = torch.randn(1, 5, 16)
    beams, steps = 3, 5
    with torch.inference_mode():
        cache = model.start_cache(memory, src, beams=beams, capacity=steps)
        history = [[2] for _ in range(beams)]
        for step in range(steps):
            logits, cache = model.decode_step(torch.tensor([h[-1] for h in history]), cache)
            index = torch.tensor([(b + step + 1) % beams for b in range(beams)])
            cache.select(index)
            history = [history[i] + [4 + 3 * step + b] for b, i in enumerate(index.tolist())]
        last, cache = model.decode_step(torch.tensor([h[-1] for h in history]), cache)
        for beam, tokens in enumerate(history):
            fresh: DecoderCache = model.start_cache(memory, src, capacity=steps)
            for token in tokens:
                logits, fresh = model.decode_step(torch.tensor([token]), fresh)
            assert torch.equal(logits[0], last[beam])


@pytest.mark.parametrize(("vocab", "spread"), [(24, 1.0), (29, 1.0), (100, 400.0)])
def test_log_probs_come_from_the_same_call(make_model: Maker, vocab: int, spread: float) -> None:
    """The step's own log-softmax (a vectorised exp, a tail of plain ones) is torch's, also for
    logits tens of nats apart (some below exp's normal range)."""
    fp32 = make_model(0, src_vocab_size=vocab, tgt_vocab_size=vocab, tie_output=False)
    with torch.no_grad():
        fp32.output_projection.weight.mul_(spread)
    model = convert_for_inference(fp32, "int8", torch.device("cpu"), fast=True)
    assert isinstance(model, InferenceTransformer) and model.native_step is not None
    src = padded_source()
    with torch.inference_mode():
        memory = model.encode(src)
        logits, _ = model.decode_step(torch.tensor([2, 2, 2]), model.start_cache(memory, src))
        log_probs, _ = model.step_log_probs(torch.tensor([2, 2, 2]), model.start_cache(memory, src))
    expected = logits.log_softmax(dim=-1)
    assert spread == 1.0 or expected.min() < -100
    torch.testing.assert_close(log_probs, expected)


def test_a_position_beyond_the_table_is_refused_as_by_the_python_step(
    make_model: Maker,
) -> None:
    model = native_model(make_model, max_positions=5)
    src = padded_source()
    with torch.inference_mode():
        cache = model.start_cache(model.encode(src), src)
        for _ in range(5):
            _, cache = model.decode_step(torch.tensor([4, 4, 4]), cache)
        with pytest.raises(ValueError, match="exceeds max_positions=5"):
            model.decode_step(torch.tensor([4, 4, 4]), cache)


def test_turned_off_or_unbuildable_the_python_step_runs(
    make_model: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    build.native_ops.cache_clear()
    try:
        monkeypatch.setenv("TRANSFORMER_MT_NATIVE", "0")
        model = convert_for_inference(make_model(), "int8", torch.device("cpu"), fast=True)
        assert isinstance(model, InferenceTransformer) and model.native_step is None
        assert build.unavailable_reason() == "turned off by TRANSFORMER_MT_NATIVE"
        monkeypatch.delenv("TRANSFORMER_MT_NATIVE")
        build.native_ops.cache_clear()

        def no_compiler(**_: object) -> None:
            raise RuntimeError("error: no C++ compiler found\nmore lines")

        monkeypatch.setattr("torch.utils.cpp_extension.load", no_compiler)
        assert NativeStep.create(make_model()) is None
        assert build.unavailable_reason() == (
            "the native decoder step could not be built: error: no C++ compiler found"
        )
    finally:
        build.native_ops.cache_clear()
        monkeypatch.undo()
        assert build.native_ops() is not None


def test_a_half_precision_cache_stays_close_to_the_fp32_one(
    make_model: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = padded_source()
    model = native_model(make_model, norm_position="pre")
    assert model.cache_dtype == torch.float16  # large caches: half the memory traffic
    memory = torch.randn(3, 5, 16)
    full = run_steps(model, src, 3, 5, memory)
    monkeypatch.setattr("transformer_mt.inference.model.LOW_PRECISION_CACHE_SIZE", 0)
    with torch.inference_mode():
        assert model.start_cache(memory, src).layers[0].cross_keys.dtype == torch.float16
    half = run_steps(model, src, 3, 5, memory)
    for got, expected in zip(half, full, strict=True):
        # fp16 rounding (5e-4 relative) may move an int8 rounding of a later layer's input.
        cosine = torch.nn.functional.cosine_similarity(got, expected, dim=-1)
        assert cosine.min() > 0.999, cosine
        assert (got - expected).abs().max() <= 0.02 * expected.abs().max()
