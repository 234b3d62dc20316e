"""Every error answer of the server, as one JSON shape: ``{"error": KIND, "message": TEXT}``.

- :class:`ApiError`: raised by the limit checks and the middleware with its status and kind;
- :func:`add_error_handlers`: FastAPI's and Starlette's errors (validation, malformed bodies,
  unknown routes, wrong methods) in that shape instead of ``{"detail": ...}``;
- :class:`InternalErrors`: the outermost middleware, turning any other exception into a JSON 500
  that keeps the connection open (Starlette's own 500 handler re-raises, and uvicorn then closes
  the keep-alive connection under the client).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from transformer_mt.errors import UserError
from transformer_mt.serve.batcher import OverloadedError

logger = logging.getLogger("transformer_mt.serve")

# Kinds of Starlette's HTTP errors. FastAPI raises a 400 only when it cannot parse a JSON body
# (not UTF-8, nested too deeply for the parser); other statuses get their phrase in snake case.
_HTTP_KINDS = {400: "bad_json", 404: "not_found", 405: "method_not_allowed"}
_BAD_BODY = "the request body is not valid JSON (malformed, not UTF-8, or nested too deeply)"


class ApiError(Exception):
    """An error answer: HTTP status, a machine-readable kind and a message for people."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message

    def body(self) -> dict[str, str]:
        return error_body(self.kind, self.message)


def error_body(kind: str, message: str) -> dict[str, str]:
    """``{"error": kind, "message": message}``, always encodable as UTF-8.

    A message may quote the request (a field name, a path); a lone surrogate in it is written
    as ``\\ud800`` rather than failing the answer.
    """
    return {"error": kind, "message": message.encode("utf-8", "backslashreplace").decode("utf-8")}


def error_response(
    status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The JSON error answer as a response object (for exception handlers)."""
    return JSONResponse(error_body(kind, message), status_code=status, headers=headers)


async def send_error(send: Send, error: ApiError, *, close: bool = False) -> None:
    """Send ``error`` as a complete JSON answer through raw ASGI (for middleware).

    ``close`` asks the server to close the connection after it (when the request body was not
    read to its end, the connection cannot carry another request).
    """
    body = json.dumps(error.body(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def add_error_handlers(app: FastAPI) -> None:
    """Answer every error raised inside the app's routes in the ``{"error", "message"}`` shape."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.kind, error.message)

    @app.exception_handler(UserError)
    async def user_error(_: Request, error: UserError) -> JSONResponse:
        return error_response(422, "invalid_request", str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        if any(problem["type"] == "json_invalid" for problem in problems):
            return error_response(400, "bad_json", "the request body is not valid JSON")
        return error_response(422, "invalid_request", describe_validation(problems))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        kind, message = describe_http_error(error.status_code, request, error.headers or {})
        return error_response(error.status_code, kind, message, error.headers)

    @app.exception_handler(OverloadedError)
    async def overloaded(_: Request, error: OverloadedError) -> JSONResponse:
        return error_response(503, "overloaded", str(error))


def describe_http_error(
    status: int, request: Request, headers: Mapping[str, str]
) -> tuple[str, str]:
    """The kind and message of one of Starlette's HTTP errors (404, 405, 400 bad body...)."""
    if status == 400:
        return "bad_json", _BAD_BODY
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status the standard does not name
        phrase = f"HTTP {status}"
    kind = _HTTP_KINDS.get(status, phrase.lower().replace(" ", "_").replace("-", "_"))
    message = f"{phrase}: {request.method} {request.url.path}"
    if status == 404:
        message += " (the endpoints are listed at /docs)"
    allowed = {name.lower(): value for name, value in headers.items()}.get("allow")
    if allowed:
        message += f" (allowed: {allowed})"
    return kind, message


def describe_validation(problems: Any) -> str:
    """``beam_size: Input should be a valid integer; sentences: Field required``."""
    parts = []
    for problem in list(problems)[:5]:
        where = ".".join(str(part) for part in problem["loc"] if part != "body") or "body"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


class InternalErrors:
    """ASGI middleware: any exception before the answer starts becomes a JSON 500, logged.

    The exception is not re-raised, so uvicorn keeps the keep-alive connection open for the
    client's next request. An exception after the answer started is re-raised: the answer is
    broken and only closing the connection tells the client so.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if started:
                raise
            logger.exception("request failed", exc_info=error)
            message = f"internal error ({type(error).__name__}); the server keeps running"
            await send_error(send, ApiError(500, "internal_error", message))
