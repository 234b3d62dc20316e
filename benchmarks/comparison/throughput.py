"""Parallelism: training speed of each model against sequence length.

For each length a corpus of ``sentences`` copy-task examples of exactly that length is trained
for one epoch (after one warm-up update) with token-budget batches; the measured epoch time and
target tokens per second are reported per model, thread count and length.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from comparison.harness import make_trainer, train
from transformer_mt.config import TrainingConfig
from transformer_mt.data.synthetic import SyntheticTask
from transformer_mt.model.factory import Model
from transformer_mt.training.encoded import EncodedCorpus


@dataclass(frozen=True)
class SpeedRow:
    model: str
    threads: int
    length: int
    updates: int
    epoch_seconds: float  # one pass over the corpus, measured
    tokens_per_second: float  # target tokens per second of training

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def epoch_speed(
    build: Callable[[], Model],
    label: str,
    length: int,
    *,
    sentences: int,
    threads: int,
    training: TrainingConfig,
    symbols: int = 16,
) -> SpeedRow:
    """Train a fresh ``build()`` model for one epoch of ``sentences`` sources of ``length``."""
    torch.set_num_threads(threads)
    sources, targets = SyntheticTask("copy", symbols).sample(sentences, length, length, seed=length)
    corpus = EncodedCorpus(sources, targets)
    with tempfile.TemporaryDirectory() as work_dir:
        trainer = make_trainer(build(), corpus, training, Path(work_dir))
        train(trainer, updates=1)  # warm-up: first-call allocations and kernel selection
        epoch = train(trainer, updates=corpus.num_batches(training.max_tokens))
    return SpeedRow(label, threads, length, epoch.updates, epoch.seconds, epoch.tokens_per_second)
