"""What a training run has done so far: counters, the best score, and the data position.

Everything here is plain data, saved as JSON inside each resumable checkpoint, so that a resumed
run continues from the same step, epoch, batch and random stream as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

RandomState = tuple[Any, ...]  # what random.Random.getstate() returns


@dataclass
class TrainState:
    step: int = 0  # updates done
    epoch: int = 0  # the epoch being read (1-based once training has started)
    batch_in_epoch: int = 0  # batches of the current epoch already consumed
    epoch_rng: list[Any] | None = None  # the batch-order RNG as it was when this epoch began
    elapsed: float = 0.0  # seconds spent training (validation excluded)
    target_tokens: int = 0  # real target tokens trained on
    padded_cells: int = 0  # source + target positions in all batches, padding included
    real_cells: int = 0  # source + target positions holding a real token
    best_score: float | None = None  # best value of training.best_metric so far
    best_step: int = 0
    checks_without_improvement: int = 0
    stopped_early: bool = False

    @property
    def padding_fraction(self) -> float:
        return 1.0 - self.real_cells / self.padded_cells if self.padded_cells else 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainState:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def rng_to_json(rng: random.Random) -> list[Any]:
    """``random.Random`` state as JSON-safe lists (never pickled)."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def rng_from_json(rng: random.Random, state: list[Any]) -> None:
    version, internal, gauss = state
    rng.setstate((version, tuple(internal), gauss))


def improved(metric: str, score: float, best: float | None) -> bool:
    """Whether ``score`` beats ``best`` (higher BLEU, lower loss); a tie is no improvement."""
    if best is None:
        return True
    return score > best if metric == "valid_bleu" else score < best
