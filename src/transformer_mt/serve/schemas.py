"""The JSON the server reads and writes, as pydantic models (they also make the ``/docs`` page).

Types are strict: ``"beam_size": "4"`` or ``"sentences": "text"`` is a 422 error, never coerced.
Limits that the operator sets at start-up (characters per sentence, sentences per request, beam
size) are checked in :mod:`transformer_mt.serve.limits`, not here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from transformer_mt.config.decoding import FIELDS, DecodingOptions

# The decoding options a client may set: DecodingOptions' search fields, with its names,
# types, defaults and help. Their values are validated by DecodingOptions itself (see
# serve.app.decoding_options); length limits and batching stay the operator's.
SERVED_OPTIONS = (
    "beam_size",
    "length_penalty",
    "n_best",
    "sample",
    "temperature",
    "top_k",
    "top_p",
    "seed",
    "max_token_repeat",
    "no_repeat_ngram_size",
    "repetition_penalty",
    "no_repeat_chunk_size",
    "allow_unseen_doubles",
    "keep_case",
)


def _request_fields() -> dict[str, Any]:
    return {
        name: (
            DecodingOptions.value_type(name),
            Field(FIELDS[name].default, description=DecodingOptions.help(name)),
        )
        for name in SERVED_OPTIONS
    }


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


DecodingRequest = create_model(
    "DecodingRequest",
    __base__=_Strict,
    __doc__="How to decode; the defaults are the command line's (beam search, 4 beams).",
    **_request_fields(),
)


class TranslateRequest(DecodingRequest):  # type: ignore[misc,valid-type]  # built above
    """Sentences to translate and, optionally, how."""

    sentences: list[str] = Field(
        description="Source sentences; an empty string gives an empty translation.",
        examples=[["Hello world", "I like to drink tea."]],
    )
    document: bool = Field(
        False,
        description=(
            "Each entry is a paragraph: translated sentence by sentence (a sentence over the "
            "model's length split at clauses, never cut) and joined back; its candidates are "
            "the sentences' best translations, and its score is null."
        ),
    )

    prefixes: list[str | None] | None = Field(
        None,
        description="Per sentence, text its translation must start with (null: none).",
        examples=[["我非常", None]],
    )
    constraints: list[list[str]] | None = Field(
        None,
        description="Per sentence, target phrases its translation must contain (lexically "
        "constrained beam search; beam_size must exceed the number of phrases).",
        examples=[[["绿茶"], []]],
    )
    alignments: bool = Field(
        False,
        description="Return each candidate's word alignment: [source word, target word] pairs "
        "(0-based; source words are whitespace tokens, a CJK character is a target word).",
    )

    @property
    def controlled(self) -> bool:
        """Whether the request forces prefixes or phrases (decoded alone, not merged)."""
        return self.prefixes is not None or self.constraints is not None

    def decoding_options(self) -> DecodingOptions:
        """The request's options as :class:`DecodingOptions` (raises ``OptionError``)."""
        return DecodingOptions(**{name: getattr(self, name) for name in SERVED_OPTIONS})


class CandidateOut(BaseModel):
    text: str
    score: float = Field(description="Ranking score (length-normalised for beam search).")
    log_prob: float = Field(description="Total log-probability of the output tokens.")
    alignment: list[tuple[int, int]] | None = Field(
        None, description="With alignments: [source word, target word] pairs, 0-based."
    )


class TranslateResponse(BaseModel):
    translations: list[str] = Field(description="The best translation of each sentence.")
    scores: list[float | None] = Field(description="Score of each best translation (null: empty).")
    truncated: list[bool] = Field(
        description="The sentence was longer than the model's maximum length and was cut to it."
    )
    candidates: list[list[CandidateOut]] = Field(description="n_best candidates per sentence.")
    alignments: list[str] | None = Field(
        None,
        description="With alignments: each best translation's alignment in Pharaoh format "
        "('0-0 1-2': source word 0 with target word 0, ...), as fast_align and Marian print it.",
    )


class ExplainRequest(BaseModel):
    """One sentence to look inside."""

    model_config = ConfigDict(extra="forbid", strict=True)

    sentence: str = Field(min_length=1, examples=["I like to drink tea."])
    target: str | None = Field(
        None,
        description="The translation whose attention to show (e.g. the one /translate gave); "
        "default: the model's greedy translation.",
    )
    search: Literal["greedy", "beam"] = Field("greedy", description="Which search to trace.")
    beam_size: int = Field(4, ge=1, description="With search=beam.")
    top_k: int = Field(5, ge=1, le=20, description="Alternatives shown per greedy step.")


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer."""

    error: str = Field(description="A machine-readable kind, e.g. 'too_many_sentences'.")
    message: str = Field(description="What was wrong, for people.")


class HealthResponse(BaseModel):
    status: str
    model: str
    max_source_tokens: int
    limits: dict[str, int]
    batches: int = Field(description="Decodes run so far (each serves one or more requests).")
    requests: int = Field(description="Translation requests answered so far.")
    sentences: int = Field(description="Sentences translated so far.")
