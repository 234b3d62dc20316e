"""Train any model of the project with its own :class:`Trainer`, by updates or by time.

The study drives ``Trainer.update`` directly (as ``benchmarks/quality.py`` does) so that both
models see the same batches in the same order and the clock measures only training.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from transformer_mt.data.batching import token_budget_batches
from transformer_mt.model.factory import Model
from transformer_mt.training.config import TrainingConfig
from transformer_mt.training.encoded import EncodedCorpus
from transformer_mt.training.trainer import Trainer

RECENT = 20  # updates averaged for the reported training loss


@dataclass
class TrainingProgress:
    updates: int = 0
    seconds: float = 0.0  # training time only (batches, forward, backward, optimizer)
    target_tokens: int = 0
    recent_losses: list[float] = field(default_factory=list)  # per-token loss, last updates

    @property
    def recent_loss(self) -> float:
        """Mean training loss (nats per target token) of the last :data:`RECENT` updates."""
        return sum(self.recent_losses) / max(len(self.recent_losses), 1)

    @property
    def tokens_per_second(self) -> float:
        return self.target_tokens / max(self.seconds, 1e-9)


def make_trainer(
    model: Model, corpus: EncodedCorpus, training: TrainingConfig, work_dir: Path
) -> Trainer:
    """A CPU trainer on ``corpus`` with no validation (the study scores models itself)."""
    return Trainer(
        model,
        corpus,
        corpus,
        training,
        run_path=work_dir,
        translate=lambda sentences: sentences,
        valid_pairs=[],
        device=torch.device("cpu"),
        report=lambda _: None,
    )


def train(
    trainer: Trainer,
    *,
    updates: int | None = None,
    seconds: float | None = None,
    marks: list[float] | None = None,
    on_mark: Callable[[TrainingProgress], None] | None = None,
) -> TrainingProgress:
    """Run updates on shuffled token-budget batches until ``updates`` or ``seconds`` is reached.

    ``marks`` are training times (seconds) at which ``on_mark`` is called, e.g. to score the
    model; the time ``on_mark`` takes is not counted.
    """
    if updates is None and seconds is None:
        raise ValueError("give updates or seconds")
    config = trainer.config
    rng = random.Random(config.seed)
    pending = sorted(marks or [])
    progress = TrainingProgress()

    def done() -> bool:
        return (updates is not None and progress.updates >= updates) or (
            seconds is not None and progress.seconds >= seconds
        )

    while not done():
        for indices in token_budget_batches(trainer.lengths, config.max_tokens, rng):
            started = time.perf_counter()
            result = trainer.update([indices])
            progress.seconds += time.perf_counter() - started
            progress.updates += 1
            progress.target_tokens += result.tokens
            progress.recent_losses = [
                *progress.recent_losses[-(RECENT - 1) :],
                result.nll / max(result.tokens, 1),
            ]
            while pending and progress.seconds >= pending[0]:
                pending.pop(0)
                if on_mark is not None:
                    on_mark(progress)
            if done():
                break
    return progress
