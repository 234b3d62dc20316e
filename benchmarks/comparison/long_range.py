"""Long-range dependencies: accuracy against length on the synthetic tasks, for any model.

Both models train on the same sources (lengths uniform in ``[min_length, max_length]``) for the
same number of updates of the same batches, then decode held-out sources of each length with the
project's greedy search.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from comparison.harness import (
    Probe,
    ProbeResult,
    Session,
    pick_learning_rate,
)
from transformer_mt.config import TrainingConfig
from transformer_mt.data.batching import pad_sequences
from transformer_mt.data.synthetic import SyntheticTask, score_outputs
from transformer_mt.data.tokenizer import EOS_ID, PAD_ID
from transformer_mt.decoding.search import GreedySearch
from transformer_mt.model.factory import Model
from transformer_mt.training.encoded import EncodedCorpus


@dataclass(frozen=True)
class LengthScore:
    task: str
    model: str
    length: int
    sequence_accuracy: float
    token_accuracy: float
    last_token_accuracy: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LongRangeSettings:
    train_examples: int = 4000
    min_length: int = 8
    max_length: int = 128
    eval_lengths: tuple[int, ...] = (8, 16, 32, 64, 96, 128)
    eval_examples: int = 50  # per length
    updates: int = 3000  # per model and task, the learning-rate probe's included
    lrs: tuple[float, ...] = (1e-3, 3e-3)  # candidates, probed per model and task
    probe_updates: int = 1000  # long enough to leave the plateau at the unigram loss
    seed: int = 1

    def __post_init__(self) -> None:
        if len(self.lrs) > 1 and not 0 < self.probe_updates <= self.updates:
            raise ValueError(
                f"probe_updates must be in [1, updates={self.updates}], got {self.probe_updates}"
            )

    @property
    def probe(self) -> Probe:
        return Probe(self.lrs, updates=self.probe_updates)


def train_on_task(
    build: Callable[[], Model],
    task: SyntheticTask,
    settings: LongRangeSettings,
    training: TrainingConfig,
    work_dir: Path,
) -> tuple[Session, ProbeResult]:
    """Train a fresh ``build()`` model on ``settings.train_examples`` random sources of the
    task, at the candidate learning rate that gave the lowest loss after the probe."""
    sources, targets = task.sample(
        settings.train_examples, settings.min_length, settings.max_length, seed=settings.seed
    )
    corpus = EncodedCorpus(sources, targets)
    session, probe = pick_learning_rate(build, corpus, training, work_dir, settings.probe)
    session.run(updates=settings.updates)
    return session, probe


def accuracy_by_length(
    model: Model, label: str, task: SyntheticTask, settings: LongRangeSettings
) -> list[LengthScore]:
    """Greedy-decode ``eval_examples`` held-out sources of every length; score them."""
    model.eval()
    scores = []
    for length in settings.eval_lengths:
        seed = settings.seed + 1000 + length  # never the training sources' stream
        sources, targets = task.sample(settings.eval_examples, length, length, seed=seed)
        src_ids = pad_sequences([[*source, EOS_ID] for source in sources], PAD_ID)  # (B, S)
        limits = torch.full((len(sources),), length + 2, dtype=torch.long)  # (B,)
        found = GreedySearch().search(model, src_ids, limits)
        outputs = [_without_eos(hypotheses[0].tokens) for hypotheses in found]
        result = score_outputs(outputs, targets)
        scores.append(LengthScore(task.name, label, length, **asdict(result)))
    return scores


def _without_eos(tokens: tuple[int, ...]) -> list[int]:
    return list(tokens[:-1]) if tokens and tokens[-1] == EOS_ID else list(tokens)
