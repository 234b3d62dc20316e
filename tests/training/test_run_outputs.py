"""What a run leaves behind: best and last-k checkpoints, early stopping, checkpoint averages,
CSV and TensorBoard logs, and the training-curve plot."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from training_runs import raw_config, records, run_training, write_data

from transformer_mt.cli.main import cli
from transformer_mt.commands import train as train_command
from transformer_mt.config import TrainingConfig
from transformer_mt.training.checkpoint_average import average_weights, read_model_weights
from transformer_mt.training.plot import curves
from transformer_mt.training.snapshot import list_checkpoints


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_data(tmp_path_factory.mktemp("outputs-data"))


@pytest.fixture(scope="module")
def run(data: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 steps, a checkpoint every 2, the last 3 kept, validation loss picks the best."""
    run_dir = tmp_path_factory.mktemp("outputs") / "run"
    options = {"max_steps": 10, "checkpoint_every": 2, "keep_last": 3, "validate_every": 2}
    options |= {"best_metric": "valid_loss", "tensorboard": True, "log_every": 1}
    run_training(raw_config(run_dir, data, **options))
    return run_dir


def test_keeps_the_last_k_checkpoints_and_the_best_weights(run: Path) -> None:
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == [
        f"step-{step:08d}.safetensors" for step in (6, 8, 10)
    ]
    valid = records(run, "valid")
    best = min(valid, key=lambda r: r["valid_loss"])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best_metric"] == "valid_loss"
    assert (summary["best_step"], summary["best_score"]) == (best["step"], best["valid_loss"])
    checkpoint = read_model_weights(list_checkpoints(run / "checkpoints")[-1])
    assert read_model_weights(run / "last.safetensors").keys() == checkpoint.keys()
    assert 0.0 < summary["padding_fraction"] < 0.5


def test_early_stopping_after_patience_checks_without_improvement(
    data: dict[str, str], tmp_path: Path
) -> None:
    # A learning rate of 1e-12 leaves the weights (so the validation loss) as they are.
    options = {"max_steps": 50, "validate_every": 2, "best_metric": "valid_loss", "patience": 3}
    options |= {"lr": 1e-12, "warmup_steps": 0}
    state = run_training(raw_config(tmp_path / "run", data, **options))
    assert state.stopped_early
    checks = [r["step"] for r in records(tmp_path / "run", "valid")]
    # The first check sets the best; 3 more without improvement stop the run at step 8.
    assert state.step == 8 and checks[:4] == [2, 4, 6, 8]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["stopped_early"]


def test_average_is_the_mean_of_the_checkpoints(run: Path) -> None:
    paths = list_checkpoints(run / "checkpoints")
    result = CliRunner().invoke(cli, ["average", str(run), "--last", "2"])
    assert result.exit_code == 0, result.output
    averaged = read_model_weights(run / "averaged.safetensors")
    first, second = (read_model_weights(p) for p in paths[-2:])
    for name, tensor in averaged.items():
        torch.testing.assert_close(tensor, (first[name] + second[name]) / 2)
    assert average_weights(paths[-1:]).keys() == averaged.keys()
    translated = CliRunner().invoke(
        cli,
        ["translate", str(run), "--weights", str(run / "averaged.safetensors"), "--beam-size", "1"],
        input="red cat\n",
    )
    assert translated.exit_code == 0, translated.output


def test_csv_and_tensorboard_hold_the_logged_metrics(run: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logged = records(run)
    with (run / "metrics.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["kind"], int(r["step"])) for r in rows] == [(r["kind"], r["step"]) for r in logged]
    train = [r for r in logged if r["kind"] == "train"]
    assert [float(r["loss"]) for r in rows if r["kind"] == "train"] == pytest.approx(
        [r["loss"] for r in train]
    )
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == [r["step"] for r in train]
    assert [e.value for e in losses] == pytest.approx([r["loss"] for r in train], rel=1e-6)
    assert [e.step for e in events.Scalars("valid_loss")] == [2, 4, 6, 8, 10]


def test_plot_draws_the_logged_curves(run: Path, tmp_path: Path) -> None:
    series = curves(records(run))
    assert series["loss"][1] == [r["loss"] for r in records(run, "train")]
    assert series["valid_loss"][0] == [2, 4, 6, 8, 10]
    output = tmp_path / "curves.png"
    result = CliRunner().invoke(cli, ["plot", str(run), "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fp16_with_loss_scaling_trains(data: dict[str, str], tmp_path: Path) -> None:
    state = run_training(raw_config(tmp_path / "run", data, max_steps=4, precision="fp16"))
    losses = [r["loss"] for r in records(tmp_path / "run", "train")]
    assert state.step == 4 and all(0 < loss < 20 for loss in losses)


@pytest.mark.parametrize("fast", [True, False])
def test_bf16_on_a_cpu_without_fast_bf16_trains_in_fp32_with_a_warning(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train_command, "fast_bf16_cpu", lambda: fast)
    reports: list[str] = []
    training = TrainingConfig(max_steps=1, precision="bf16")
    chosen = train_command.precision_for(training, torch.device("cpu"), reports.append)
    assert chosen.precision == ("bf16" if fast else "fp32")
    assert bool(reports) == (not fast)
    fp32 = dataclasses.replace(training, precision="fp32")
    assert train_command.precision_for(fp32, torch.device("cpu"), reports.append) == fp32
