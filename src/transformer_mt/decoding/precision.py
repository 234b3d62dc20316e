"""Inference number formats: fp32, bf16 weights, or dynamically quantized int8 linear layers.

* ``bf16``: every weight converted to bfloat16 once (no per-call autocast casts); logits are
  turned back to fp32 before the softmax, so scores and search stay in fp32.
* ``int8``: PyTorch's dynamic quantization of ``nn.Linear`` (weights int8 per tensor,
  activations quantized per call); CPU only. Embeddings and LayerNorms stay fp32. Each
  self-attention's Q, K and V layers are first fused into one (one int8 call instead of three:
  each call costs about 14 us however small), and the quantized layers are called through
  :class:`Int8Linear`, without the 6 us of per-call checks of PyTorch's wrapper module.
  Large batches keep the attention cache in bf16 (``Transformer.cache_dtype``).
* ``prepack`` (fp32 and bf16 on the CPU, for a model handed over to inference): every linear
  layer becomes a :class:`PackedLinear`, its weight reordered once into oneDNN's blocked layout
  and multiplied by oneDNN's kernel. Measured on one core, Transformer-base shapes, against
  ``F.linear``: the 16,000-way output layer 1.9x faster in fp32 at 32 rows and 3.4x in bf16 at
  one row, 4-row products 2-3x, 128 rows 1.1-1.25x (decoding: fp32 batch-1 beam 4 1.6x, batch
  32 1.2-1.3x; bf16 batch 1 1.6x). fp32 at one row is bound by streaming the weights either
  way; there the output layer keeps its transposed plain copy (see ``transposed_copy_rows``).
  Outputs differ from ``F.linear`` by summation order only (1e-4 in fp32).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F  # noqa: N812 (the conventional alias)
from torch import nn

from transformer_mt.errors import UserError
from transformer_mt.model.layers import DecoderLayer, EncoderLayer
from transformer_mt.model.transformer import Transformer

DTYPES = ("fp32", "bf16", "int8")


def convert_for_inference(
    model: nn.Module, dtype: str, device: torch.device, *, prepack: bool = False
) -> nn.Module:
    """Return ``model`` (changed in place, in eval mode) in the requested number format.

    ``prepack``: replace fp32/bf16 linear layers by :class:`PackedLinear` on the CPU (faster;
    the model is then for inference only: only pass a model nobody trains any more)."""
    if dtype not in DTYPES:
        raise UserError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    model = model.to(device).eval()
    if dtype == "bf16":
        model = model.to(torch.bfloat16)
    if dtype == "int8":
        _quantize(model, device)
    elif prepack and device.type == "cpu" and packing_available():
        _fuse_self_attention(model)
        _swap_linears(model, lambda child: type(child) is nn.Linear, PackedLinear)
    return model


def _quantize(model: nn.Module, device: torch.device) -> None:
    """int8: fuse each self-attention's Q/K/V, quantize every linear layer, call it directly."""
    if device.type != "cpu":
        raise UserError("dtype int8 (dynamic quantization) runs on the CPU only")
    with warnings.catch_warnings():
        # torch.ao quantization is deprecated in favour of torchao, whose int8 CPU path needs
        # torch.compile; the eager fbgemm/oneDNN kernels used here are still the fast ones.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        _fuse_self_attention(model)
        torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
    _swap_linears(model, _is_int8_linear, Int8Linear)
    if isinstance(model, Transformer):
        model.cache_dtype = torch.bfloat16  # large caches: half the memory traffic


def _is_int8_linear(module: nn.Module) -> bool:
    dynamic_linear = torch.ao.nn.quantized.dynamic.Linear
    return type(module) is dynamic_linear and module._packed_params.dtype == torch.qint8


# The quantized kernel's compiled entry point. Calling the operator object first scans the
# arguments for the placeholder objects of export/compile tracing (about 2 us per call, 37 calls
# per Transformer-base decoding step); eager calls never carry them.
_LINEAR_DYNAMIC = torch.ops.quantized.linear_dynamic.default
_LINEAR_DYNAMIC_KERNEL = getattr(_LINEAR_DYNAMIC, "_op", _LINEAR_DYNAMIC)
_LINEAR_PACKED = getattr(torch.ops.mkldnn, "_linear_pointwise", None)


class InferenceLinear(nn.Module):
    """What the inference layers below share: their sizes and how they print."""

    def __init__(self, linear: nn.Module) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class Int8Linear(InferenceLinear):
    """A dynamically quantized linear layer (int8 weights, activations quantized per call)
    that calls the quantized kernel directly."""

    def __init__(self, quantized: nn.Module) -> None:
        super().__init__(quantized)
        self.packed = quantized._packed_params._packed_params

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # reduce_range=True, as PyTorch's dynamic Linear: 7-bit activations avoid overflow in
        # the int16 accumulation of CPUs without VNNI.
        return _LINEAR_DYNAMIC_KERNEL(x, self.packed, True)


def packing_available() -> bool:
    """Whether this PyTorch build has oneDNN's prepacked linear kernel (x86 and ARM builds)."""
    return torch.backends.mkldnn.is_available() and _LINEAR_PACKED is not None


class PackedLinear(InferenceLinear):
    """A linear layer (fp32 or bf16, CPU) whose weight is reordered once into oneDNN's blocked
    layout, for inference. ``(.., in_features) -> (.., out_features)``.

    ``weight`` and ``bias`` stay the layer's parameters (parameter counts, inspection and tied
    weights are unchanged); products use the packed copy, which is made again when the weight
    changes (a load or an in-place update bumps its version). With gradients enabled for the
    weight, the layer computes ``F.linear`` instead, so that it still trains correctly.
    """

    # As the output layer, one fp32 row is multiplied by a transposed plain copy instead
    # (``EncoderDecoder.project``): batch-1 greedy decoding 1.11x faster; from 2 rows on the
    # packed product is faster (batch-1 beam 4: 0.84x with the copy).
    transposed_copy_rows = 1

    def __init__(self, linear: nn.Module) -> None:
        super().__init__(linear)
        self.weight, self.bias = linear.weight, linear.bias
        self._pack()

    def _pack(self) -> None:
        self.packed = torch.ops.mkldnn._reorder_linear_weight(self.weight.detach(), None)
        self.packed_from = (self.weight.data_ptr(), self.weight._version)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and self.weight.requires_grad:
            return F.linear(x, self.weight, self.bias)  # differentiable; packing is not
        if self.packed_from != (self.weight.data_ptr(), self.weight._version):
            self._pack()  # the weight was loaded or changed since it was packed
        return _LINEAR_PACKED(x, self.packed, self.bias, "none", [], "")


def _fuse_self_attention(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, EncoderLayer | DecoderLayer):
            module.self_attention.fuse_projections()


def _swap_linears(
    model: nn.Module,
    chosen: Callable[[nn.Module], bool],
    replacement: Callable[[nn.Module], nn.Module],
) -> None:
    """Replace every ``chosen`` sub-module of ``model`` by ``replacement(it)``, in place."""
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if chosen(child):
                setattr(parent, name, replacement(child))
