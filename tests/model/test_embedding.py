"""Positional encodings and the embedding scale, against the paper's formulas."""

from __future__ import annotations

import math

import pytest
import torch

from transformer_mt.model.embedding import Embedder, PositionalEncoding, sinusoidal_table


def paper_table(max_positions: int, d_model: int) -> torch.Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d))."""
    rows = []
    for pos in range(max_positions):
        row = []
        for dim in range(d_model):
            angle = pos / 10000 ** ((dim - dim % 2) / d_model)
            row.append(math.sin(angle) if dim % 2 == 0 else math.cos(angle))
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float64)


@pytest.mark.parametrize(("max_positions", "d_model"), [(50, 16), (9, 6), (12, 7)])
def test_sinusoidal_table_matches_the_formula(max_positions: int, d_model: int) -> None:
    table = sinusoidal_table(max_positions, d_model)
    assert table.shape == (max_positions, d_model)
    assert table.dtype == torch.float32
    torch.testing.assert_close(
        table.double(), paper_table(max_positions, d_model), rtol=0, atol=2e-5
    )


def test_sinusoidal_first_rows_by_hand() -> None:
    table = sinusoidal_table(2, 4)
    # Position 0: sin 0 = 0 on even, cos 0 = 1 on odd dimensions.
    assert table[0].tolist() == [0.0, 1.0, 0.0, 1.0]
    # Position 1, d=4: angles 1 and 1/100.
    expected = [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)]
    torch.testing.assert_close(table[1], torch.tensor(expected))


def test_positional_encoding_adds_the_rows_at_an_offset() -> None:
    encoding = PositionalEncoding("sinusoidal", 10, 4)
    x = torch.zeros(2, 3, 4)
    torch.testing.assert_close(encoding(x, offset=5), sinusoidal_table(10, 4)[5:8].expand(2, 3, 4))
    with pytest.raises(ValueError, match="11 positions exceeds max_positions=10"):
        encoding(x, offset=8)


def test_learned_positions_are_a_parameter() -> None:
    torch.manual_seed(0)
    encoding = PositionalEncoding("learned", 10, 4)
    assert encoding.learned is not None
    x = torch.zeros(1, 2, 4)
    torch.testing.assert_close(encoding(x, offset=3)[0], encoding.learned.weight[3:5])
    assert [name for name, _ in encoding.named_parameters()] == ["learned.weight"]


def test_sinusoidal_table_is_not_saved_in_the_state_dict() -> None:
    assert PositionalEncoding("sinusoidal", 10, 4).state_dict() == {}


def test_embedder_scales_by_sqrt_width_then_adds_positions() -> None:
    torch.manual_seed(0)
    tokens = torch.nn.Embedding(7, 16)
    embedder = Embedder(tokens, PositionalEncoding("sinusoidal", 8, 16), dropout=0.0)
    ids = torch.tensor([[3, 5, 1]])
    expected = tokens.weight[ids] * 4.0 + sinusoidal_table(8, 16)[:3]
    torch.testing.assert_close(embedder(ids), expected)
