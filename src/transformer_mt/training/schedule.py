"""Learning-rate schedules: a linear warmup, then either the inverse square-root decay of
Vaswani et al. (2017) or a linear decay that reaches zero at the end of the training budget.

The inverse square root suits open-ended training; the linear decay suits a fixed budget
(a number of updates, epochs or minutes), where it ends the run on a small learning rate.
"""

from __future__ import annotations

import math

from transformer_mt.config import TrainingConfig
from transformer_mt.training.state import TrainState


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


def linear_decay_factor(step: int, warmup_steps: int, progress: float) -> float:
    """Multiplier of the peak learning rate at update ``step`` (1-based) once ``progress``
    (the share of the budget used, 0..1) is spent: the smaller of the linear warmup and
    ``1 - progress``, so it falls to 0 at the end of the budget."""
    warmup = 1.0 if warmup_steps <= 0 else min(max(step, 1) / warmup_steps, 1.0)
    return max(min(warmup, 1.0 - progress), 0.0)


def lr_factor(schedule: str, step: int, warmup_steps: int, progress: float) -> float:
    """The multiplier of ``schedule`` (``training.schedule``: inverse_sqrt | linear) at
    update ``step``."""
    if schedule == "linear":
        return linear_decay_factor(step, warmup_steps, progress)
    return inverse_sqrt_factor(step, warmup_steps)


def budget_progress(
    config: TrainingConfig, state: TrainState, updates_per_epoch: int | None
) -> float:
    """The share of ``config``'s training budget that ``state`` has used (epochs count once
    ``updates_per_epoch`` is known)."""
    by_epochs = None
    if config.max_epochs is not None and updates_per_epoch:
        by_epochs = config.max_epochs * updates_per_epoch
    return budget_share(
        state.step,
        state.elapsed,
        max_steps=config.max_steps,
        max_minutes=config.max_minutes,
        max_updates_by_epochs=by_epochs,
    )


def budget_share(
    step: int,
    elapsed_s: float,
    *,
    max_steps: int | None,
    max_minutes: float | None,
    max_updates_by_epochs: int | None,
) -> float:
    """The share of the training budget used after ``step`` updates and ``elapsed_s`` seconds
    of training: the largest over the limits that are set (the first reached ends the run)."""
    shares = [0.0]
    if max_steps:
        shares.append(step / max_steps)
    if max_minutes:
        shares.append(elapsed_s / (max_minutes * 60))
    if max_updates_by_epochs:
        shares.append(step / max_updates_by_epochs)
    return min(max(shares), 1.0)
