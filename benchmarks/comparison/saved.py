"""The study's numbers as JSON (``docs/transformer-vs-lstm.json``) and back.

Reading them back lets the report be rendered again from a finished run
(``benchmarks/transformer_vs_lstm.py --from-json``) without repeating the measurements.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from comparison.long_range import LengthScore, LongRangeSettings
from comparison.study import Architecture, StudyResults, StudySettings
from comparison.throughput import SpeedRow
from comparison.translation import BucketScore, QualityPoint
from transformer_mt.config import TrainingConfig
from transformer_mt.errors import UserError


def to_json(results: StudyResults) -> dict[str, Any]:
    return {
        "settings": results.settings.to_dict(),
        "hardware": results.hardware,
        "parameters": results.parameters,
        "lstm_width": results.lstm_width,
        "long_range": [s.to_dict() for s in results.long_range],
        "long_range_training": results.long_range_training,
        "speed": [r.to_dict() for r in results.speed],
        "quality": [p.to_dict() for p in results.quality],
        "translation_lr": results.translation_lr,
        "buckets": [b.to_dict() for b in results.buckets],
        "minutes": results.minutes,  # unrounded: a reloaded report must round it the same way
        "command": results.command,
    }


def from_json(data: dict[str, Any]) -> StudyResults:
    """Inverse of :func:`to_json`."""
    return StudyResults(
        settings=_settings(data["settings"]),
        hardware=data["hardware"],
        parameters=data["parameters"],
        lstm_width=data["lstm_width"],
        long_range=[LengthScore(**row) for row in data["long_range"]],
        long_range_training=data["long_range_training"],
        speed=[SpeedRow(**row) for row in data["speed"]],
        quality=[QualityPoint(**row) for row in data["quality"]],
        translation_lr=data.get("translation_lr", {}),
        buckets=[BucketScore(**row) for row in data["buckets"]],
        minutes=data["minutes"],
        command=data.get("command", "python benchmarks/transformer_vs_lstm.py"),
    )


def load_results(path: Path) -> StudyResults:
    try:
        return from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"{path}: not a saved study ({error})") from None


def _settings(values: dict[str, Any]) -> StudySettings:
    long_range = dict(values["long_range"])
    long_range["eval_lengths"] = tuple(long_range["eval_lengths"])
    long_range["lrs"] = tuple(long_range.get("lrs", (values["synthetic_training"]["lr"],)))
    return StudySettings(
        **{
            **values,
            "tasks": tuple(values["tasks"]),
            "speed_lengths": tuple(values["speed_lengths"]),
            "speed_threads": tuple(values["speed_threads"]),
            "translation_lrs": tuple(
                values.get("translation_lrs", (values["translation_training"]["lr"],))
            ),
            "long_range": LongRangeSettings(**long_range),
            "synthetic_model": Architecture(**values["synthetic_model"]),
            "translation_model": Architecture(**values["translation_model"]),
            "synthetic_training": _training(values["synthetic_training"]),
            "translation_training": _training(values["translation_training"]),
        }
    )


def _training(values: dict[str, Any]) -> TrainingConfig:
    return TrainingConfig(**{**values, "adam_betas": tuple(values["adam_betas"])})
