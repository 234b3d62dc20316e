"""Exact resume: a run stopped and resumed gives the same per-step losses and weights as an
uninterrupted one; checkpoints survive ``kill -9``; a mismatching config is a clear error."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from training_runs import raw_config, records, run_training, train_losses, write_data

from transformer_mt.commands.train import train
from transformer_mt.config import config_from_dict
from transformer_mt.errors import UserError
from transformer_mt.training.resume import resume_config
from transformer_mt.training.snapshot import list_checkpoints, load_snapshot


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_data(tmp_path_factory.mktemp("resume-data"))


@pytest.mark.parametrize("accumulate", [1, 2])
def test_stopped_and_resumed_equals_uninterrupted(
    data: dict[str, str], tmp_path: Path, accumulate: int
) -> None:
    # 200 pairs in ~8 batches of 256 tokens: 14 updates cross epoch boundaries (and, with
    # accumulation, an update takes its batches from two epochs); dropout is on, so the torch
    # random stream must be restored too.
    options = {"max_steps": 14, "checkpoint_every": 5, "accumulate": accumulate}
    run_training(raw_config(tmp_path / "whole", data, **options))
    run_training(raw_config(tmp_path / "split", data, **{**options, "max_steps": 7}))
    assert [p.name for p in list_checkpoints(tmp_path / "split" / "checkpoints")] == [
        "step-00000005.safetensors",
        "step-00000007.safetensors",
    ]
    resumed = resume_config(tmp_path / "split", None, ["training.max_steps=14"])
    state = run_training(resumed, resume=True)
    assert state.step == 14
    assert state.epoch > 1
    assert train_losses(tmp_path / "split") == train_losses(tmp_path / "whole")
    whole = (tmp_path / "whole" / "last.safetensors").read_bytes()
    assert (tmp_path / "split" / "last.safetensors").read_bytes() == whole
    # The resumed run's log has each step once (nothing duplicated from the first part).
    steps = [r["step"] for r in records(tmp_path / "split", "train")]
    assert steps == list(range(1, 15))


def test_resume_restores_every_part_of_the_checkpoint(data: dict[str, str], tmp_path: Path) -> None:
    run_training(raw_config(tmp_path / "run", data, max_steps=6, checkpoint_every=3))
    snapshot = load_snapshot(list_checkpoints(tmp_path / "run" / "checkpoints")[-1])
    assert snapshot.step == 6
    assert snapshot.scheduler["last_epoch"] == 6  # the LR schedule moved with every update
    assert {int(v["step"]) for v in snapshot.optimizer["state"].values()} == {6}  # Adam's count
    assert "torch.0" in snapshot.rng
    assert snapshot.state["batch_in_epoch"] > 0 and snapshot.state["epoch_rng"] is not None


def start_training(tmp_path: Path, run_dir: Path, data: dict[str, str]) -> subprocess.Popen[str]:
    """``transformer-mt train`` in a child process, checkpointing every update, until killed."""
    config = raw_config(run_dir, data, max_steps=100_000, checkpoint_every=1, keep_last=3)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, "-m", "transformer_mt", "train", str(config_file)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_checkpoints(process: subprocess.Popen[str], run_dir: Path, count: int) -> None:
    deadline = time.monotonic() + 120
    while len(list_checkpoints(run_dir / "checkpoints")) < count:  # checkpoints keep coming
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)


def test_kill_9_leaves_a_loadable_checkpoint_to_resume_from(
    data: dict[str, str], tmp_path: Path
) -> None:
    run_dir = tmp_path / "killed"
    process = start_training(tmp_path, run_dir, data)
    try:
        wait_for_checkpoints(process, run_dir, 3)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    latest = list_checkpoints(run_dir / "checkpoints")[-1]
    step = load_snapshot(latest).step
    resumed = resume_config(run_dir, None, [f"training.max_steps={step + 2}"])
    assert run_training(resumed, resume=True).step == step + 2


def test_linear_schedule_resumes_exactly_within_its_budget(
    data: dict[str, str], tmp_path: Path
) -> None:
    # The linear decay depends on the share of max_steps used: a run resumed from its middle
    # checkpoint with the same budget retraces the uninterrupted one, learning rates included.
    options = {"max_steps": 14, "checkpoint_every": 7, "keep_last": 3, "schedule": "linear"}
    run_training(raw_config(tmp_path / "whole", data, **options))
    rates = [r["lr"] for r in records(tmp_path / "whole", "train")]
    assert rates[4:] == sorted(rates[4:], reverse=True)  # after the warmup: down ...
    assert rates[-1] < rates[3] / 10  # ... to almost nothing at the end of the budget
    shutil.copytree(tmp_path / "whole", tmp_path / "split")
    (tmp_path / "split" / "checkpoints" / "step-00000014.safetensors").unlink()
    state = run_training(resume_config(tmp_path / "split", None, []), resume=True)
    assert state.step == 14
    assert records(tmp_path / "split", "train") == records(tmp_path / "whole", "train")
    whole = (tmp_path / "whole" / "last.safetensors").read_bytes()
    assert (tmp_path / "split" / "last.safetensors").read_bytes() == whole


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_checkpoint_resumes_exactly_like_an_uninterrupted_run(
    data: dict[str, str], tmp_path: Path, stop_signal: signal.Signals
) -> None:
    # The signal lands at a random moment of an update (or of a checkpoint write); the run
    # finishes that update, checkpoints it and exits 130.
    run_dir = tmp_path / "interrupted"
    process = start_training(tmp_path, run_dir, data)
    try:
        wait_for_checkpoints(process, run_dir, 2)
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    step = load_snapshot(list_checkpoints(run_dir / "checkpoints")[-1]).step
    assert f"interrupted at step {step}; resume with --resume" in stderr
    assert not [p for p in (run_dir / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    resumed = resume_config(run_dir, None, [f"training.max_steps={step + 3}"])
    run_training(resumed, resume=True)
    whole = tmp_path / "whole"
    run_training(raw_config(whole, data, max_steps=step + 3, checkpoint_every=1, keep_last=3))
    assert train_losses(run_dir) == train_losses(whole)
    assert (run_dir / "last.safetensors").read_bytes() == (whole / "last.safetensors").read_bytes()


def test_resume_refuses_a_different_model_or_data(data: dict[str, str], tmp_path: Path) -> None:
    run_training(raw_config(tmp_path / "run", data, max_steps=3))
    other = raw_config(tmp_path / "run", data, max_steps=6)
    other["model"]["d_model"] = 32
    config_file = tmp_path / "other.yaml"
    config_file.write_text(yaml.safe_dump(other))
    with pytest.raises(UserError, match=r"different model\.d_model \(16 -> 32\)"):
        resume_config(tmp_path / "run", config_file)
    with pytest.raises(UserError, match="not a run directory"):
        resume_config(tmp_path / "nowhere", None)
    # Training settings may change: the same file with only training.* changed is accepted, and
    # so is another initialisation, which only chose the weights the checkpoint replaces.
    same = raw_config(tmp_path / "run", data, max_steps=6)
    same["model"] |= {"init": "xavier", "init_std": 0.5}
    config_file.write_text(yaml.safe_dump(same))
    assert resume_config(tmp_path / "run", config_file).training.max_steps == 6


def test_a_model_file_with_another_init_still_resumes(data: dict[str, str], tmp_path: Path) -> None:
    run_training(raw_config(tmp_path / "run", data, max_steps=3))
    model_file = tmp_path / "run" / "model.json"
    saved = json.loads(model_file.read_text())
    assert saved["init"] != "xavier"
    model_file.write_text(json.dumps(saved | {"init": "xavier", "init_std": 0.5}))
    resumed = resume_config(tmp_path / "run", None, ["training.max_steps=5"])
    assert run_training(resumed, resume=True).step == 5


def test_resume_refuses_a_run_whose_model_file_differs(
    data: dict[str, str], tmp_path: Path
) -> None:
    run_training(raw_config(tmp_path / "run", data, max_steps=3))
    model_file = tmp_path / "run" / "model.json"
    model_file.write_text(model_file.read_text().replace('"d_ff": 32', '"d_ff": 64'))
    with pytest.raises(UserError, match=r"model differs from the config: d_ff \(64 -> 32\)"):
        run_training(resume_config(tmp_path / "run", None), resume=True)


def test_resume_needs_a_checkpoint(data: dict[str, str], tmp_path: Path) -> None:
    run_training(raw_config(tmp_path / "run", data, max_steps=3))
    for path in list_checkpoints(tmp_path / "run" / "checkpoints"):
        path.unlink()
    config = config_from_dict(raw_config(tmp_path / "run", data, max_steps=6))
    with pytest.raises(UserError, match="no checkpoint to resume from"):
        run_training(config, resume=True)


def test_resume_removes_temporary_files_a_killed_write_left(
    data: dict[str, str], tmp_path: Path
) -> None:
    run_training(raw_config(tmp_path / "run", data, max_steps=3))
    stale = [
        tmp_path / "run" / ".last.safetensors.x81kq_2m.tmp",
        tmp_path / "run" / "checkpoints" / ".step-00000004.safetensors.0a9b7c6d.tmp",
    ]
    for path in stale:
        path.write_bytes(b"")  # what kill -9 during a write leaves
    messages: list[str] = []
    resumed = resume_config(tmp_path / "run", None, ["training.max_steps=4"])
    threads = torch.get_num_threads()
    try:
        train(resumed, resume=True, report=messages.append)
    finally:
        torch.set_num_threads(threads)
    assert not any(path.exists() for path in stale)
    assert "removed 2 unfinished temporary file(s) left by an interrupted write" in messages
