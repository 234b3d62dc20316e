"""POST /explain: the explain package's attention maps and traces, as JSON for the page."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from transformer_mt.decoding.translator import Translator
from transformer_mt.explain.attention import attention_maps
from transformer_mt.explain.trace import beam_trace, greedy_trace

SENTENCE = "we eat rice today"


def roundtrip(value: object) -> object:
    """What a value looks like after JSON (tuples become lists, floats stay exact)."""
    return json.loads(json.dumps(value))


def test_greedy_explanation_is_the_explain_packages(
    client: TestClient, translator: Translator
) -> None:
    response = client.post("/explain", json={"sentence": SENTENCE, "top_k": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["attention"] == roundtrip(attention_maps(translator, SENTENCE).to_dict())
    assert body["trace"] == roundtrip(greedy_trace(translator, SENTENCE, top_k=3).to_dict())
    assert body["trace"]["translation"] == translator.translate([SENTENCE], beam_size=1)[0]


def test_the_maps_are_of_the_given_translation(client: TestClient, translator: Translator) -> None:
    target = translator.translate([SENTENCE], beam_size=4)[0]
    body = client.post(
        "/explain", json={"sentence": SENTENCE, "target": target, "search": "beam"}
    ).json()
    maps = body["attention"]
    assert maps == roundtrip(attention_maps(translator, SENTENCE, target).to_dict())
    assert maps["target_from_model"] is False
    assert body["trace"] == roundtrip(beam_trace(translator, SENTENCE, beam_size=4).to_dict())
    # One alignment row per predicted token, one column per source token; rows sum to 1.
    rows, columns = len(maps["output_tokens"]), len(maps["source_tokens"])
    assert len(maps["alignment"]) == rows and {len(r) for r in maps["alignment"]} == {columns}
    assert [sum(r) for r in maps["alignment"]] == pytest.approx([1.0] * rows, abs=1e-5)


@pytest.mark.parametrize(
    ("body", "kind", "fragment"),
    [
        ({"sentence": ""}, "invalid_request", "sentence"),
        ({"sentence": "   "}, "invalid_request", "empty"),
        ({"sentence": "a" * 201}, "sentence_too_long", "sentence has 201"),
        ({"sentence": "dog", "target": "狗" * 201}, "sentence_too_long", "target has 201"),
        ({"sentence": "dog", "search": "sample"}, "invalid_request", "search"),
        ({"sentence": "dog", "search": "beam", "beam_size": 7}, "beam_too_large", "above 6"),
        ({"sentence": ["dog"]}, "invalid_request", "sentence"),
    ],
)
def test_bad_explain_requests_are_json_errors(
    client: TestClient, body: dict[str, object], kind: str, fragment: str
) -> None:
    response = client.post("/explain", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == kind and fragment in response.json()["message"]
