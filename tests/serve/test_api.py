"""POST /translate, GET /health, the docs and the page, through FastAPI's test client.

Every limit and malformed request must give a 4xx JSON ``{"error", "message"}`` and leave the
server serving.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serve.support import TEST_LIMITS, assert_error, post_raw
from transformer_mt.decoding.translator import Translator
from transformer_mt.serve.app import create_app

SENTENCES = ["i like tea", "we eat rice today", "dog"]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"beam_size": 1},
        {"beam_size": 3, "length_penalty": 0.5},
        {"sample": True, "top_k": 5, "temperature": 0.8, "seed": 3},
    ],
)
def test_translations_are_the_translators(
    client: TestClient, translator: Translator, options: dict[str, Any]
) -> None:
    response = client.post("/translate", json={"sentences": SENTENCES, **options})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = translator.translate_detailed(SENTENCES, **options)
    assert body["translations"] == [result.text for result in expected]
    assert body["scores"] == pytest.approx([result.candidates[0].score for result in expected])
    assert body["truncated"] == [False] * len(SENTENCES)
    assert [len(c) for c in body["candidates"]] == [1] * len(SENTENCES)


def test_n_best_candidates_come_ranked(client: TestClient, translator: Translator) -> None:
    response = client.post("/translate", json={"sentences": SENTENCES, "beam_size": 4, "n_best": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = translator.translate_detailed(SENTENCES, beam_size=4, n_best=3)
    for candidates, result in zip(body["candidates"], expected, strict=True):
        assert [c["text"] for c in candidates] == [c.text for c in result.candidates]
        scores = [c["score"] for c in candidates]
        assert scores == sorted(scores, reverse=True)
        assert candidates[0]["log_prob"] == pytest.approx(result.candidates[0].log_prob)
    assert body["translations"] == [c[0]["text"] for c in body["candidates"]]


def test_an_empty_sentence_gets_an_empty_translation(client: TestClient) -> None:
    body = client.post("/translate", json={"sentences": ["", "i like tea", "   "]}).json()
    assert body["translations"][0] == "" and body["translations"][2] == ""
    assert body["scores"][0] is None and body["scores"][2] is None
    assert body["translations"][1] and body["scores"][1] is not None


def test_a_sentence_beyond_the_models_length_is_truncated_and_flagged(
    client: TestClient, translator: Translator
) -> None:
    long = "xyz " * 40  # 160 characters (within the limit), one token each: > 63 tokens
    assert len(long) <= TEST_LIMITS.max_chars
    body = client.post("/translate", json={"sentences": ["i like tea", long]}).json()
    assert body["truncated"] == [False, True]
    assert body["translations"][1] == translator.translate([long])[0]


@pytest.mark.parametrize(
    ("content", "status", "kind", "fragment"),
    [
        ('{"sentences": ["i like tea"', 400, "bad_json", "not valid JSON"),
        ("sentences=i+like+tea", 400, "bad_json", "not valid JSON"),
        ("", 422, "invalid_request", "body"),
        ("[1, 2]", 422, "invalid_request", "body"),
        ('{"sentences": "i like tea"}', 422, "invalid_request", "sentences"),
        ('{"sentences": [1, 2]}', 422, "invalid_request", "sentences.0"),
        ('{"sentences": [null]}', 422, "invalid_request", "sentences.0"),
        ('{"text": ["i like tea"]}', 422, "invalid_request", "sentences: Field required"),
        ('{"sentences": ["a"], "beam_size": "4"}', 422, "invalid_request", "beam_size"),
        ('{"sentences": ["a"], "beam_size": 2.5}', 422, "invalid_request", "beam_size"),
        ('{"sentences": ["a"], "sample": "yes"}', 422, "invalid_request", "sample"),
        ('{"sentences": ["a"], "beam": 4}', 422, "invalid_request", "beam: Extra inputs"),
        ('{"sentences": ["a"], "beam_size": 0}', 422, "invalid_request", "beam_size"),
        ('{"sentences": ["a"], "temperature": 0}', 422, "invalid_request", "temperature"),
        ('{"sentences": ["a"], "top_p": 1.5}', 422, "invalid_request", "top_p"),
        ('{"sentences": ["a"], "top_k": -1}', 422, "invalid_request", "top_k"),
        ('{"sentences": []}', 422, "no_sentences", "at least one"),
        ('{"sentences": ["a"], "beam_size": 7}', 422, "beam_too_large", "above 6"),
        ('{"sentences": ["a"], "beam_size": 2, "n_best": 3}', 422, "invalid_options", "n_best"),
        ('{"sentences": ["a"], "sample": true, "n_best": 2}', 422, "invalid_options", "n_best"),
    ],
)
def test_malformed_requests_get_a_json_error(
    client: TestClient, content: str, status: int, kind: str, fragment: str
) -> None:
    assert_error(post_raw(client, content), status, kind, fragment)
    assert client.post("/translate", json={"sentences": ["i like tea"]}).status_code == 200


def test_too_many_sentences(client: TestClient) -> None:
    response = client.post("/translate", json={"sentences": ["dog"] * 9})
    assert_error(response, 422, "too_many_sentences", "9 sentences", "at most 8")
    assert client.post("/translate", json={"sentences": ["dog"] * 8}).status_code == 200


def test_a_huge_sentence(client: TestClient) -> None:
    response = client.post("/translate", json={"sentences": ["dog", "a" * 201]})
    assert_error(response, 422, "sentence_too_long", "sentences[1]", "201 characters", "200")
    assert client.post("/translate", json={"sentences": ["a" * 200]}).status_code == 200


def test_a_body_too_large(client: TestClient) -> None:
    big = '{"sentences": ["' + "a" * 5000 + '"]}'
    assert_error(post_raw(client, big), 413, "body_too_large", "4096 bytes")


def test_a_chunked_body_too_large_without_content_length(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"sentences": ["'
        for _ in range(10):
            yield b"a" * 1000
        yield b'"]}'

    assert_error(post_raw(client, chunks()), 413, "body_too_large")  # type: ignore[arg-type]


def test_a_failing_decode_is_a_500_and_the_server_keeps_serving(exploding: Translator) -> None:
    translator = exploding
    app = create_app(translator, limits=TEST_LIMITS)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert_error(client.post("/translate", json={"sentences": ["boom"]}), 500, "internal_error")
        response = client.post("/translate", json={"sentences": ["i like tea"]})
        assert response.status_code == 200
        assert response.json()["translations"] == translator.translate(["i like tea"])
        assert client.get("/health").json()["status"] == "ok"


def test_health_reports_the_model_limits_and_counters(client: TestClient) -> None:
    client.post("/translate", json={"sentences": SENTENCES})
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model"] == "toy"
    assert health["max_source_tokens"] == 64
    assert health["limits"] == TEST_LIMITS.as_dict()
    assert (health["requests"], health["sentences"], health["batches"]) == (1, 3, 1)


def test_docs_and_openapi_describe_the_endpoints(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/translate", "/health"} <= set(schema["paths"])
    assert "413" in schema["paths"]["/translate"]["post"]["responses"]


def test_the_page_and_its_files_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'id="translate-form"' in page.text
    for name, kind in [("app.js", "javascript"), ("style.css", "css")]:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]


def test_document_requests_translate_paragraphs(client: TestClient, translator: Translator) -> None:
    paragraphs = ["i like tea. you see a big dog.", "", "we eat rice."]
    answer = client.post("/translate", json={"sentences": paragraphs, "document": True})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["translations"] == translator.translate_documents(paragraphs)
    assert [len(c) for c in body["candidates"]] == [2, 0, 1]  # one per sentence
    assert body["scores"] == [None, None, None]
    refused = client.post("/translate", json={"sentences": ["a."], "document": True, "n_best": 2})
    assert_error(refused, 422, "invalid_options", "paragraph")
