"""Inference number formats: fp32, bf16 weights, or dynamically quantized int8 linear layers.

* ``bf16``: every weight converted to bfloat16 once (no per-call autocast casts); logits are
  turned back to fp32 before the softmax, so scores and search stay in fp32.
* ``int8``: PyTorch's dynamic quantization of ``nn.Linear`` (weights int8 per tensor,
  activations quantized per call); CPU only. Embeddings and LayerNorms stay fp32.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from transformer_mt.errors import UserError

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
            return torch.ao.quantization.quantize_dynamic(
                model, {nn.Linear}, dtype=torch.qint8, inplace=True
            )
    return model
