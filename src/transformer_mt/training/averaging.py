"""An exponential moving average (EMA) of the model's weights.

With a few thousand updates at a high learning rate, the weights at any single step are noisy;
their running average translates better (the same idea as averaging the last checkpoints, without
storing them). The average is what validation, BLEU and the saved model use when it is enabled.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class WeightAverage:
    """``average = decay * average + (1 - decay) * weights`` after every update.

    The effective decay starts small, ``min(decay, (1 + step) / (10 + step))``, so the average is
    not dominated by the random initial weights.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.parameters = [p for p in model.parameters() if p.requires_grad]
        self.average = [p.detach().clone() for p in self.parameters]

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.average, self.parameters, 1.0 - decay)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Temporarily load the averaged weights into the model."""
        with torch.no_grad():
            current = [p.detach().clone() for p in self.parameters]
            for parameter, average in zip(self.parameters, self.average, strict=True):
                parameter.copy_(average)
        try:
            yield
        finally:
            with torch.no_grad():
                for parameter, saved in zip(self.parameters, current, strict=True):
                    parameter.copy_(saved)
