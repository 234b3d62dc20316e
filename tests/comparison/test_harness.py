"""Training sessions that continue, and the learning-rate probe."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from comparison.harness import Probe, Session, make_trainer, pick_learning_rate
from comparison.study import Architecture, study_training
from transformer_mt.config import TrainingConfig
from transformer_mt.data.synthetic import SyntheticTask
from transformer_mt.model.factory import Model, build_model
from transformer_mt.training.encoded import EncodedCorpus

TASK = SyntheticTask("copy", symbols=6)


def corpus() -> EncodedCorpus:
    sources, targets = TASK.sample(40, 3, 8, seed=0)
    return EncodedCorpus(sources, targets)


def build() -> Model:
    torch.manual_seed(0)
    return build_model(Architecture(16, 2, 1, 32, 0.0).transformer(TASK.vocab_size))


def training(lr: float = 1e-2) -> TrainingConfig:
    return study_training(max_tokens=64, lr=lr, warmup_steps=1)


def session(work: Path, lr: float = 1e-2) -> Session:
    return Session(make_trainer(build(), corpus(), training(lr), work))


def test_a_continued_session_equals_one_run(tmp_path: Path) -> None:
    whole = session(tmp_path / "a")
    whole.run(updates=12)
    parts = session(tmp_path / "b")
    parts.run(updates=5)
    parts.run(updates=12)  # totals: 7 more updates, the batch order goes on
    assert parts.progress.updates == whole.progress.updates == 12
    assert parts.progress.target_tokens == whole.progress.target_tokens
    for a, b in zip(whole.model.parameters(), parts.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_marks_fire_once_each_after_their_time(tmp_path: Path) -> None:
    seen: list[float] = []
    run = session(tmp_path)
    run.run(updates=6, marks=[1e-9, 2e-9, 1e9], on_mark=lambda p: seen.append(p.seconds))
    assert len(seen) == 2 and all(s > 0 for s in seen)


def test_the_probe_keeps_the_lowest_loss_and_continues_it(tmp_path: Path) -> None:
    lrs = (1e-6, 3e-2)  # a learning rate too small to move the loss, and a good one
    best, result = pick_learning_rate(build, corpus(), training(), tmp_path, Probe(lrs, updates=15))
    losses = dict(result.losses)
    assert set(losses) == set(lrs)
    assert result.lr == best.lr == 3e-2 and losses[3e-2] < losses[1e-6]
    assert best.progress.updates == 15  # the winner's probe counts; it goes on from there
    assert best.progress.recent_loss == pytest.approx(losses[3e-2])


def test_one_candidate_means_no_probe(tmp_path: Path) -> None:
    best, result = pick_learning_rate(build, corpus(), training(), tmp_path, Probe((5e-3,), 10))
    assert best.lr == 5e-3 and best.progress.updates == 0 and result.losses == ()


def test_bad_probes_are_refused() -> None:
    with pytest.raises(ValueError, match="positive learning rate"):
        Probe(())
    with pytest.raises(ValueError, match="positive learning rate"):
        Probe((1e-3, 0.0))
