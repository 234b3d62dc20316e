"""The fast inference path, swapped into a trained model by the translator.

The reference model in :mod:`transformer_mt.model` is the notes' Transformer, written to be read
and compared against PyTorch and HF. For decoding on the CPU, :func:`.convert.convert_for_inference`
turns a model into its inference form in place (same weights, same outputs up to summation
order):

- :mod:`.linear`: linear layers prepacked for oneDNN (fp32/bf16) or dynamically quantized to
  int8, called through their kernels directly;
- :mod:`.attention`: self-attention Q/K/V fused into one layer, and an explicit
  matmul-softmax-matmul for cached steps of many rows, where it beats the fused kernel;
- :mod:`.model`: the output layer's transposed copy for one-row fp32 steps, and a bf16 attention
  cache for large int8 batches.

Measurements behind each choice are in ``docs/performance.md``.
"""
