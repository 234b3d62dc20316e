"""``transformer-mt serve``: options reach uvicorn, 127.0.0.1 by default, one-line errors."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

import transformer_mt.serve as serve_package
from cli.toy_data import ToyRun, assert_user_error, invoke, trained_toy_run


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> ToyRun:
    return trained_toy_run(tmp_path_factory)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What ``uvicorn.run`` was called with (instead of serving)."""
    calls: dict[str, Any] = {}

    def fake_run(app: Any, **kwargs: Any) -> None:
        calls.update(kwargs, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return calls


def test_binds_127_0_0_1_by_default_and_serves_the_run(
    toy_run: ToyRun, served: dict[str, Any]
) -> None:
    result = invoke(["serve", str(toy_run.run_dir)])
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == ("127.0.0.1", 8000)
    assert "http://127.0.0.1:8000/" in result.stderr
    with TestClient(served["app"]) as client:
        health = client.get("/health").json()
        assert health["model"] == "run" and health["limits"]["max_chars"] == 1000
        answer = client.post("/translate", json={"sentences": ["i like tea"]})
        assert answer.status_code == 200 and answer.json()["translations"][0]


def test_options_set_host_port_and_limits(toy_run: ToyRun, served: dict[str, Any]) -> None:
    args = ["--host", "0.0.0.0", "--port", "9123", "--max-chars", "10", "--max-sentences", "2"]
    result = invoke(["serve", str(toy_run.run_dir), *args])
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == ("0.0.0.0", 9123)
    with TestClient(served["app"]) as client:
        response = client.post("/translate", json={"sentences": ["i like tea and rice"]})
        assert response.status_code == 422 and response.json()["error"] == "sentence_too_long"


def test_a_missing_extra_names_the_pip_command(
    toy_run: ToyRun, served: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve_package, "REQUIRED", ("fastapi", "no_such_module_for_serve"))
    result = invoke(["serve", str(toy_run.run_dir)])
    assert_user_error(result, "no_such_module_for_serve", "pip install 'transformer-mt[serve]'")
    assert not served


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--max-sentences", "0"], "max_sentences must be at least 1"),
        (["--batch-sentences", "0"], "--batch-sentences"),
    ],
)
def test_bad_options_are_one_line_errors(
    toy_run: ToyRun, served: dict[str, Any], args: list[str], fragment: str
) -> None:
    assert_user_error(invoke(["serve", str(toy_run.run_dir), *args]), fragment)
    assert not served


def test_a_missing_run_directory_is_a_one_line_error(tmp_path: Any, served: dict[str, Any]) -> None:
    assert_user_error(invoke(["serve", str(tmp_path / "nowhere")]), "nowhere")
