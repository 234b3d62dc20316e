"""Multi-head dimensions of a loaded model: E, h, d = E/h, Q/K/V shapes, parameters per block.

Parameter counts come from the model's own ``named_parameters``; a shared tensor (tied
embeddings, tied output projection) is counted once, in the first block that owns it, so the
blocks add up to the model's total.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

from transformer_mt.model.transformer import Transformer


@dataclass(frozen=True)
class Shape:
    name: str  # what the tensor is
    shape: tuple[int, ...]  # its size for ``tokens`` tokens
    formula: str  # the same in the notes' letters


@dataclass(frozen=True)
class Block:
    name: str
    parameters: int  # parameters first owned by this block (shared ones counted once)
    shared: bool  # True when some of its tensors were already counted in an earlier block


@dataclass(frozen=True)
class Dimensions:
    d_model: int  # E
    num_heads: int  # h
    head_dim: int  # d = E / h
    d_ff: int
    tokens: int  # N, the example length used in ``shapes``
    shapes: list[Shape]
    blocks: list[Block]

    @property
    def total_parameters(self) -> int:
        return sum(block.parameters for block in self.blocks)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_parameters": self.total_parameters}


def model_dimensions(model: Transformer, tokens: int = 10) -> Dimensions:
    """The dimensions of ``model``; ``shapes`` are for a sequence of ``tokens`` tokens (N)."""
    config = model.config
    E, h, d, N = config.d_model, config.num_heads, config.head_dim, tokens  # noqa: N806
    shapes = [
        Shape("input X", (N, E), "N × E"),
        Shape("W_Q, W_K, W_V of one head", (E, d), "E × d"),
        Shape("Q, K, V of one head (X W)", (N, d), "N × d"),
        Shape("scores Q Kᵀ / √d of one head", (N, N), "N × N"),
        Shape("all heads' Q (split)", (h, N, d), "h × N × d"),
        Shape("heads concatenated", (N, h * d), "N × (h·d) = N × E"),
        Shape("W_O (output projection)", (E, E), "E × E"),
        Shape("feed-forward hidden", (N, config.d_ff), "N × d_ff"),
    ]
    return Dimensions(E, h, d, config.d_ff, N, shapes, parameter_blocks(model))


def parameter_blocks(model: Transformer) -> list[Block]:
    """Parameters per block, in model order; shared tensors counted once."""
    seen: set[int] = set()
    blocks = []
    for name, module in _named_blocks(model):
        parameters = list(module.parameters())
        new = [p for p in parameters if id(p) not in seen]
        seen.update(id(p) for p in parameters)
        blocks.append(Block(name, sum(p.numel() for p in new), len(new) < len(parameters)))
    return blocks


def _named_blocks(model: Transformer) -> list[tuple[str, nn.Module]]:
    blocks: list[tuple[str, nn.Module]] = [
        ("source embedding", model.source_embedder),
        ("target embedding", model.target_embedder),
    ]
    for index, layer in enumerate(model.encoder_layers, start=1):
        blocks += [
            (f"encoder {index} self-attention", layer.self_attention),
            (f"encoder {index} feed-forward", layer.feed_forward),
            (f"encoder {index} layer norms", _norms(layer)),
        ]
    for index, layer in enumerate(model.decoder_layers, start=1):
        blocks += [
            (f"decoder {index} masked self-attention", layer.self_attention),
            (f"decoder {index} cross-attention", layer.cross_attention),
            (f"decoder {index} feed-forward", layer.feed_forward),
            (f"decoder {index} layer norms", _norms(layer)),
        ]
    blocks += [
        ("final layer norms", nn.ModuleList([model.encoder_norm, model.decoder_norm])),
        ("output projection", model.output_projection),
    ]
    return blocks


def _norms(layer: nn.Module) -> nn.Module:
    return nn.ModuleList(m for m in layer.modules() if isinstance(m, nn.LayerNorm))
