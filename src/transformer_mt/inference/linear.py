"""Linear layers for inference on the CPU: dynamically quantized int8, or prepacked for oneDNN.

Both call their kernels directly: PyTorch's wrapper modules cost microseconds of checks per call,
and a decoding step makes dozens of calls on a few rows each. Outputs differ from ``F.linear``
by summation order only (about 1e-4 in fp32) for packed layers, and by int8 rounding for
quantized ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 (the conventional alias)
from torch import nn

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


def packing_available(dtype: torch.dtype = torch.float32) -> bool:
    """Whether this PyTorch build and CPU can multiply ``dtype`` weights with oneDNN's
    prepacked linear kernel (fp32: x86 and ARM builds; bf16: CPUs with AVX-512 or AVX-NE)."""
    if not torch.backends.mkldnn.is_available() or _LINEAR_PACKED is None:
        return False
    return dtype != torch.bfloat16 or bf16_packing_supported()


def bf16_packing_supported() -> bool:
    """Whether oneDNN can pack bf16 weights on this CPU (it needs AVX-512 BW/VL/DQ or AVX-NE;
    without them packing fails, and a bf16 model keeps plain linear layers)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class PackedLinear(InferenceLinear):
    """A linear layer (fp32 or bf16, CPU) whose weight is reordered once into oneDNN's blocked
    layout, for inference. ``(.., in_features) -> (.., out_features)``.

    ``weight`` and ``bias`` stay the layer's parameters (parameter counts, inspection and tied
    weights are unchanged); products use the packed copy, which is made again when the weight
    changes (a load or an in-place update bumps its version). With gradients enabled for the
    weight, the layer computes ``F.linear`` instead, so that it still trains correctly.
    """

    # As the output layer, one fp32 row is multiplied by a transposed plain copy instead
    # (:class:`~transformer_mt.inference.model.InferenceTransformer`); from 2 rows on the
    # packed product is faster.
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
