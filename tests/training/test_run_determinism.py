"""``training.run.train``: the same config and seed give the same run, bit for bit."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_runs import raw_config, records, run_training, write_data


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_data(tmp_path_factory.mktemp("determinism-data"))


def run_once(data: dict[str, str], run_dir: Path, seed: int) -> tuple[list[dict], bytes]:
    run_training(raw_config(run_dir, data, seed=seed))
    return records(run_dir), (run_dir / "last.safetensors").read_bytes()


def test_same_seed_same_losses_and_weights(data: dict[str, str], tmp_path: Path) -> None:
    first, first_weights = run_once(data, tmp_path / "a", seed=3)
    second, second_weights = run_once(data, tmp_path / "b", seed=3)
    losses = [r["loss"] for r in first if r["kind"] == "train"]
    assert len(losses) == 12
    assert first == second  # every logged loss, lr, step and validation score
    assert first_weights == second_weights

    other, _ = run_once(data, tmp_path / "c", seed=4)
    assert [r["loss"] for r in other if r["kind"] == "train"] != losses  # the seed matters
