"""Request limits and the checks of a request's content against them.

Every limit answers with a 4xx JSON body ``{"error": KIND, "message": TEXT}``:

- request head over ``max_header_bytes``, body over ``max_body_bytes``: 431 / 413, checked before
  parsing by :class:`transformer_mt.serve.middleware.RequestGuard`;
- more than ``max_sentences`` sentences, or none: 422 ``too_many_sentences`` / ``no_sentences``;
- a sentence longer than ``max_chars`` characters: 422 ``sentence_too_long``;
- a sentence holding a lone surrogate (not Unicode text): 422 ``invalid_request``;
- ``beam_size`` above ``max_beam_size``: 422 ``beam_too_large``.

A sentence within ``max_chars`` but longer than the model's maximum length in tokens is not an
error: like the command line, the server truncates it to the model's limit and says so in the
response (``"truncated": [..., true, ...]``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

from transformer_mt.ranges import AT_LEAST_ONE, first_range_problem
from transformer_mt.serve.errors import ApiError

# JSON may spell a lone UTF-16 surrogate, "\ud800"; Python decodes it into a string that neither
# UTF-8 nor the tokenizer accepts.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Limits:
    """What one request may ask for."""

    max_chars: int = 1000  # characters per sentence
    max_sentences: int = 64  # sentences per request
    max_body_bytes: int = 256 * 1024  # request body
    max_beam_size: int = 16
    max_header_bytes: int = 16 * 1024  # request line and headers

    def __post_init__(self) -> None:
        found = first_range_problem(self, {f.name: AT_LEAST_ONE for f in fields(self)})
        if found is not None:
            raise ValueError(" ".join(found))

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


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
    """Raise :class:`ApiError` (422) when ``text`` (named ``where``) is over ``max_chars`` or
    is not Unicode text."""
    surrogate = _SURROGATE.search(text)
    if surrogate:
        raise ApiError(
            422,
            "invalid_request",
            f"{where} holds a lone surrogate \\u{ord(surrogate.group()):x} at character "
            f"{surrogate.start()}, which is not Unicode text",
        )
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
