"""bf16 and int8 inference stay close to fp32 on the session's trained toy run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from cli.toy_data import toy_pairs, trained_toy_run
from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.artifacts.weights import load_weights
from transformer_mt.decoding.translator import Translator
from transformer_mt.errors import UserError
from transformer_mt.inference import linear
from transformer_mt.inference.linear import Int8Linear, PackedLinear, packing_available
from transformer_mt.inference.native import build
from transformer_mt.inference.native.linear import NativeInt8Linear
from transformer_mt.model.attention import MultiHeadAttention
from transformer_mt.model.factory import build_model

SOURCES = [source for source, _ in toy_pairs(40, seed=3)]
# (share of identical beam-4 outputs, relative error of teacher-forced scores) at least/at most.
# The toy model is barely trained, so near-ties flip; a broken conversion gives garbage instead.
BOUNDS = {"bf16": (0.9, 0.03), "int8": (0.75, 0.15)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Translator, list[str]]:
    translator = Translator.load(trained_toy_run(tmp_path_factory).run_dir)
    return translator, translator.translate(SOURCES, beam_size=4)


@pytest.fixture(params=["native", "python"])
def int8_kernels(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """int8 on the native kernels (skipped where they cannot be built), or on PyTorch's."""
    build.native_ops.cache_clear()
    if request.param == "python":
        monkeypatch.setenv("TRANSFORMER_MT_NATIVE", "0")
    elif build.native_ops() is None:
        pytest.skip(f"{build.unavailable_reason()}")
    yield request.param
    monkeypatch.undo()
    build.native_ops.cache_clear()


def assert_close_to_fp32(
    reference: tuple[Translator, list[str]], dtype: str, run_dir: Path
) -> None:
    fp32, expected = reference
    translator = Translator.load(run_dir, dtype=dtype)
    same, tolerance = BOUNDS[dtype]
    outputs = translator.translate(SOURCES, beam_size=4)
    assert sum(a == b for a, b in zip(outputs, expected, strict=True)) >= same * len(SOURCES)
    want = torch.tensor(fp32.score(SOURCES, expected))
    got = torch.tensor(translator.score(SOURCES, expected))
    assert ((got - want).abs() / want.abs()).max() < tolerance


def test_bf16_outputs_and_scores_stay_close_to_fp32(
    reference: tuple[Translator, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert_close_to_fp32(reference, "bf16", trained_toy_run(tmp_path_factory).run_dir)


def test_int8_outputs_and_scores_stay_close_to_fp32(
    reference: tuple[Translator, list[str]],
    int8_kernels: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    assert_close_to_fp32(reference, "int8", trained_toy_run(tmp_path_factory).run_dir)


def test_modes_convert_the_weights(
    tmp_path_factory: pytest.TempPathFactory, int8_kernels: str
) -> None:
    run_dir = trained_toy_run(tmp_path_factory).run_dir
    bf16 = Translator.load(run_dir, dtype="bf16").model
    assert {p.dtype for p in bf16.parameters()} == {torch.bfloat16}
    int8 = Translator.load(run_dir, dtype="int8").model
    kind = NativeInt8Linear if int8_kernels == "native" else Int8Linear
    quantized = [m for m in int8.modules() if isinstance(m, kind)]
    plain = [m for m in int8.modules() if isinstance(m, torch.nn.Linear)]
    assert quantized and not plain
    attention = [m for m in int8.modules() if isinstance(m, MultiHeadAttention)]
    fused = [m for m in attention if isinstance(m.qkv_proj, kind)]
    assert len(fused) == len(attention) // 3 * 2  # every self-attention; cross stays apart
    assert (getattr(int8, "native_step", None) is not None) == (int8_kernels == "native")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("bias", [True, False])
def test_a_packed_linear_layer_computes_the_linear_layer(dtype: torch.dtype, bias: bool) -> None:
    if not packing_available(dtype):
        pytest.skip(f"this PyTorch build or CPU has no oneDNN packing for {dtype}")
    torch.manual_seed(0)
    linear = torch.nn.Linear(48, 80, bias=bias).to(dtype)
    packed = PackedLinear(linear)
    assert packed.weight is linear.weight and packed.bias is linear.bias  # parameters kept
    tolerance = 1e-5 if dtype == torch.float32 else 2e-2
    for shape in [(1, 48), (7, 48), (3, 5, 48), (2, 1, 48)]:
        x = torch.randn(shape, dtype=dtype)
        with torch.no_grad():
            torch.testing.assert_close(packed(x), linear(x), rtol=tolerance, atol=tolerance)


@pytest.mark.skipif(not packing_available(), reason="this PyTorch build has no oneDNN")
def test_a_packed_layer_follows_weight_changes_and_still_trains() -> None:
    torch.manual_seed(0)
    linear = torch.nn.Linear(16, 8)
    packed = PackedLinear(linear)
    x = torch.randn(3, 16)
    with torch.no_grad():
        linear.weight.mul_(2.0)  # in place, as an optimizer step or a load would
        torch.testing.assert_close(packed(x), linear(x))
        linear.load_state_dict({"weight": torch.ones(8, 16), "bias": torch.zeros(8)})
        torch.testing.assert_close(packed(x), x.sum(dim=1, keepdim=True).expand(3, 8))
    packed(x).sum().backward()  # gradients enabled: a differentiable product
    assert linear.weight.grad is not None
    torch.testing.assert_close(linear.weight.grad, x.sum(dim=0).expand(8, 16))


@pytest.mark.skipif(not packing_available(), reason="this PyTorch build has no oneDNN")
def test_a_loaded_translator_packs_its_layers_and_translates_as_the_plain_model(
    reference: tuple[Translator, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    packed, expected = reference  # Translator.load: the model is its own, so it is packed
    run = RunDir(trained_toy_run(tmp_path_factory).run_dir)
    model = build_model(run.read_model_config())
    load_weights(model, run.require_weights())
    parameters = sum(p.numel() for p in model.parameters())
    plain = Translator(model, packed.tokenizer, torch.device("cpu"))  # may still be trained
    assert not any(isinstance(m, PackedLinear) for m in plain.model.modules())
    assert not any(type(m) is torch.nn.Linear for m in packed.model.modules())
    assert sum(p.numel() for p in packed.model.parameters()) == parameters
    assert plain.translate(SOURCES, beam_size=4) == expected
    want = torch.tensor(plain.score(SOURCES, expected))
    got = torch.tensor(packed.score(SOURCES, expected))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_a_cpu_without_bf16_packing_still_translates_in_bf16(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Packing is chosen per weight dtype: bf16 needs AVX-512 (or AVX-NE) in oneDNN."""
    monkeypatch.setattr(linear, "bf16_packing_supported", lambda: False)
    translator = Translator.load(trained_toy_run(tmp_path_factory).run_dir, dtype="bf16")
    assert not any(isinstance(m, PackedLinear) for m in translator.model.modules())
    assert len(translator.translate(SOURCES[:3], beam_size=2)) == 3


def test_unknown_dtype_is_a_user_error(tmp_path_factory: pytest.TempPathFactory) -> None:
    with pytest.raises(UserError, match="dtype"):
        Translator.load(trained_toy_run(tmp_path_factory).run_dir, dtype="fp8")
