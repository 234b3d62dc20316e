"""The golden test: our model equals torch's own ``nn.TransformerEncoder``/``nn.TransformerDecoder``
loaded with the same weights.

The reference is built from torch's layers (their attention, residuals, LayerNorms and masks);
only the token embedding table is shared, and the sinusoidal positions are recomputed here from
the paper's formula. Logits are compared at real (non-padding) target positions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

from transformer_mt.model import Transformer
from transformer_mt.model.attention import MultiHeadAttention
from transformer_mt.model.layers import DecoderLayer, EncoderLayer

PAD, BOS, EOS = 0, 2, 3


def copy_attention(target: nn.MultiheadAttention, source: MultiHeadAttention) -> None:
    projections = (source.q_proj, source.k_proj, source.v_proj)
    target.in_proj_weight.copy_(torch.cat([p.weight for p in projections]))
    target.in_proj_bias.copy_(torch.cat([p.bias for p in projections]))
    target.out_proj.weight.copy_(source.out_proj.weight)
    target.out_proj.bias.copy_(source.out_proj.bias)


def copy_linear_and_norm(target: nn.Module, source: nn.Module) -> None:
    target.load_state_dict(source.state_dict())


class TorchReference(nn.Module):
    """Our architecture expressed with torch's Transformer layers."""

    def __init__(self, model: Transformer) -> None:
        super().__init__()
        config = model.config
        self.config = config
        pre_norm = config.norm_position == "pre"
        layer_options = {
            "d_model": config.d_model,
            "nhead": config.num_heads,
            "dim_feedforward": config.d_ff,
            "dropout": 0.0,
            "activation": config.activation,
            "batch_first": True,
            "norm_first": pre_norm,
        }
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(**layer_options),
            config.num_encoder_layers,
            norm=nn.LayerNorm(config.d_model) if pre_norm else None,
            enable_nested_tensor=False,
        )
        self.decoder = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(**layer_options),
            config.num_decoder_layers,
            norm=nn.LayerNorm(config.d_model) if pre_norm else None,
        )
        self.source_tokens = model.source_embedder.tokens.weight.detach().clone()
        self.target_tokens = model.target_embedder.tokens.weight.detach().clone()
        self.output = model.output_projection.weight.detach().clone()
        self.source_positions = self._positions(model.source_embedder.positions.learned)
        self.target_positions = self._positions(model.target_embedder.positions.learned)
        with torch.no_grad():
            self._load(model)

    def _positions(self, learned: nn.Embedding | None) -> torch.Tensor:
        if learned is not None:
            return learned.weight.detach().clone()
        d = self.config.d_model
        table = [
            [
                math.sin(pos / 10000 ** (i / d))
                if i % 2 == 0
                else math.cos(pos / 10000 ** ((i - 1) / d))
                for i in range(d)
            ]
            for pos in range(self.config.max_positions)
        ]
        return torch.tensor(table)

    def _load(self, model: Transformer) -> None:
        for ref, ours in zip(self.encoder.layers, model.encoder_layers, strict=True):
            assert isinstance(ours, EncoderLayer)
            copy_attention(ref.self_attn, ours.self_attention)
            copy_linear_and_norm(ref.linear1, ours.feed_forward.expand)
            copy_linear_and_norm(ref.linear2, ours.feed_forward.contract)
            copy_linear_and_norm(ref.norm1, ours.attention_residual.norm)
            copy_linear_and_norm(ref.norm2, ours.feed_forward_residual.norm)
        for ref, ours in zip(self.decoder.layers, model.decoder_layers, strict=True):
            assert isinstance(ours, DecoderLayer)
            copy_attention(ref.self_attn, ours.self_attention)
            copy_attention(ref.multihead_attn, ours.cross_attention)
            copy_linear_and_norm(ref.linear1, ours.feed_forward.expand)
            copy_linear_and_norm(ref.linear2, ours.feed_forward.contract)
            copy_linear_and_norm(ref.norm1, ours.self_attention_residual.norm)
            copy_linear_and_norm(ref.norm2, ours.cross_attention_residual.norm)
            copy_linear_and_norm(ref.norm3, ours.feed_forward_residual.norm)
        if self.encoder.norm is not None:
            copy_linear_and_norm(self.encoder.norm, model.encoder_norm)
        if self.decoder.norm is not None:
            copy_linear_and_norm(self.decoder.norm, model.decoder_norm)

    def forward(self, src_ids: torch.Tensor, tgt_in_ids: torch.Tensor) -> torch.Tensor:
        scale = math.sqrt(self.config.d_model)
        source = self.source_tokens[src_ids] * scale + self.source_positions[: src_ids.shape[1]]
        target = (
            self.target_tokens[tgt_in_ids] * scale + self.target_positions[: tgt_in_ids.shape[1]]
        )
        length = tgt_in_ids.shape[1]
        future = torch.ones(length, length, dtype=torch.bool).triu(diagonal=1)  # True = hidden
        memory = self.encoder(source, src_key_padding_mask=src_ids == PAD)
        hidden = self.decoder(
            target,
            memory,
            tgt_mask=future,
            tgt_key_padding_mask=tgt_in_ids == PAD,
            memory_key_padding_mask=src_ids == PAD,
        )
        return hidden @ self.output.T


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"norm_position": "pre"},
        {"activation": "gelu"},
        {"positional_encoding": "learned", "num_decoder_layers": 1},
        {"share_embeddings": False, "tie_output": False, "src_vocab_size": 30},
    ],
    ids=["post-relu", "pre-norm", "gelu", "learned", "untied"],
)
def test_logits_equal_torch_transformer_layers(
    make_model: Callable[..., Transformer], src_batch: torch.Tensor, overrides: dict[str, object]
) -> None:
    model = make_model(**overrides)
    with torch.no_grad():  # random LayerNorm affine parameters, so that their use is checked
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.normal_(1.0, 0.2)
                module.bias.normal_(0.0, 0.2)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.normal_(0.0, 0.1)
    reference = TorchReference(model).eval()
    tgt = torch.tensor(
        [
            [BOS, 7, 12, 5, 9],
            [BOS, 10, PAD, PAD, PAD],
            [BOS, 4, 6, 8, 15],
        ]
    )
    with torch.no_grad():
        ours = model(src_batch, tgt)
        expected = reference(src_batch, tgt)
    real = tgt != PAD
    torch.testing.assert_close(ours[real], expected[real], rtol=1e-4, atol=1e-5)
    # Greedy choices agree too.
    assert torch.equal(ours[real].argmax(-1), expected[real].argmax(-1))
