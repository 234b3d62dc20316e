"""Shared by the server tests: small limits and a real uvicorn server in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from transformer_mt.serve.limits import Limits

# Small limits, so that each is easy to cross in a test.
TEST_LIMITS = Limits(
    max_chars=200, max_sentences=8, max_body_bytes=4096, max_beam_size=6, max_header_bytes=4096
)


def assert_error(response: Any, status: int, kind: str, *fragments: str) -> None:
    """``response`` is the JSON error ``{"error": kind, "message": ...}`` naming ``fragments``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"}, body
    assert body["error"] == kind, body
    for fragment in fragments:
        assert fragment in body["message"], (fragment, body["message"])


def post_raw(client: TestClient, content: bytes | str, path: str = "/translate") -> Any:
    """POST ``content`` as it is, labelled JSON."""
    return client.post(path, content=content, headers={"content-type": "application/json"})


@contextmanager
def live_server(app: FastAPI, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn (``config``: more ``uvicorn.Config`` settings) on a free
    127.0.0.1 port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
