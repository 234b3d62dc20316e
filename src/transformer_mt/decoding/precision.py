"""Inference number formats: fp32, bf16 weights, or dynamically quantized int8 linear layers.

* ``bf16``: every weight converted to bfloat16 once (no per-call autocast casts); logits are
  turned back to fp32 before the softmax, so scores and search stay in fp32.
* ``int8``: PyTorch's dynamic quantization of ``nn.Linear`` (weights int8 per tensor,
  activations quantized per call); CPU only. Embeddings and LayerNorms stay fp32. Each
  self-attention's Q, K and V layers are first fused into one (one int8 call instead of three:
  each call costs about 14 us however small), and the quantized layers are called through
  :class:`Int8Linear`, without the 6 us of per-call checks of PyTorch's wrapper module.
  Large batches keep the attention cache in bf16 (``Transformer.cache_dtype``).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from transformer_mt.errors import UserError
from transformer_mt.model.layers import DecoderLayer, EncoderLayer
from transformer_mt.model.transformer import Transformer

DTYPES = ("fp32", "bf16", "int8")


def convert_for_inference(model: nn.Module, dtype: str, device: torch.device) -> nn.Module:
    """Return ``model`` (changed in place, in eval mode) in the requested number format."""
    if dtype not in DTYPES:
        raise UserError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    model = model.to(device).eval()
    if dtype == "bf16":
        return model.to(torch.bfloat16)
    if dtype == "int8":
        if device.type != "cpu":
            raise UserError("dtype int8 (dynamic quantization) runs on the CPU only")
        with warnings.catch_warnings():
            # torch.ao quantization is deprecated in favour of torchao, whose int8 CPU path needs
            # torch.compile; the eager fbgemm/oneDNN kernels used here are still the fast ones.
            warnings.simplefilter("ignore", category=DeprecationWarning)
            warnings.simplefilter("ignore", category=UserWarning)
            _fuse_self_attention(model)
            torch.ao.quantization.quantize_dynamic(
                model, {nn.Linear}, dtype=torch.qint8, inplace=True
            )
        _call_directly(model)
        if isinstance(model, Transformer):
            model.cache_dtype = torch.bfloat16  # large caches: half the memory traffic
    return model


# The quantized kernel's compiled entry point. Calling the operator object first scans the
# arguments for the placeholder objects of export/compile tracing (about 2 us per call, 37 calls
# per Transformer-base decoding step); eager calls never carry them.
_LINEAR_DYNAMIC = torch.ops.quantized.linear_dynamic.default
_LINEAR_DYNAMIC_KERNEL = getattr(_LINEAR_DYNAMIC, "_op", _LINEAR_DYNAMIC)


class Int8Linear(nn.Module):
    """A dynamically quantized linear layer (int8 weights, activations quantized per call)
    that calls the quantized kernel directly."""

    def __init__(self, quantized: nn.Module) -> None:
        super().__init__()
        self.packed = quantized._packed_params._packed_params
        self.in_features, self.out_features = quantized.in_features, quantized.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # reduce_range=True, as PyTorch's dynamic Linear: 7-bit activations avoid overflow in
        # the int16 accumulation of CPUs without VNNI.
        return _LINEAR_DYNAMIC_KERNEL(x, self.packed, True)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


def _fuse_self_attention(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, EncoderLayer | DecoderLayer):
            module.self_attention.fuse_projections()


def _call_directly(model: nn.Module) -> None:
    """Swap every quantized linear layer for :class:`Int8Linear`."""
    dynamic_linear = torch.ao.nn.quantized.dynamic.Linear
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if type(child) is dynamic_linear and child._packed_params.dtype == torch.qint8:
                setattr(parent, name, Int8Linear(child))
