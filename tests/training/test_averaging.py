"""The exponential moving average of weights: values by hand, swap in and out."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from transformer_mt.training.averaging import WeightAverage


def test_average_follows_the_formula_with_warmup_decay() -> None:
    layer = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    average = WeightAverage(layer, decay=0.9)
    expected = torch.ones(1, 2)
    for step, value in enumerate([3.0, 5.0, -1.0, 2.0], start=1):
        with torch.no_grad():
            layer.weight.fill_(value)
        average.update()
        decay = min(0.9, (1 + step) / (10 + step))
        expected = decay * expected + (1 - decay) * value
        torch.testing.assert_close(average.average[0], expected)


def test_applied_swaps_the_average_in_and_restores_the_weights() -> None:
    layer = nn.Linear(3, 2)
    average = WeightAverage(layer, decay=0.5)
    with torch.no_grad():
        layer.weight.add_(1.0)
    average.update()
    trained = layer.weight.detach().clone()
    with average.applied():
        torch.testing.assert_close(layer.weight.detach(), average.average[0])
        assert not torch.equal(layer.weight.detach(), trained)
    torch.testing.assert_close(layer.weight.detach(), trained)


def test_decay_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(nn.Linear(1, 1), decay=1.0)
