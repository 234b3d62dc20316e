"""Translation: BLEU/chrF against training time on the built-in English-Chinese data.

Each model trains for the same wall-clock budget on the same batches (the quickstart recipe);
its weights are kept at evenly spaced training times and scored afterwards on the test split with
greedy search. The final weights are also scored per source-length bucket.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from comparison.harness import (
    Probe,
    ProbeResult,
    TrainingProgress,
    pick_learning_rate,
)
from transformer_mt.config import TrainingConfig
from transformer_mt.config.decoding import NO_GUARDS
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.decoding.translator import Translator
from transformer_mt.evaluation.metrics import corpus_scores
from transformer_mt.model.factory import Model
from transformer_mt.training.encoded import EncodedCorpus

Weights = dict[str, torch.Tensor]


@dataclass(frozen=True)
class QualityPoint:
    model: str
    minutes: float  # training time when the weights were kept
    updates: int
    bleu: float  # greedy, sacreBLEU
    chrf: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BucketScore:
    model: str
    bucket: str  # source length range in tokens, e.g. "6-10"
    sentences: int
    bleu: float
    chrf: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Trained:
    """A model trained for the translation budget, with its kept weights."""

    model: Model
    snapshots: list[tuple[TrainingProgress, Weights]]
    probe: ProbeResult


def train_with_snapshots(
    build: Callable[[], Model],
    corpus: EncodedCorpus,
    training: TrainingConfig,
    work_dir: Path,
    *,
    seconds: float,
    points: int,
    probe: Probe,
) -> Trained:
    """Train a fresh ``build()`` model for ``seconds`` of training time (the winning probe's
    included) at the probe's best learning rate; copies of the weights at ``points`` evenly
    spaced times (all after the probe)."""
    session, result = pick_learning_rate(build, corpus, training, work_dir, probe)
    snapshots: list[tuple[TrainingProgress, Weights]] = []

    def keep(progress: TrainingProgress) -> None:
        weights = {name: t.detach().clone() for name, t in session.model.state_dict().items()}
        snapshots.append((replace(progress), weights))

    marks = [seconds * (index + 1) / points for index in range(points)]
    if marks[0] <= session.progress.seconds:
        raise ValueError(
            f"the learning-rate probe ({session.progress.seconds:.0f}s) must end before the "
            f"first kept point ({marks[0]:.0f}s)"
        )
    session.run(seconds=seconds, marks=marks, on_mark=keep)
    return Trained(session.model, snapshots, result)


def score_snapshots(
    label: str,
    model: Model,
    tokenizer: Tokenizer,
    snapshots: Sequence[tuple[TrainingProgress, Weights]],
    pairs: Sequence[tuple[str, str]],
) -> list[QualityPoint]:
    """Greedy BLEU/chrF of every snapshot on ``pairs``."""
    points = []
    for progress, weights in snapshots:
        model.load_state_dict(weights)
        scores = corpus_scores(_translate(model, tokenizer, pairs), [t for _, t in pairs])
        minutes = progress.seconds / 60
        points.append(QualityPoint(label, minutes, progress.updates, scores.bleu, scores.chrf))
    return points


def length_buckets(
    label: str,
    model: Model,
    tokenizer: Tokenizer,
    pairs: Sequence[tuple[str, str]],
    edges: Sequence[int] = (5, 10, 15, 20),
) -> list[BucketScore]:
    """Greedy BLEU/chrF of ``model`` per source length (SentencePiece tokens) bucket."""
    hypotheses = _translate(model, tokenizer, pairs)
    lengths = [len(ids) for ids in tokenizer.encode_source([s for s, _ in pairs])]
    rows = []
    for low, high in zip([0, *edges], [*edges, None], strict=True):
        chosen = [i for i, n in enumerate(lengths) if n > low and (high is None or n <= high)]
        if not chosen:
            continue
        name = f"{low + 1}-{high}" if high is not None else f">{low}"
        scores = corpus_scores([hypotheses[i] for i in chosen], [pairs[i][1] for i in chosen])
        rows.append(BucketScore(label, name, len(chosen), scores.bleu, scores.chrf))
    return rows


def _translate(model: Model, tokenizer: Tokenizer, pairs: Sequence[tuple[str, str]]) -> list[str]:
    translator = Translator(model, tokenizer, torch.device("cpu"))
    # The models' own greedy output (no repetition guard), as the study has always measured it.
    return translator.translate([s for s, _ in pairs], beam_size=1, batch_size=64, **NO_GUARDS)
