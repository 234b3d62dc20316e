"""Fixtures of the server tests: the session's trained toy run behind a FastAPI test client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cli.toy_data import trained_toy_run
from serve.support import TEST_LIMITS
from transformer_mt.decoding.translator import Translator
from transformer_mt.serve.app import create_app


@pytest.fixture(scope="session")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    return Translator.load(trained_toy_run(tmp_path_factory).run_dir)


@pytest.fixture
def client(translator: Translator) -> Iterator[TestClient]:
    """A client of a fresh app (its own batcher and counters) on the toy model."""
    app = create_app(translator, limits=TEST_LIMITS, model_name="toy")
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def exploding(translator: Translator, monkeypatch: pytest.MonkeyPatch) -> Translator:
    """The translator, failing with a RuntimeError (a defect) on the sentence "boom"."""
    working = translator.translate_detailed

    def failing(sentences: list[str], *args: Any, **options: Any) -> Any:
        if "boom" in sentences:
            raise RuntimeError("decoder exploded")
        return working(sentences, *args, **options)

    monkeypatch.setattr(translator, "translate_detailed", failing)
    return translator
