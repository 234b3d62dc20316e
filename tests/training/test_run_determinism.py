"""``training.run.train``: the same config and seed give the same run, bit for bit."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from transformer_mt.training.config import config_from_dict
from transformer_mt.training.run import train

WORDS = ["red", "green", "blue", "cat", "dog", "bird", "see", "like", "big", "small", "one"]


def write_pairs(path: Path, count: int, seed: int) -> str:
    """Toy pairs: the target is the source upper-cased in reverse word order."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 5))]
        rows.append(f"{' '.join(words)}\t{' '.join(w.upper() for w in reversed(words))}\n")
    path.write_text("".join(rows), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("determinism-data")
    return {
        "train": write_pairs(directory / "train.tsv", 200, seed=0),
        "valid": write_pairs(directory / "valid.tsv", 20, seed=1),
    }


def run_once(data: dict[str, str], run_dir: Path, seed: int) -> tuple[list[dict], bytes]:
    config = config_from_dict(
        {
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
                "seed": seed,
                "precision": "fp32",
                "device": "cpu",
                "threads": 1,
                "log_every": 1,
                "validate_every": 6,
                "bleu_every": 0,
                "bleu_sentences": 5,
            },
        }
    )
    threads = torch.get_num_threads()
    try:
        train(config, report=lambda _: None)
    finally:
        torch.set_num_threads(threads)  # training.threads applies to the whole process
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for record in records:  # wall-clock measurements differ from run to run
        for key in ("elapsed_s", "tokens_per_s"):
            record.pop(key)
    return records, (run_dir / "last.safetensors").read_bytes()


def test_same_seed_same_losses_and_weights(data: dict[str, str], tmp_path: Path) -> None:
    first, first_weights = run_once(data, tmp_path / "a", seed=3)
    second, second_weights = run_once(data, tmp_path / "b", seed=3)
    losses = [r["loss"] for r in first if r["kind"] == "train"]
    assert len(losses) == 12
    assert first == second  # every logged loss, lr, step and validation score
    assert first_weights == second_weights

    other, _ = run_once(data, tmp_path / "c", seed=4)
    assert [r["loss"] for r in other if r["kind"] == "train"] != losses  # the seed matters
