"""Fixtures of the CLI tests: the toy corpus, config files and a run trained once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cli.toy_data import ToyRun, toy_config, trained_toy_run, write_config, write_corpus


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> ToyRun:
    """The session's trained toy run (shared with tests/test_translator.py)."""
    return trained_toy_run(tmp_path_factory)


@pytest.fixture
def corpus(tmp_path: Path) -> dict[str, Path]:
    """A private copy of the toy corpus that a test may modify or replace."""
    return write_corpus(tmp_path / "data")


@pytest.fixture
def make_config(tmp_path: Path, corpus: dict[str, Path]) -> Callable[..., Path]:
    """Write a variant of the toy config on the private corpus: ``make_config(model={...})``.

    A section given as a keyword argument updates that section; ``run_dir`` is ``tmp_path/run``
    (not created) unless given.
    """

    def make(**changes: Any) -> Path:
        config = toy_config(corpus, tmp_path / "run")
        for key, value in changes.items():
            if isinstance(value, dict):
                config.setdefault(key, {}).update(value)
            else:
                config[key] = value
        return write_config(tmp_path / "config.yaml", config)

    return make
