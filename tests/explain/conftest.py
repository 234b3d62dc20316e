"""The explain tests run on the session's trained toy run (see tests/cli/toy_data.py)."""

from __future__ import annotations

import pytest

from cli.toy_data import trained_toy_run
from transformer_mt.decoding.translator import Translator


@pytest.fixture(scope="session")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    return Translator.load(trained_toy_run(tmp_path_factory).run_dir)
