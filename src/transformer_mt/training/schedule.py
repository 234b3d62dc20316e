"""Learning-rate schedule: linear warmup, then inverse square-root decay (Vaswani et al. 2017)."""

from __future__ import annotations

import math


def inverse_sqrt_factor(step: int, warmup_steps: int) -> float:
    """Multiplier of the peak learning rate at update ``step`` (1-based).

    Rises linearly to 1 at ``warmup_steps``, then decays as ``sqrt(warmup_steps / step)``.
    """
    step = max(step, 1)
    if warmup_steps <= 0:
        return 1.0 / math.sqrt(step)
    if step < warmup_steps:
        return step / warmup_steps
    return math.sqrt(warmup_steps / step)
