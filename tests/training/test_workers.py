"""Data-parallel training with torchrun: 2 CPU workers (gloo) train exactly like 1 process that
accumulates the same 2 batches per update; accumulation equals one big batch."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from training_runs import raw_config, run_training, train_losses, write_data

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.artifacts.weights import load_weights
from transformer_mt.config import TrainingConfig
from transformer_mt.model import Transformer, TransformerConfig
from transformer_mt.training.encoded import EncodedCorpus
from transformer_mt.training.trainer import Trainer


def no_dropout(config: dict) -> dict:
    config["model"]["dropout"] = 0.0  # workers draw their own dropout masks
    return config


def test_two_workers_match_one_process_with_the_same_global_batch(tmp_path: Path) -> None:
    data = write_data(tmp_path / "data")
    run_training(no_dropout(raw_config(tmp_path / "one", data, max_steps=6, accumulate=2)))

    config_file = tmp_path / "two.yaml"
    config_file.write_text(
        yaml.safe_dump(no_dropout(raw_config(tmp_path / "two", data, max_steps=6)))
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
    ]
    command += ["-m", "transformer_mt", "train", str(config_file)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "2 worker(s)" in finished.stderr

    one, two = train_losses(tmp_path / "one"), train_losses(tmp_path / "two")
    assert [step for step, _ in two] == list(range(1, 7))
    assert [loss for _, loss in two] == pytest.approx([loss for _, loss in one], rel=1e-5)
    model_config = RunDir(tmp_path / "one").read_model_config()
    weights = []
    for name in ("one", "two"):
        model = Transformer(model_config)
        load_weights(model, tmp_path / name / "last.safetensors")
        weights.append(model.state_dict())
    for key, value in weights[0].items():
        torch.testing.assert_close(weights[1][key], value, rtol=1e-4, atol=1e-5)


def test_accumulated_batches_update_like_one_batch_holding_them(tmp_path: Path) -> None:
    rng = random.Random(0)
    sequences = [[rng.randrange(4, 24) for _ in range(rng.randint(1, 6))] for _ in range(40)]
    data = EncodedCorpus(sequences, sequences)
    config = TransformerConfig(
        src_vocab_size=24, tgt_vocab_size=24, d_model=16, num_heads=2, num_encoder_layers=1,
        num_decoder_layers=1, d_ff=32, dropout=0.0, max_positions=32,
    )  # fmt: skip
    models = []
    for group in ([list(range(0, 20)), list(range(20, 40))], [list(range(40))]):
        torch.manual_seed(0)
        model = Transformer(config)
        trainer = Trainer(
            model,
            data,
            data,
            TrainingConfig(max_steps=1, precision="fp32", device="cpu"),
            run=RunDir(tmp_path),
            bleu=lambda sources, references: (0.0, 0.0),
            valid_pairs=[],
            device=torch.device("cpu"),
            report=lambda _: None,
        )
        result = trainer.update(group)
        assert result.tokens == sum(len(s) + 1 for s in sequences)
        models.append(model)
    for mine, theirs in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)
