"""The guard in front of the app: request head size, body size and body read time.

:class:`RequestGuard` reads each request's body once, before the app parses it, and replays it:

- a request head (request line and headers) over ``max_header_bytes``: 431 ``headers_too_large``;
- a body over ``max_body_bytes``: 413 ``body_too_large``, decided from Content-Length when it is
  declared, else while reading (so chunked uploads are counted too);
- a body not received within ``body_timeout_s`` (a client that declares a Content-Length and then
  sends less, or trickles it): 408 ``request_timeout``, and the connection is closed.

uvicorn has no body read timeout of its own. Its header limit (``h11_max_incomplete_event_size``,
set by ``transformer-mt serve`` to the same size) only applies while a head is still arriving: a
large head that arrives in one read is parsed whole, so it is measured here.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from transformer_mt.serve.errors import ApiError, send_error

# What the request line adds to its parts: two spaces, " HTTP/1.1", CRLF; each header adds
# ": " and CRLF to its name and value.
_REQUEST_LINE_OVERHEAD = 12
_HEADER_OVERHEAD = 4


class _BodyTooLargeError(Exception):
    """The body grew past the limit while it was read."""


class RequestGuard:
    """ASGI middleware enforcing the head size, body size and body read time (module docstring)."""

    def __init__(
        self, app: ASGIApp, *, max_header_bytes: int, max_body_bytes: int, body_timeout_s: float
    ) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if head_size(scope) > self.max_header_bytes:
            await send_error(send, self._headers_too_large())
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await send_error(send, self._body_too_large())
            return
        try:
            body = await asyncio.wait_for(self._read_body(receive), self.body_timeout_s)
        except _BodyTooLargeError:
            await send_error(send, self._body_too_large())
            return
        except asyncio.TimeoutError:
            await send_error(send, self._timed_out(), close=True)
            return
        if body is not None:
            await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body; ``None`` when the client went away; raises when it is too large."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _headers_too_large(self) -> ApiError:
        return ApiError(
            431,
            "headers_too_large",
            f"the request line and headers are larger than {self.max_header_bytes} bytes",
        )

    def _body_too_large(self) -> ApiError:
        return ApiError(
            413, "body_too_large", f"request body is larger than {self.max_body_bytes} bytes"
        )

    def _timed_out(self) -> ApiError:
        return ApiError(
            408,
            "request_timeout",
            f"the request body did not arrive within {self.body_timeout_s:g} s "
            "(is Content-Length larger than the body sent?)",
        )


def head_size(scope: Scope) -> int:
    """The request head's size in bytes, as it was sent (request line and headers)."""
    path = scope.get("raw_path") or scope["path"].encode()
    line = len(scope["method"]) + len(path) + len(scope.get("query_string", b""))
    headers = sum(len(name) + len(value) + _HEADER_OVERHEAD for name, value in scope["headers"])
    return line + _REQUEST_LINE_OVERHEAD + headers


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls wait for the disconnect, as the app expects

    return replay
