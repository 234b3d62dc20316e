"""Turn a trained model into its inference form: number format and the fast path.

* ``fp32``: the weights as trained.
* ``bf16``: every weight converted to bfloat16 once (no per-call autocast casts); logits are
  turned back to fp32 before the softmax, so scores and search stay in fp32.
* ``int8`` (CPU only; always the fast path): where the native kernel is built
  (:mod:`.native`), every ``nn.Linear`` becomes int8 per output channel with each input row
  quantized on its own, and the decoder step runs as one native call; elsewhere PyTorch's
  dynamic quantization (fbgemm: weights int8 per tensor, activations per call), with large
  attention caches in bf16 where the CPU multiplies bf16 natively. Embeddings and LayerNorms
  stay fp32.
* ``fast`` (any format, for a model handed over to inference): attention modules become
  :class:`~.attention.FastAttention` (self-attention Q/K/V fused), the Transformer becomes an
  :class:`~.model.InferenceTransformer`, and on the CPU fp32/bf16 linear layers become
  :class:`~.linear.PackedLinear` (weights reordered once into oneDNN's blocked layout).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from transformer_mt.errors import UserError
from transformer_mt.inference.attention import FastAttention
from transformer_mt.inference.linear import Int8Linear, PackedLinear, packing_available
from transformer_mt.inference.model import InferenceTransformer
from transformer_mt.inference.native.build import native_ops
from transformer_mt.inference.native.linear import NativeInt8Linear
from transformer_mt.inference.native.step import NativeStep
from transformer_mt.model.attention import MultiHeadAttention
from transformer_mt.model.layers import DecoderLayer, EncoderLayer
from transformer_mt.model.transformer import Transformer
from transformer_mt.runtime import fast_bf16_cpu

DTYPES = ("fp32", "bf16", "int8")


def convert_for_inference(
    model: nn.Module, dtype: str, device: torch.device, *, fast: bool = False
) -> nn.Module:
    """Return ``model`` (changed in place, in eval mode) in the requested number format.

    ``fast``: swap in the fast inference path (see the module's docstring); the model is then
    for inference only: only pass a model nobody trains any more. int8 implies it."""
    if dtype not in DTYPES:
        raise UserError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype == "int8" and device.type != "cpu":  # before anything in the model changes
        raise UserError("dtype int8 (dynamic quantization) runs on the CPU only")
    model = model.to(device).eval()
    if dtype == "bf16":
        model = model.to(torch.bfloat16)
    if not fast and dtype != "int8":
        return model
    _use_fast_attention(model)
    native = None
    if dtype == "int8":
        ops = native_ops()
        if ops is not None:  # per-channel int8 weights, each input row quantized on its own
            _swap_linears(
                model, lambda child: type(child) is nn.Linear, partial(NativeInt8Linear, ops=ops)
            )
            native = NativeStep.create(model)
        else:
            _quantize(model)
    elif device.type == "cpu" and packing_available(_weight_dtype(model)):
        _swap_linears(model, lambda child: type(child) is nn.Linear, PackedLinear)
    if isinstance(model, Transformer):
        # Large int8 caches in half precision: half the memory traffic of attention (the
        # native step reads fp16; PyTorch's kernels bf16, where the CPU multiplies it natively).
        cache_dtype = None
        if native is not None:
            cache_dtype = torch.float16
        elif dtype == "int8" and fast_bf16_cpu():
            cache_dtype = torch.bfloat16
        inference = InferenceTransformer.convert(model, cache_dtype)
        inference.native_step = native
        # Row-wise int8 layers make a sentence's encoding independent of its batch's other
        # rows: groups of similar length then only drop padding work.
        inference.grouped_encoder = native is not None
    return model


def _weight_dtype(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def _use_fast_attention(model: nn.Module) -> None:
    """Every attention module becomes a :class:`FastAttention`; self-attention's Q/K/V fused."""
    for module in list(model.modules()):
        if isinstance(module, MultiHeadAttention):
            FastAttention.convert(module)
    for module in model.modules():
        if isinstance(module, EncoderLayer | DecoderLayer):
            module.self_attention.fuse_projections()


def _quantize(model: nn.Module) -> None:
    """int8 (CPU): quantize every linear layer (Q/K/V already fused), call it directly."""
    with warnings.catch_warnings():
        # torch.ao quantization is deprecated in favour of torchao, whose int8 CPU path needs
        # torch.compile; the eager fbgemm/oneDNN kernels used here are still the fast ones.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
    _swap_linears(model, _is_int8_linear, Int8Linear)


def _is_int8_linear(module: nn.Module) -> bool:
    dynamic_linear = torch.ao.nn.quantized.dynamic.Linear
    return type(module) is dynamic_linear and module._packed_params.dtype == torch.qint8


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
