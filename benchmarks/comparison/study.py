"""The whole study: settings, the three experiments, and their collected results.

Both models of each experiment have matched parameter counts (:func:`matched_lstm`), the same
data, batches, optimizer recipe, precision and thread count, and the same seed for their initial
weights.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from comparison.harness import Probe
from comparison.long_range import (
    LengthScore,
    LongRangeSettings,
    accuracy_by_length,
    train_on_task,
)
from comparison.matching import matched_lstm
from comparison.throughput import SpeedRow, epoch_speed
from comparison.translation import (
    BucketScore,
    QualityPoint,
    length_buckets,
    score_snapshots,
    train_with_snapshots,
)
from transformer_mt.config import TrainingConfig
from transformer_mt.data.pairs import Splits
from transformer_mt.data.synthetic import TASKS, SyntheticTask
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.model.config import TransformerConfig
from transformer_mt.model.factory import ArchitectureConfig, build_model, parameter_count
from transformer_mt.training.encoded import EncodedCorpus

Report = Callable[[str], None]


@dataclass(frozen=True)
class Architecture:
    """The Transformer's size; the LSTM is matched to its parameter count."""

    d_model: int
    num_heads: int
    num_layers: int  # encoder and decoder each
    d_ff: int
    dropout: float

    def transformer(self, vocab_size: int) -> TransformerConfig:
        return TransformerConfig(
            src_vocab_size=vocab_size,
            tgt_vocab_size=vocab_size,
            d_model=self.d_model,
            num_heads=self.num_heads,
            num_encoder_layers=self.num_layers,
            num_decoder_layers=self.num_layers,
            d_ff=self.d_ff,
            dropout=self.dropout,
            norm_position="pre",
            # Xavier: N(0, 0.02) starts the 64-wide synthetic model too small, and pre-norm
            # learns faster with Xavier (quickstart size, 1,000 updates: see model/init.py).
            init="xavier",
            max_positions=256,
        )


def study_training(**fields: Any) -> TrainingConfig:
    """A CPU training recipe; the study stops training itself (``max_steps`` is unused)."""
    defaults: dict[str, Any] = {"max_steps": 1, "label_smoothing": 0.0, "precision": "fp32"}
    return TrainingConfig(**{**defaults, "device": "cpu", "seed": 1, **fields})


@dataclass(frozen=True)
class StudySettings:
    tasks: tuple[str, ...] = TASKS
    long_range: LongRangeSettings = field(default_factory=LongRangeSettings)
    synthetic_model: Architecture = Architecture(64, 4, 2, 256, 0.0)
    synthetic_training: TrainingConfig = field(  # lr: the best of long_range.lrs
        default_factory=lambda: study_training(max_tokens=1024, warmup_steps=100)
    )
    speed_lengths: tuple[int, ...] = (16, 32, 64, 128)
    # 1 thread by default: on a machine shared with other jobs, 2 OpenMP threads spin-wait for
    # a busy core and measured 10x slower than 1 (a measurement of the neighbours, not the model).
    speed_threads: tuple[int, ...] = (1,)
    speed_sentences: int = 256
    speed_max_tokens: int = 2048
    translation_model: Architecture = Architecture(256, 4, 3, 1024, 0.1)
    translation_training: TrainingConfig = field(
        default_factory=lambda: study_training(
            max_tokens=1024, lr=1e-3, warmup_steps=300, label_smoothing=0.1, precision="bf16"
        )
    )
    translation_seconds: float = 420.0  # training time per model, the winning probe's included
    translation_points: int = 4
    translation_lrs: tuple[float, ...] = (1e-3, 3e-3)  # candidates, probed per model
    translation_probe_seconds: float = 90.0  # most of the warmup; before the first kept point
    vocab_size: int = 8000
    eval_sentences: int = 500  # test sentences scored at every point
    bucket_sentences: int = 2000  # test sentences scored per length bucket (final weights)

    def __post_init__(self) -> None:
        first_point = self.translation_seconds / max(self.translation_points, 1)
        if len(self.translation_lrs) > 1 and self.translation_probe_seconds >= first_point:
            raise ValueError(
                f"translation_probe_seconds ({self.translation_probe_seconds:g}) must be shorter "
                f"than the first kept point (translation_seconds / translation_points = "
                f"{first_point:g})"
            )

    @property
    def translation_probe(self) -> Probe:
        return Probe(self.translation_lrs, seconds=self.translation_probe_seconds)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class StudyResults:
    settings: StudySettings
    hardware: dict[str, Any]
    parameters: dict[str, dict[str, int]] = field(default_factory=dict)
    lstm_width: dict[str, int] = field(default_factory=dict)
    long_range: list[LengthScore] = field(default_factory=list)
    long_range_training: list[dict[str, Any]] = field(default_factory=list)
    speed: list[SpeedRow] = field(default_factory=list)
    quality: list[QualityPoint] = field(default_factory=list)
    translation_lr: dict[str, dict[str, Any]] = field(default_factory=dict)  # per model
    buckets: list[BucketScore] = field(default_factory=list)
    minutes: float = 0.0  # the whole study's wall-clock time
    command: str = ""  # the command line that measured these numbers


def hardware() -> dict[str, Any]:
    """CPU model, core and thread counts, versions and the load when the study started."""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        lscpu = ""
    fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
    return {
        "cpu": fields.get("Model name", platform.processor() or "unknown").strip(),
        "logical_cpus": os.cpu_count(),
        "threads_per_core": fields.get("Thread(s) per core", "?").strip(),
        "cores_per_socket": fields.get("Core(s) per socket", "?").strip(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def model_pair(architecture: Architecture, vocab_size: int) -> dict[str, ArchitectureConfig]:
    transformer = architecture.transformer(vocab_size)
    return {"transformer": transformer, "lstm": matched_lstm(transformer)}


def fresh_model(config: ArchitectureConfig, seed: int) -> Any:
    torch.manual_seed(seed)
    return build_model(config)


def run_long_range(
    settings: StudySettings, results: StudyResults, work: Path, report: Report
) -> None:
    torch.set_num_threads(1)
    for name in settings.tasks:
        task = SyntheticTask(name)
        configs = model_pair(settings.synthetic_model, task.vocab_size)
        _record_sizes(results, "synthetic", configs)
        for label, config in configs.items():
            session, probe = train_on_task(
                lambda config=config: fresh_model(config, settings.synthetic_training.seed),
                task,
                settings.long_range,
                settings.synthetic_training,
                work / name / label,
            )
            progress = session.progress
            scores = accuracy_by_length(session.model, label, task, settings.long_range)
            results.long_range.extend(scores)
            results.long_range_training.append(
                {
                    "task": name,
                    "model": label,
                    "lr": probe.lr,
                    "probe_losses": [list(pair) for pair in probe.losses],
                    "updates": progress.updates,
                    "seconds": round(progress.seconds, 1),
                    "tokens_per_second": round(progress.tokens_per_second),
                    "final_loss": round(progress.recent_loss, 3),
                }
            )
            report(
                f"long-range {name} {label}: lr {probe.lr:g}, {progress.updates} updates in "
                f"{progress.seconds:.0f}s; "
                + f"loss {progress.recent_loss:.3f}; token accuracy "
                + ", ".join(f"L{s.length} {s.token_accuracy:.2f}" for s in scores)
            )


def run_speed(settings: StudySettings, results: StudyResults, report: Report) -> None:
    configs = model_pair(settings.translation_model, SyntheticTask("copy").vocab_size)
    _record_sizes(results, "speed", configs)
    training = dataclasses.replace(
        settings.translation_training, max_tokens=settings.speed_max_tokens
    )
    for threads in settings.speed_threads:
        for length in settings.speed_lengths:
            for label, config in configs.items():
                row = epoch_speed(
                    lambda config=config: fresh_model(config, training.seed),
                    label,
                    length,
                    sentences=settings.speed_sentences,
                    threads=threads,
                    training=training,
                )
                results.speed.append(row)
                speed = f"{row.tokens_per_second:,.0f} tok/s, epoch {row.epoch_seconds:.1f}s"
                report(f"speed {label} threads={threads} L={length}: {speed}")
    torch.set_num_threads(1)


def run_translation(
    settings: StudySettings, splits: Splits, results: StudyResults, work: Path, report: Report
) -> None:
    torch.set_num_threads(1)
    tokenizer = Tokenizer.train(
        splits.train,
        work / "tokenizer",
        vocab_size=settings.vocab_size,
        joint=True,
        report=lambda _: None,
    )
    corpus = EncodedCorpus.from_pairs(tokenizer, splits.train, 128)
    configs = model_pair(settings.translation_model, tokenizer.target_vocab_size)
    _record_sizes(results, "translation", configs)
    test = list(splits.test)
    for label, config in configs.items():
        trained = train_with_snapshots(
            lambda config=config: fresh_model(config, settings.translation_training.seed),
            corpus,
            settings.translation_training,
            work / label,
            seconds=settings.translation_seconds,
            points=settings.translation_points,
            probe=settings.translation_probe,
        )
        results.translation_lr[label] = {
            "lr": trained.probe.lr,
            "probe_losses": [list(pair) for pair in trained.probe.losses],
        }
        points = score_snapshots(
            label, trained.model, tokenizer, trained.snapshots, test[: settings.eval_sentences]
        )
        results.quality.extend(points)
        results.buckets.extend(
            length_buckets(label, trained.model, tokenizer, test[: settings.bucket_sentences])
        )
        report(
            f"translation {label} (lr {trained.probe.lr:g}): "
            + ", ".join(f"{p.minutes:.1f} min BLEU {p.bleu:.1f}" for p in points)
        )


def run_study(
    settings: StudySettings,
    splits: Splits,
    work: Path,
    report: Report = print,
    after_part: Callable[[StudyResults], None] | None = None,
) -> StudyResults:
    """All three experiments; ``splits`` is the translation data (train and test).

    ``after_part`` is called with the results so far after each experiment (e.g. to save them,
    so that a failure in a later part does not lose an hour of measurements).
    """
    started = time.perf_counter()
    results = StudyResults(settings=settings, hardware=hardware())
    for part in (
        lambda: run_long_range(settings, results, work / "long-range", report),
        lambda: run_speed(settings, results, report),
        lambda: run_translation(settings, splits, results, work / "translation", report),
    ):
        part()
        if after_part is not None:
            after_part(results)
    results.minutes = (time.perf_counter() - started) / 60
    results.hardware["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def _record_sizes(results: StudyResults, name: str, configs: dict[str, ArchitectureConfig]) -> None:
    results.parameters[name] = {
        label: parameter_count(build_model(config)) for label, config in configs.items()
    }
    results.lstm_width[name] = configs["lstm"].d_model
