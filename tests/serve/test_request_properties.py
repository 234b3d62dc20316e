"""Property-based tests of the request schemas: whatever JSON a client sends, the server answers
200 or a 4xx ``{"error", "message"}`` body, never a 500.

Requests are drawn from valid-looking ones with any field replaced by any JSON value (nan,
huge integers, strings, nesting, lone surrogates in text), plus arbitrary JSON documents and
arbitrary bytes. A 200 answer holds one translation per sentence.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serve.support import TEST_LIMITS, post_raw
from transformer_mt.decoding.translator import Translator
from transformer_mt.serve.app import create_app
from transformer_mt.serve.schemas import SERVED_OPTIONS

WORDS = ["i", "like", "tea", "you", "see", "a", "big", "dog", ""]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_subnormal=False),  # training code may have turned denormals off
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
sentence = st.one_of(
    st.lists(st.sampled_from(WORDS), max_size=5).map(" ".join),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xFFFF), max_size=20),
)
option_values = {
    "beam_size": st.integers(-2, 8),
    "length_penalty": st.one_of(st.floats(-1, 3, allow_subnormal=False), st.just(math.nan)),
    "n_best": st.integers(0, 4),
    "sample": st.booleans(),
    "temperature": st.one_of(st.floats(allow_subnormal=False), st.just(1e-300)),
    "top_k": st.integers(-1, 50),
    "top_p": st.floats(-0.5, 1.5, allow_subnormal=False),
    "seed": st.integers(-(2**70), 2**70),
    "max_token_repeat": st.integers(-1, 4),
    "no_repeat_ngram_size": st.integers(-1, 4),
    "repetition_penalty": st.floats(-1, 3, allow_subnormal=False),
    "no_repeat_chunk_size": st.integers(-1, 5),
    "allow_unseen_doubles": st.booleans(),
    "keep_case": st.booleans(),
}
assert set(option_values) == set(SERVED_OPTIONS)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request with some options (typed or not) and, sometimes, an unknown or mistyped field."""
    body: dict[str, Any] = {"sentences": draw(st.lists(sentence, max_size=4))}
    for name in draw(st.lists(st.sampled_from(SERVED_OPTIONS), max_size=4, unique=True)):
        body[name] = draw(st.one_of(option_values[name], json_values))
    if draw(st.booleans()):
        body[draw(st.sampled_from(["sentences", "beam_size", "extra"]))] = draw(json_values)
    return body


def answer_is_well_formed(response: Any, body: Any) -> None:
    assert response.status_code in (200, 400, 413, 422), (response.status_code, response.text)
    answer = response.json()
    if response.status_code != 200:
        assert set(answer) == {"error", "message"}, answer
        assert isinstance(answer["message"], str) and "\n" not in answer["message"]
        return
    assert isinstance(body, dict)
    assert len(answer["translations"]) == len(body["sentences"])


def client_for(translator: Translator) -> TestClient:
    app = create_app(translator, limits=TEST_LIMITS, model_name="toy")
    return TestClient(app, raise_server_exceptions=False)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(body=requests())
def test_any_request_is_answered_without_a_server_error(
    translator: Translator, body: dict[str, Any]
) -> None:
    with client_for(translator) as client:
        text = json.dumps(body, allow_nan=True)  # NaN and Infinity, as some clients send them
        answer_is_well_formed(post_raw(client, text), body)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(document=json_values)
def test_any_json_document_is_a_4xx_or_an_answer(translator: Translator, document: Any) -> None:
    with client_for(translator) as client:
        response = post_raw(client, json.dumps(document, allow_nan=True))
        answer_is_well_formed(response, document)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=64))
def test_any_bytes_are_a_4xx(translator: Translator, raw: bytes) -> None:
    with client_for(translator) as client:
        response = post_raw(client, raw)
        assert response.status_code in (400, 422), response.text
        assert set(response.json()) == {"error", "message"}


def test_a_nan_option_is_refused_by_name(translator: Translator) -> None:
    with client_for(translator) as client:
        response = post_raw(client, '{"sentences": ["i like tea"], "length_penalty": NaN}')
        assert response.status_code == 422
        assert "length_penalty" in response.json()["message"]
