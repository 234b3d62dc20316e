"""Tiny end-to-end training runs on a toy language, for the resume, worker and logging tests."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import torch

from transformer_mt.commands.train import train
from transformer_mt.config import ExperimentConfig, config_from_dict
from transformer_mt.training.state import TrainState

WORDS = ["red", "green", "blue", "cat", "dog", "bird", "see", "like", "big", "small", "one"]
TIMING = ("elapsed_s", "tokens_per_s")  # wall-clock measurements differ from run to run


def write_pairs(path: Path, count: int, seed: int) -> str:
    """Toy pairs: the target is the source upper-cased in reverse word order."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 5))]
        rows.append(f"{' '.join(words)}\t{' '.join(w.upper() for w in reversed(words))}\n")
    path.write_text("".join(rows), encoding="utf-8")
    return str(path)


def write_data(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    return {
        "train": write_pairs(directory / "train.tsv", 200, seed=0),
        "valid": write_pairs(directory / "valid.tsv", 20, seed=1),
    }


def raw_config(run_dir: Path, data: dict[str, str], **training: Any) -> dict[str, Any]:
    """A 1+1-layer, D=16 model on the toy data; keyword arguments override training fields."""
    return {
        "run_dir": str(run_dir),
        "data": {"dataset": None, **data, "vocab_size": 300},
        "model": {
            "d_model": 16,
            "num_heads": 2,
            "num_encoder_layers": 1,
            "num_decoder_layers": 1,
            "d_ff": 32,
            "dropout": 0.1,
        },
        "training": {
            "max_steps": 12,
            "max_tokens": 256,
            "warmup_steps": 4,
            "precision": "fp32",
            "device": "cpu",
            "threads": 1,
            "log_every": 1,
            "validate_every": 6,
            "bleu_every": 0,
            "bleu_sentences": 5,
            "tensorboard": False,
            **training,
        },
    }


def run_training(config: ExperimentConfig | dict[str, Any], **options: Any) -> TrainState:
    """``train`` without output, restoring the thread count it sets for the whole process."""
    if isinstance(config, dict):
        config = config_from_dict(config)
    threads = torch.get_num_threads()
    try:
        return train(config, report=lambda _: None, **options)
    finally:
        torch.set_num_threads(threads)


def records(run_dir: Path, kind: str | None = None) -> list[dict[str, Any]]:
    """The run's metrics.jsonl records without timings (optionally only one kind)."""
    found = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        for key in TIMING:
            record.pop(key, None)
        if kind is None or record["kind"] == kind:
            found.append(record)
    return found


def train_losses(run_dir: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in records(run_dir, "train")]
