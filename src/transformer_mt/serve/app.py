"""The FastAPI application: ``POST /translate``, ``POST /explain``, ``GET /health``, the page.

``create_app(translator)`` builds it; ``transformer-mt serve`` runs it with uvicorn. Decoding
goes through :class:`Translator` on one worker thread, fed by the :class:`MicroBatcher`. Every
error is a JSON body ``{"error": KIND, "message": TEXT}`` (:mod:`transformer_mt.serve.errors`):
400 malformed JSON, 404 unknown path, 405 wrong method, 408 body not received in time, 413 body
too large, 422 invalid or over-limit request, 431 headers too large, 503 queue full, 500 a
failure inside the server (logged; the server and the connection keep serving).
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from transformer_mt import __version__
from transformer_mt.config.decoding import DecodingOptions, OptionError
from transformer_mt.decoding.alignment import pharaoh
from transformer_mt.decoding.controls import ControlError
from transformer_mt.decoding.documents import join_paragraphs, split_paragraphs
from transformer_mt.decoding.translator import Candidate, Translation, Translator
from transformer_mt.serve.batcher import MicroBatcher, ModelWorker
from transformer_mt.serve.errors import ApiError, InternalErrors, add_error_handlers
from transformer_mt.serve.explain import Explainer
from transformer_mt.serve.limits import Limits, check_beam_size, check_sentences, check_text
from transformer_mt.serve.middleware import RequestGuard
from transformer_mt.serve.schemas import (
    CandidateOut,
    ErrorResponse,
    ExplainRequest,
    HealthResponse,
    TranslateRequest,
    TranslateResponse,
)

STATIC_DIR = resources.files("transformer_mt.serve") / "static"
logger = logging.getLogger("transformer_mt.serve")

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in [
        (400, "Malformed JSON."),
        (408, "Request body not received in time."),
        (413, "Request body too large."),
        (422, "Invalid request or over a limit."),
        (503, "Too many sentences waiting."),
    ]
}


def create_app(
    translator: Translator,
    *,
    limits: Limits | None = None,
    model_name: str = "model",
    max_wait_s: float = 0.005,
    max_batch_sentences: int = 64,
    body_timeout_s: float = 10.0,
) -> FastAPI:
    """The application serving ``translator`` (see the module docstring for the endpoints).

    ``body_timeout_s`` is how long a request's body may take to arrive (408 after it).
    """
    limits = limits or Limits()
    worker = ModelWorker()
    batcher: MicroBatcher[DecodeJob, Translation] = MicroBatcher(
        lambda sentences, job: job.run(translator, sentences),
        worker,
        max_wait_s=max_wait_s,
        max_batch_sentences=max_batch_sentences,
    )
    explainer = Explainer(translator, worker)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        try:
            yield
        finally:
            await batcher.stop()
            worker.close()

    app = FastAPI(
        title="transformer-mt",
        version=__version__,
        description="Translate with a trained Transformer model and look inside it.",
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    app.add_middleware(
        RequestGuard,
        max_header_bytes=limits.max_header_bytes,
        max_body_bytes=limits.max_body_bytes,
        body_timeout_s=body_timeout_s,
    )
    app.add_middleware(InternalErrors)  # added last: the outermost, it catches the guard's too
    add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(STATIC_DIR / "index.html"))

    @app.get("/health")
    async def health() -> HealthResponse:
        """Liveness, the model's limits and the batching counters."""
        return HealthResponse(
            status="ok",
            model=model_name,
            max_source_tokens=translator.max_source_tokens,
            limits=limits.as_dict(),
            batches=batcher.stats.decodes,
            requests=batcher.stats.requests,
            sentences=batcher.stats.sentences,
        )

    @app.post("/translate", responses=_ERRORS)
    async def translate(request: TranslateRequest) -> TranslateResponse:
        """Translate sentences; concurrent requests with the same options are decoded together.

        Sentences longer than the model's maximum length are truncated to it (``truncated``).
        """
        check_sentences(request.sentences, limits)
        options = decoding_options(request, limits)
        if not request.document:
            job = decode_job(request, options, translator, limits)
            mergeable = not (options.sample or request.controlled)
            results = await batcher.submit(request.sentences, job, mergeable=mergeable)
            return translate_response(results, aligned=request.alignments)
        if options.n_best > 1:
            raise ApiError(422, "invalid_options", "document gives one translation a paragraph")
        if request.controlled or request.alignments:
            message = (
                "document translates sentence by sentence: no prefixes, constraints or alignments"
            )
            raise ApiError(422, "invalid_options", message)
        fits = functools.partial(translator.fits, keep_case=options.keep_case)
        segments = split_paragraphs(request.sentences, fits)
        job = DecodeJob(options)
        results = await batcher.submit(segments.pieces, job, mergeable=not options.sample)
        return document_response(results, segments.counts)

    @app.post("/explain", responses=_ERRORS)
    async def explain(request: ExplainRequest) -> dict[str, Any]:
        """One sentence's attention maps (every layer and head, and the alignment) and the
        step-by-step trace of greedy or beam search."""
        check_text(request.sentence, limits, "sentence")
        check_text(request.target or "", limits, "target")
        if request.search == "beam":
            check_beam_size(request.beam_size, limits)
        return await explainer.explain(request)

    return app


def decoding_options(request: TranslateRequest, limits: Limits) -> DecodingOptions:
    """The request's decoding options, checked against the server's limits and each other."""
    try:
        options = request.decoding_options()
    except OptionError as error:
        # A value out of range is an invalid request; values that contradict each other
        # (n_best above beam_size, n_best with sampling) are invalid options.
        kind = "invalid_options" if error.combination else "invalid_request"
        raise ApiError(422, kind, str(error)) from None
    if not options.sample:
        check_beam_size(options.beam_size, limits)
    return options


@dataclass(frozen=True)
class DecodeJob:
    """What the batcher decodes a request with: its options and output controls (hashable:
    requests with equal jobs and no controls are decoded together)."""

    options: DecodingOptions
    prefixes: tuple[str | None, ...] | None = None
    constraints: tuple[tuple[str, ...], ...] | None = None
    alignments: bool = False

    def run(self, translator: Translator, sentences: list[str]) -> list[Translation]:
        return translator.translate_detailed(
            sentences,
            self.options,
            prefixes=self.prefixes,
            constraints=self.constraints,
            alignments=self.alignments,
        )


def decode_job(
    request: TranslateRequest, options: DecodingOptions, translator: Translator, limits: Limits
) -> DecodeJob:
    """The request's job; prefixes and constraints the search cannot honour are a 422."""
    prefixes = None if request.prefixes is None else tuple(request.prefixes)
    constraints = None
    if request.constraints is not None:
        constraints = tuple(tuple(phrases) for phrases in request.constraints)
    for index, prefix in enumerate(prefixes or ()):
        check_text(prefix or "", limits, f"prefixes[{index}]")
    for index, phrases in enumerate(constraints or ()):
        for phrase in phrases:
            check_text(phrase, limits, f"constraints[{index}]")
    try:
        translator.output_controls(request.sentences, options, prefixes, constraints)
    except ControlError as error:
        raise ApiError(422, "invalid_controls", str(error)) from None
    return DecodeJob(options, prefixes, constraints, request.alignments)


def document_response(results: list[Translation], counts: list[int]) -> TranslateResponse:
    """One answer per paragraph from its sentences' results (``counts`` sentences each)."""
    texts = join_paragraphs([result.text for result in results], counts)
    starts = list(itertools.accumulate([0, *counts]))
    return TranslateResponse(
        translations=texts,
        scores=[None] * len(counts),
        truncated=[False] * len(counts),
        candidates=[
            [_candidate(r.candidates[0]) for r in results[start : start + count] if r.candidates]
            for start, count in zip(starts, counts, strict=False)
        ],
        alignments=None,
    )


def _candidate(candidate: Candidate) -> CandidateOut:
    alignment = None if candidate.alignment is None else list(candidate.alignment)
    return CandidateOut(
        text=candidate.text,
        score=candidate.score,
        log_prob=candidate.log_prob,
        alignment=alignment,
    )


def translate_response(results: list[Translation], *, aligned: bool = False) -> TranslateResponse:
    best = [result.candidates[0] if result.candidates else None for result in results]
    return TranslateResponse(
        translations=[result.text for result in results],
        scores=[candidate.score if candidate else None for candidate in best],
        truncated=[result.truncated for result in results],
        candidates=[[_candidate(c) for c in r.candidates] for r in results],
        alignments=[pharaoh(c.alignment or ()) if c else "" for c in best] if aligned else None,
    )
