"""Shared by the config loader's property and regression tests: a small valid config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# A small valid config (tiny model, own files) that the mutations start from.
BASE: dict[str, Any] = {
    "run_dir": "runs/property",
    "data": {"dataset": None, "train": "train.tsv", "valid": ["valid.en", "valid.zh"]},
    "model": {"d_model": 32, "num_heads": 2, "d_ff": 64, "max_positions": 64},
    "training": {"max_steps": 10, "max_epochs": 5},
    "evaluation": {"beam_size": 4},
}


def base_dict() -> dict[str, Any]:
    """A fresh deep copy of :data:`BASE`."""
    return yaml.safe_load(yaml.safe_dump(BASE))


def write(directory: Path, data: bytes) -> Path:
    path = directory / "config.yaml"
    path.write_bytes(data)
    return path
