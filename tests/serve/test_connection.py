"""Connection-level hostile input against a real uvicorn server on a free 127.0.0.1 port.

What the test client cannot show: whether the keep-alive connection survives an error, what
happens to a body that never arrives, and how uvicorn's parser and the app treat huge headers.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from serve.support import TEST_LIMITS, live_server
from transformer_mt.decoding.translator import Translator
from transformer_mt.serve.app import create_app

BODY_TIMEOUT_S = 0.5
TEA = json.dumps({"sentences": ["i like tea"]}).encode()


@pytest.fixture(scope="module")
def port(translator: Translator) -> Iterator[int]:
    """A served app with a short body timeout and uvicorn's header limit as the CLI sets it."""
    app = create_app(translator, limits=TEST_LIMITS, body_timeout_s=BODY_TIMEOUT_S)
    limit = TEST_LIMITS.max_header_bytes
    with live_server(app, h11_max_incomplete_event_size=limit) as url:
        yield urlsplit(url).port or 0


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def read_response(sock: socket.socket) -> tuple[http.client.HTTPResponse, bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response, response.read()


def post_head(length: int, extra: bytes = b"") -> bytes:
    return (
        b"POST /translate HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + extra
        + f"Content-Length: {length}\r\n\r\n".encode()
    )


def assert_serving(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/health")
    assert connection.getresponse().status == 200
    connection.close()


def test_a_500_keeps_the_connection_open(exploding: Translator) -> None:
    translator = exploding
    with live_server(create_app(translator, limits=TEST_LIMITS)) as url:
        connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=10)
        headers = {"content-type": "application/json"}
        connection.request("POST", "/translate", body=b'{"sentences": ["boom"]}', headers=headers)
        failed = connection.getresponse()
        body = json.loads(failed.read())
        assert failed.status == 500 and body["error"] == "internal_error", body
        assert not failed.will_close and failed.getheader("connection") is None
        kept = connection.sock
        connection.request("POST", "/translate", body=TEA, headers=headers)
        answer = connection.getresponse()
        assert answer.status == 200 and json.loads(answer.read())["translations"]
        assert connection.sock is kept  # the same connection, not a reconnection
        connection.close()


def test_a_body_shorter_than_its_content_length_times_out_with_408(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(post_head(len(TEA) + 50) + TEA)  # 50 bytes are never sent
        started = time.monotonic()
        response, body = read_response(sock)
        waited = time.monotonic() - started
        assert response.status == 408
        assert json.loads(body) == {
            "error": "request_timeout",
            "message": f"the request body did not arrive within {BODY_TIMEOUT_S:g} s "
            "(is Content-Length larger than the body sent?)",
        }
        assert response.getheader("connection") == "close"
        assert BODY_TIMEOUT_S * 0.8 <= waited < BODY_TIMEOUT_S + 3
        assert sock.recv(1) == b""  # closed by the server: the rest of the body is not awaited
    assert_serving(port)


def test_a_body_sent_slowly_within_the_timeout_is_answered(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(post_head(len(TEA)) + TEA[:5])
        time.sleep(BODY_TIMEOUT_S / 5)
        sock.sendall(TEA[5:])
        response, body = read_response(sock)
        assert response.status == 200, body
        assert json.loads(body)["translations"]


@pytest.mark.parametrize("pieces", [1, 100], ids=["whole", "in-pieces"])
def test_a_100kb_header_is_refused(port: int, pieces: int) -> None:
    """A head that arrives whole is measured by the app (431, JSON); one that arrives in pieces
    is cut off by uvicorn's parser (400, connection closed, possibly reset before the answer)."""
    request = post_head(len(TEA), b"X-Padding: " + b"a" * 100_000 + b"\r\n") + TEA
    size = -(-len(request) // pieces)
    with connect(port) as sock:
        try:
            for start in range(0, len(request), size):
                sock.sendall(request[start : start + size])
                if pieces > 1:
                    time.sleep(0.001)
            response, body = read_response(sock)
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            response = None  # refused before an answer could be read: not accepted either
        if response is not None:
            assert response.status in (400, 431), body
            if response.status == 431:
                assert json.loads(body)["error"] == "headers_too_large"
    assert_serving(port)
