"""``transformer-mt train CONFIG --init-from RUN_DIR``: fine-tuning a trained or imported run.

The new domain is the toy language with the words of another seed's sentences; the parent is
the session's toy run (or an imported MarianMT model).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cli.toy_data import (
    assert_user_error,
    invoke,
    toy_config,
    toy_pairs,
    trained_toy_run,
    write_config,
    write_corpus,
    write_tsv,
)
from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.commands.finetune import fallback_share
from transformer_mt.data.tokenizer import Tokenizer


def _fine_tune_config(base: Path, parent: Path, **training: Any) -> dict[str, Any]:
    """A config on new data (other sentences) that leaves the model section out."""
    corpus = write_corpus(base / "data")
    write_tsv(corpus["train"], toy_pairs(200, seed=11))
    config = toy_config(corpus, base / "run")
    del config["model"]
    del config["data"]["vocab_size"]
    config["training"] |= {"max_steps": 4, "validate_every": 2, "bleu_every": 4, **training}
    config["data"]["extra_valid"] = {"old": [str(p) for p in _old_valid(parent)]}
    return config


def _old_valid(parent: Path) -> list[str]:
    config = RunDir(parent).read_config()
    return list(config.data.valid or [])


@pytest.fixture(scope="module")
def parent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_toy_run(tmp_path_factory).run_dir


def _train(base: Path, config: dict[str, Any], *args: str) -> Any:
    return invoke(["train", str(write_config(base / "ft.yaml", config)), *args])


def test_fine_tuning_starts_from_the_parent(parent: Path, tmp_path: Path) -> None:
    config = _fine_tune_config(tmp_path, parent, lr=1e-9, warmup_steps=0)
    result = _train(tmp_path, config, "--init-from", str(parent))
    assert result.exit_code == 0, (result.stderr, result.exception)
    run = RunDir(tmp_path / "run")
    # The tokenizer and the architecture are the parent's (model: was left out of the config).
    assert Tokenizer.load(run.tokenizer_dir) == Tokenizer.load(RunDir(parent).tokenizer_dir)
    assert run.read_model_config() == RunDir(parent).read_model_config()
    assert "tokenizer (reused):" in result.stderr
    assert "fine-tuning: starting from" in result.stderr
    # With a learning rate of 1e-9 the weights stay the parent's.
    ours, theirs = load_file(run.require_weights()), load_file(RunDir(parent).require_weights())
    for name, tensor in theirs.items():
        torch.testing.assert_close(ours[name], tensor, rtol=0, atol=1e-6)
    # The old domain is validated too (forgetting), next to the new one.
    records = [json.loads(line) for line in run.metrics.read_text().splitlines()]
    assert any("valid_bleu/old" in r and "valid_chrf/old" in r for r in records)
    assert RunDir(tmp_path / "run").read_config().training.init_from == str(parent.resolve())


def test_freezing_the_encoder_keeps_its_weights(parent: Path, tmp_path: Path) -> None:
    config = _fine_tune_config(tmp_path, parent, lr=0.01, freeze=["encoder", "embeddings"])
    result = _train(tmp_path, config, "--init-from", str(parent))
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "encoder, embeddings frozen" in result.stderr
    ours = load_file(RunDir(tmp_path / "run").last_weights)
    theirs = load_file(RunDir(parent).require_weights())
    changed = {name for name, tensor in theirs.items() if not torch.equal(ours[name], tensor)}
    assert changed, "nothing trained"
    assert all(name.startswith("decoder_layers.") for name in changed), sorted(changed)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("model.d_model=64", "model.d_model"),
        ("model.num_encoder_layers=2", "model.num_encoder_layers"),
    ],
)
def test_a_contradicting_model_field_is_a_one_line_error(
    parent: Path, tmp_path: Path, override: str, field: str
) -> None:
    config = _fine_tune_config(tmp_path, parent)
    result = _train(tmp_path, config, "--init-from", str(parent), "--set", override)
    assert_user_error(result, field, "--init-from")
    assert not (tmp_path / "run").exists()


def test_dropout_may_change(parent: Path, tmp_path: Path) -> None:
    config = _fine_tune_config(tmp_path, parent)
    result = _train(tmp_path, config, "--init-from", str(parent), "--set", "model.dropout=0.3")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert RunDir(tmp_path / "run").read_model_config().dropout == 0.3


def test_another_tokenizer_is_refused(parent: Path, tmp_path: Path) -> None:
    config = _fine_tune_config(tmp_path, parent)
    config["data"]["tokenizer"] = str(tmp_path)
    result = _train(tmp_path, config, "--init-from", str(parent))
    assert_user_error(result, "data.tokenizer")


def test_a_missing_parent_is_a_one_line_error(parent: Path, tmp_path: Path) -> None:
    config = _fine_tune_config(tmp_path, parent)
    result = _train(tmp_path, config, "--init-from", str(tmp_path / "nowhere"))
    assert_user_error(result, "not a run directory")


def test_data_tokenizer_reuses_a_run_tokenizer_without_init_from(
    parent: Path, tmp_path: Path
) -> None:
    config = _fine_tune_config(tmp_path, parent)
    config["model"] = toy_config(write_corpus(tmp_path / "c"), tmp_path)["model"]
    config["data"]["tokenizer"] = str(parent)
    result = _train(tmp_path, config)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert Tokenizer.load(RunDir(tmp_path / "run").tokenizer_dir) == Tokenizer.load(
        RunDir(parent).tokenizer_dir
    )


def test_data_tokenizer_takes_sentencepiece_model_files(parent: Path, tmp_path: Path) -> None:
    config = _fine_tune_config(tmp_path, parent)
    config["model"] = toy_config(write_corpus(tmp_path / "c"), tmp_path)["model"]
    config["data"]["tokenizer"] = str(RunDir(parent).tokenizer_dir / "spm.model")
    result = _train(tmp_path, config)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert Tokenizer.load(RunDir(tmp_path / "run").tokenizer_dir) == Tokenizer.load(
        RunDir(parent).tokenizer_dir
    )
    config["data"]["tokenizer"] = [str(tmp_path / "missing.model"), str(tmp_path / "b.model")]
    assert_user_error(_train(tmp_path, config, "--overwrite"), "missing.model", "no such file")


def test_a_fine_tuned_run_resumes(parent: Path, tmp_path: Path) -> None:
    config = _fine_tune_config(tmp_path, parent, freeze=["encoder"], checkpoint_every=2)
    assert _train(tmp_path, config, "--init-from", str(parent)).exit_code == 0
    run = str(tmp_path / "run")
    result = invoke(["train", "--resume", run, "--set", "training.max_steps=6"])
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "resuming" in result.stderr and "encoder frozen" in result.stderr


@pytest.mark.parametrize("chunk", [1, 3, 1 << 22])
def test_fallback_share_counts_listed_ids_chunk_by_chunk(chunk: int) -> None:
    ids = np.random.default_rng(0).integers(0, 50, size=1001).astype(np.uint16)  # (T,)
    fallback = [3, 7, 49, 60]  # 60: a listed id the data never uses
    expected = float(np.isin(ids, fallback).mean())
    assert fallback_share(ids, fallback, chunk=chunk) == pytest.approx(expected)
    assert fallback_share(ids[:0], fallback) == 0.0
    assert fallback_share(ids, []) == 0.0
