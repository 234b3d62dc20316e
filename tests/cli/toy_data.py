"""A deterministic toy English -> Chinese language, its files, a tiny config and a trained run.

Every English word maps to one Chinese character and sentences translate word by word, so the
mapping is learnable; the 60-step session run learns part of it (validation accuracy ~0.4), which
is all the mechanics need. Shared by the CLI tests and the Translator tests
(``from cli.toy_data import ...``); the trained run is made once per test session.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from click.testing import CliRunner, Result

from transformer_mt.cli.main import cli

WORDS = {
    "i": "我", "you": "你", "he": "他", "she": "她", "we": "们", "they": "众",
    "like": "喜", "drink": "喝", "eat": "吃", "see": "看", "have": "有", "want": "要",
    "read": "读", "go": "去", "come": "来", "tea": "茶", "water": "水", "rice": "饭",
    "fish": "鱼", "cat": "猫", "dog": "狗", "bird": "鸟", "house": "房", "car": "车",
    "book": "书", "home": "家", "school": "校", "sun": "日", "big": "大", "small": "小",
    "red": "红", "green": "绿", "good": "好", "new": "新", "old": "旧", "today": "今",
    "now": "现", "very": "很", "not": "不", "and": "和",
}  # fmt: skip


def toy_pairs(count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` sentence pairs of 3-6 words, the same for the same seed."""
    rng = random.Random(seed)
    vocabulary = sorted(WORDS)
    pairs = []
    for _ in range(count):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(3, 6))]
        pairs.append((" ".join(words), "".join(WORDS[word] for word in words)))
    return pairs


def write_tsv(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{source}\t{target}\n" for source, target in pairs), encoding="utf-8")
    return path


def write_parallel(prefix: Path, pairs: list[tuple[str, str]]) -> tuple[Path, Path]:
    """``prefix.en`` and ``prefix.zh``, line-aligned."""
    source, target = prefix.with_suffix(".en"), prefix.with_suffix(".zh")
    source.write_text("".join(s + "\n" for s, _ in pairs), encoding="utf-8")
    target.write_text("".join(t + "\n" for _, t in pairs), encoding="utf-8")
    return source, target


def write_corpus(directory: Path) -> dict[str, Path]:
    """train.tsv (300 pairs), valid.en/.zh and test.tsv + test.en/.zh (30 pairs each)."""
    directory.mkdir(parents=True, exist_ok=True)
    valid, test = toy_pairs(30, seed=1), toy_pairs(30, seed=2)
    valid_en, valid_zh = write_parallel(directory / "valid", valid)
    test_en, test_zh = write_parallel(directory / "test", test)
    return {
        "train": write_tsv(directory / "train.tsv", toy_pairs(300, seed=0)),
        "valid_en": valid_en,
        "valid_zh": valid_zh,
        "test": write_tsv(directory / "test.tsv", test),
        "test_en": test_en,
        "test_zh": test_zh,
    }


def toy_config(corpus: dict[str, Path], run_dir: Path) -> dict[str, Any]:
    """A config small enough to train in a few seconds on one CPU thread."""
    return {
        "run_dir": str(run_dir),
        "data": {
            "dataset": None,
            "train": str(corpus["train"]),
            "valid": [str(corpus["valid_en"]), str(corpus["valid_zh"])],
            "test": str(corpus["test"]),
            "vocab_size": 360,  # byte fallback alone takes 256 pieces
            "max_length": 32,
        },
        "model": {
            "d_model": 32,
            "num_heads": 2,
            "num_encoder_layers": 1,
            "num_decoder_layers": 1,
            "d_ff": 64,
            "dropout": 0.0,
            "max_positions": 64,  # so that a long line is truncated quickly
            "init": "xavier",  # at width 32, N(0, 0.02) learns too slowly for 60 steps
        },
        "training": {
            "max_steps": 60,
            "max_tokens": 1024,
            "lr": 0.01,
            "warmup_steps": 10,
            "precision": "fp32",
            "device": "cpu",
            "threads": 1,
            "seed": 1,
            "validate_every": 20,
            "bleu_every": 40,
            "bleu_sentences": 20,
            "log_every": 10,
        },
    }


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def invoke(args: list[str], stdin: bytes | str | None = None) -> Result:
    """Run ``transformer-mt ARGS`` in-process; stdout and stderr are kept apart.

    ``train`` sets the process's torch thread count (``training.threads``); it is restored so
    that other tests run as they would alone.
    """
    threads = torch.get_num_threads()
    try:
        return CliRunner().invoke(cli, args, input=stdin, catch_exceptions=True)
    finally:
        torch.set_num_threads(threads)


def assert_user_error(result: Result, *fragments: str) -> str:
    """Exit status 2 and exactly one line ``error: ...`` on stderr naming ``fragments``."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert result.stdout == ""
    return lines[0]


@dataclass(frozen=True)
class ToyRun:
    """A trained toy run: its directory, data files, config file and training log (stderr)."""

    run_dir: Path
    corpus: dict[str, Path]
    config: dict[str, Any]
    train_stderr: str


_SESSION: list[ToyRun] = []


def trained_toy_run(tmp_path_factory: pytest.TempPathFactory) -> ToyRun:
    """A toy model trained once per session through ``transformer-mt train``."""
    if not _SESSION:
        base = tmp_path_factory.mktemp("toy-run")
        corpus = write_corpus(base / "data")
        config = toy_config(corpus, base / "run")
        result = invoke(["train", str(write_config(base / "toy.yaml", config))])
        assert result.exit_code == 0, (result.stderr, result.exception)
        _SESSION.append(ToyRun(base / "run", corpus, config, result.stderr))
    return _SESSION[0]
