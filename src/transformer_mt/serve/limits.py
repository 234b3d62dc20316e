"""Request limits, the errors they raise, and the body-size guard in front of the app.

Every limit answers with a 4xx JSON body ``{"error": KIND, "message": TEXT}``:

- body larger than ``max_body_bytes``: 413 ``body_too_large`` (checked before parsing, also for
  chunked uploads without a Content-Length);
- more than ``max_sentences`` sentences, or none: 422 ``too_many_sentences`` / ``no_sentences``;
- a sentence longer than ``max_chars`` characters: 422 ``sentence_too_long``;
- ``beam_size`` above ``max_beam_size``: 422 ``beam_too_large``.

A sentence within ``max_chars`` but longer than the model's maximum length in tokens is not an
error: like the command line, the server truncates it to the model's limit and says so in the
response (``"truncated": [..., true, ...]``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class Limits:
    """What one request may ask for."""

    max_chars: int = 1000  # characters per sentence
    max_sentences: int = 64  # sentences per request
    max_body_bytes: int = 256 * 1024  # request body
    max_beam_size: int = 16

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class ApiError(Exception):
    """An error answer: HTTP status, a machine-readable kind and a message for people."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error": self.kind, "message": self.message}


def check_sentences(sentences: Sequence[str], limits: Limits) -> None:
    """Raise :class:`ApiError` (422) when the sentences break a limit."""
    if not sentences:
        raise ApiError(422, "no_sentences", "'sentences' must contain at least one sentence")
    if len(sentences) > limits.max_sentences:
        raise ApiError(
            422,
            "too_many_sentences",
            f"{len(sentences)} sentences; at most {limits.max_sentences} per request",
        )
    for index, sentence in enumerate(sentences):
        check_text(sentence, limits, f"sentences[{index}]")


def check_text(text: str, limits: Limits, where: str) -> None:
    """Raise :class:`ApiError` (422) when ``text`` (named ``where``) is over ``max_chars``."""
    if len(text) > limits.max_chars:
        raise ApiError(
            422,
            "sentence_too_long",
            f"{where} has {len(text)} characters; at most {limits.max_chars} per sentence",
        )


def check_beam_size(beam_size: int, limits: Limits) -> None:
    """Raise :class:`ApiError` (422) for a beam wider than the server allows."""
    if beam_size > limits.max_beam_size:
        raise ApiError(
            422, "beam_too_large", f"beam_size {beam_size} is above {limits.max_beam_size}"
        )


class BodySizeLimit:
    """ASGI middleware: answer 413 to a request body over ``max_bytes``, before the app parses it.

    The body is read here (it is small by construction) and replayed to the app, so a chunked
    upload without Content-Length is counted too.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _reject(self, send: Send) -> None:
        error = ApiError(
            413, "body_too_large", f"request body is larger than {self.max_bytes} bytes"
        )
        await _send_json(send, error.status, error.body())


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls wait for the disconnect, as the app expects

    return replay


async def _send_json(send: Send, status: int, payload: Any) -> None:
    body = json.dumps(payload).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
