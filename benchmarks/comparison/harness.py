"""Train any model of the project with its own :class:`Trainer`, by updates or by time.

The study drives ``Trainer.update`` directly (as ``benchmarks/quality.py`` does) so that both
models see the same batches in the same order and the clock measures only training.

A :class:`Session` can be continued: :func:`pick_learning_rate` trains one session per candidate
learning rate for a short probe, keeps the one with the lowest training loss and continues it,
so each model trains at a learning rate that suits it and the probe is not lost for the winner.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.config import TrainingConfig
from transformer_mt.model.factory import Model
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
        run=RunDir(work_dir),
        bleu=lambda sources, references: (0.0, 0.0),
        valid_pairs=[],
        device=torch.device("cpu"),
        report=lambda _: None,
    )


class Session:
    """One model's training on shuffled token-budget batches, continued across calls."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.progress = TrainingProgress()
        self._batches = self._epochs(random.Random(trainer.config.seed))

    @property
    def model(self) -> Model:
        return self.trainer.model

    @property
    def lr(self) -> float:
        return self.trainer.config.lr

    def _epochs(self, rng: random.Random) -> Iterator[list[int]]:
        while True:  # the trainer's corpus cuts the batches (the same as token_budget_batches)
            order = self.trainer.train_data.batch_order(self.trainer.config.max_tokens, rng)
            yield from (batch.tolist() for batch in order)

    def run(
        self,
        *,
        updates: int | None = None,
        seconds: float | None = None,
        marks: Sequence[float] = (),
        on_mark: Callable[[TrainingProgress], None] | None = None,
    ) -> TrainingProgress:
        """Train until the session's totals reach ``updates`` or ``seconds``.

        ``marks`` are training times (seconds) at which ``on_mark`` is called, e.g. to keep the
        weights; the time ``on_mark`` takes is not counted.
        """
        if updates is None and seconds is None:
            raise ValueError("give updates or seconds")
        progress = self.progress
        pending = sorted(mark for mark in marks if mark > progress.seconds)

        def done() -> bool:
            return (updates is not None and progress.updates >= updates) or (
                seconds is not None and progress.seconds >= seconds
            )

        while not done():
            indices = next(self._batches)
            started = time.perf_counter()
            result = self.trainer.update([indices])
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
        return progress


def train(
    trainer: Trainer,
    *,
    updates: int | None = None,
    seconds: float | None = None,
    marks: Sequence[float] = (),
    on_mark: Callable[[TrainingProgress], None] | None = None,
) -> TrainingProgress:
    """Train ``trainer``'s model once until ``updates`` or ``seconds`` (a fresh session)."""
    session = Session(trainer)
    return session.run(updates=updates, seconds=seconds, marks=marks, on_mark=on_mark)


@dataclass(frozen=True)
class Probe:
    """A short run at each candidate learning rate; the lowest training loss wins."""

    lrs: tuple[float, ...]  # one value: no probe
    updates: int = 0  # 0: no probe
    seconds: float | None = None  # probe by time instead (translation)

    def __post_init__(self) -> None:
        if not self.lrs or any(lr <= 0 for lr in self.lrs):
            raise ValueError(f"need at least one positive learning rate, got {self.lrs}")


@dataclass(frozen=True)
class ProbeResult:
    lr: float  # the learning rate chosen
    losses: tuple[tuple[float, float], ...]  # (learning rate, probe's final training loss)


def pick_learning_rate(
    build: Callable[[], Model],
    corpus: EncodedCorpus,
    training: TrainingConfig,
    work_dir: Path,
    probe: Probe,
) -> tuple[Session, ProbeResult]:
    """A session per candidate learning rate, each with a fresh ``build()`` model (same seed,
    same batches), probed in turn; the one with the lowest training loss is returned."""

    def start(lr: float) -> Session:
        config = dataclasses.replace(training, lr=lr)
        return Session(make_trainer(build(), corpus, config, work_dir / f"lr-{lr:g}"))

    if len(probe.lrs) == 1:
        return start(probe.lrs[0]), ProbeResult(probe.lrs[0], ())
    losses = []
    best: Session | None = None
    best_loss = float("inf")
    for lr in probe.lrs:
        session = start(lr)
        if probe.seconds is not None:
            session.run(seconds=probe.seconds)
        else:
            session.run(updates=max(probe.updates, 1))
        loss = session.progress.recent_loss
        loss = loss if loss == loss else float("inf")  # NaN never wins
        losses.append((lr, loss))
        if best is None or loss < best_loss:
            best, best_loss = session, loss  # the losers are dropped at once (memory)
    assert best is not None
    return best, ProbeResult(best.lr, tuple(losses))
