"""``transformer-mt serve``: options reach uvicorn, 127.0.0.1 by default, one-line errors."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

import transformer_mt.serve as serve_package
import transformer_mt.serve.listen as listen
from cli.toy_data import ToyRun, assert_user_error, invoke, trained_toy_run
from transformer_mt.serve.middleware import RequestGuard


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> ToyRun:
    return trained_toy_run(tmp_path_factory)


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What ``uvicorn.run`` was called with (instead of serving)."""
    calls: dict[str, Any] = {}

    def fake_run(app: Any, **kwargs: Any) -> None:
        calls.update(kwargs, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return calls


@pytest.fixture
def served(fake_uvicorn: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``fake_uvicorn``, and the check that the port is free passes without binding it (nothing
    will listen, and port 8000 may be taken on the machine running the tests)."""
    monkeypatch.setattr(listen, "_try_bind", lambda *args: None)
    return fake_uvicorn


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port a server listens on, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


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
        (["--max-header-bytes", "0"], "max_header_bytes must be at least 1"),
        (["--body-timeout", "0"], "--body-timeout must be positive, got 0.0"),
        (["--body-timeout", "inf"], "--body-timeout must be a finite number (positive), got inf"),
        (
            ["--batch-wait-ms", "nan"],
            "--batch-wait-ms must be a finite number (at least 0), got nan",
        ),
    ],
)
def test_bad_options_are_one_line_errors(
    toy_run: ToyRun, served: dict[str, Any], args: list[str], fragment: str
) -> None:
    assert_user_error(invoke(["serve", str(toy_run.run_dir), *args]), fragment)
    assert not served


def test_a_missing_run_directory_is_a_one_line_error(tmp_path: Any, served: dict[str, Any]) -> None:
    assert_user_error(invoke(["serve", str(tmp_path / "nowhere")]), "nowhere")


def test_header_and_body_time_limits_reach_uvicorn_and_the_app(
    toy_run: ToyRun, served: dict[str, Any]
) -> None:
    args = ["--max-header-bytes", "2048", "--body-timeout", "2.5"]
    result = invoke(["serve", str(toy_run.run_dir), *args])
    assert result.exit_code == 0, result.output
    assert served["h11_max_incomplete_event_size"] == 2048
    app = served["app"]
    (guard,) = [m for m in app.user_middleware if m.cls is RequestGuard]
    assert guard.kwargs["body_timeout_s"] == 2.5
    with TestClient(app) as client:
        assert client.get("/health").json()["limits"]["max_header_bytes"] == 2048
        response = client.get("/health", headers={"x-padding": "a" * 2048})
        assert response.status_code == 431 and response.json()["error"] == "headers_too_large"


def test_the_defaults_bound_headers_and_body_time(toy_run: ToyRun, served: dict[str, Any]) -> None:
    assert invoke(["serve", str(toy_run.run_dir)]).exit_code == 0
    assert served["h11_max_incomplete_event_size"] == 16 * 1024
    (guard,) = [m for m in served["app"].user_middleware if m.cls is RequestGuard]
    assert guard.kwargs["body_timeout_s"] == 10.0


# The run directory does not exist: the port is checked before the model loads.
@pytest.mark.parametrize("port", ["70000", "65536", "-1"])
def test_a_port_out_of_range_is_a_one_line_error(
    tmp_path: Path, served: dict[str, Any], port: str
) -> None:
    result = invoke(["serve", str(tmp_path / "nowhere"), "--port", port])
    assert_user_error(result, f"--port must be in [0, 65535], got {port}")
    assert not served


def test_a_port_in_use_is_a_one_line_error_before_the_model_loads(
    tmp_path: Path, fake_uvicorn: dict[str, Any], busy_port: int
) -> None:
    result = invoke(["serve", str(tmp_path / "nowhere"), "--port", str(busy_port)])
    line = assert_user_error(result)
    assert line == (
        f"error: --port {busy_port}: address 127.0.0.1:{busy_port} is already in use "
        "(another server running? choose another --port)"
    )
    assert not fake_uvicorn


def test_a_free_port_passes_the_check(toy_run: ToyRun, fake_uvicorn: dict[str, Any]) -> None:
    with socket.socket() as probe:  # a port nothing listens on (closed again at once)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = invoke(["serve", str(toy_run.run_dir), "--port", str(port)])
    assert result.exit_code == 0, result.output
    assert fake_uvicorn["port"] == port


def test_a_host_that_is_not_this_machines_is_a_one_line_error(
    tmp_path: Path, fake_uvicorn: dict[str, Any]
) -> None:
    result = invoke(["serve", str(tmp_path / "nowhere"), "--host", "192.0.2.1"])  # TEST-NET-1
    assert_user_error(result, "--host 192.0.2.1: 192.0.2.1 is not an address of this machine")
    assert not fake_uvicorn
