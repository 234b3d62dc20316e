"""Hostile input through FastAPI's test client: every answer is ``{"error", "message"}``, never
Starlette's ``{"detail": ...}`` and never a 500, and the server keeps serving.

The connection-level cases (keep-alive after a 500, a body that never arrives, huge headers) need
a real server: test_connection.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from serve.support import TEST_LIMITS, assert_error, post_raw
from transformer_mt.decoding.translator import Translator
from transformer_mt.serve.app import create_app
from transformer_mt.serve.errors import InternalErrors


def assert_still_serving(client: TestClient) -> None:
    response = client.post("/translate", json={"sentences": ["i like tea"]})
    assert response.status_code == 200, response.text


# JSON spells a lone UTF-16 surrogate as "\ud800"; json.loads turns it into a str that is not
# Unicode text (the tokenizer refused it with a TypeError: a 500).
@pytest.mark.parametrize(
    ("path", "content", "fragments"),
    [
        ("/translate", r'{"sentences": ["a\ud800b"]}', ["sentences[0]", r"\ud800", "character 1"]),
        ("/translate", r'{"sentences": ["dog", "\udfff"]}', ["sentences[1]", r"\udfff"]),
        ("/translate", r'{"sentences": ["a"], "\ud800": 1}', ["body"]),
        ("/explain", r'{"sentence": "a\ud800b"}', ["sentence"]),
        ("/explain", r'{"sentence": "dog", "target": "\udc00"}', ["target", r"\udc00"]),
    ],
)
def test_a_lone_surrogate_is_an_invalid_request(
    client: TestClient, path: str, content: str, fragments: list[str]
) -> None:
    assert_error(post_raw(client, content, path), 422, "invalid_request", *fragments)
    assert_still_serving(client)


@pytest.mark.parametrize("path", ["/translate", "/explain"])
@pytest.mark.parametrize(
    "content",
    [
        b'{"sentences": ["\xff\xfe"]}',  # not UTF-8
        b"[" * 2000 + b"]" * 2000,  # deeper than the JSON parser recurses
    ],
    ids=["not-utf8", "nested-2000"],
)
def test_an_unparseable_body_is_bad_json(client: TestClient, path: str, content: bytes) -> None:
    assert_error(post_raw(client, content, path), 400, "bad_json", "not valid JSON")
    assert_still_serving(client)


@pytest.mark.parametrize(
    ("method", "path", "status", "kind", "fragments"),
    [
        ("GET", "/nowhere", 404, "not_found", ["GET /nowhere", "/docs"]),
        ("GET", "/static/nowhere.js", 404, "not_found", ["/static/nowhere.js"]),
        ("GET", "/translate", 405, "method_not_allowed", ["GET /translate", "allowed: POST"]),
        ("DELETE", "/health", 405, "method_not_allowed", ["DELETE /health", "allowed: GET"]),
        ("PUT", "/explain", 405, "method_not_allowed", ["allowed: POST"]),
    ],
)
def test_unknown_paths_and_wrong_methods_are_json_errors(
    client: TestClient, method: str, path: str, status: int, kind: str, fragments: list[str]
) -> None:
    response = client.request(method, path)
    assert_error(response, status, kind, *fragments)
    if status == 405:
        assert response.headers["allow"]


def test_a_request_head_over_the_limit_is_431(client: TestClient) -> None:
    big = {"x-padding": "a" * TEST_LIMITS.max_header_bytes}
    response = client.post("/translate", json={"sentences": ["dog"]}, headers=big)
    assert_error(response, 431, "headers_too_large", f"{TEST_LIMITS.max_header_bytes} bytes")
    small = {"x-padding": "a" * (TEST_LIMITS.max_header_bytes // 2)}
    assert client.post("/translate", json={"sentences": ["dog"]}, headers=small).is_success


def test_the_openapi_page_lists_the_new_errors(client: TestClient) -> None:
    responses = client.get("/openapi.json").json()["paths"]["/translate"]["post"]["responses"]
    assert {"400", "408", "413", "422", "503"} <= set(responses)


def test_an_exception_outside_the_routes_is_a_json_500() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("middleware exploded")

    client = TestClient(InternalErrors(broken))  # no `with`: no lifespan events
    assert_error(client.get("/anything"), 500, "internal_error", "RuntimeError")


def test_a_failing_decode_is_a_json_500_even_for_a_raising_client(
    translator: Translator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("decoder exploded")

    monkeypatch.setattr(translator, "translate_detailed", failing)
    # raise_server_exceptions=True (the default) would re-raise an exception the server let
    # escape to uvicorn; the answer must be complete instead.
    with TestClient(create_app(translator, limits=TEST_LIMITS)) as client:
        assert_error(client.post("/translate", json={"sentences": ["dog"]}), 500, "internal_error")
        assert client.get("/health").json()["status"] == "ok"


# Found by the same audit; DecodingOptions validates these (OptionError -> 422) and sampling
# must not fail on them. Either answer is fine; a 500 is not.
def test_a_vanishing_temperature_is_never_a_500(client: TestClient) -> None:
    body = {"sentences": ["dog"], "sample": True, "temperature": 1e-300, "seed": 1}
    response = client.post("/translate", json=body)
    if response.status_code == 422:
        assert_error(response, 422, "invalid_request", "temperature")
    else:
        assert response.status_code == 200, response.text
        assert len(response.json()["translations"]) == 1


def test_a_seed_beyond_64_bits_is_an_invalid_request(client: TestClient) -> None:
    response = client.post("/translate", json={"sentences": ["dog"], "sample": True, "seed": 2**70})
    assert_error(response, 422, "invalid_request", "seed")
