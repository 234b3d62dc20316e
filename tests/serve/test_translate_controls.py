"""``POST /translate`` with prefixes, constraints and alignments, and its 422s for bad ones."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from transformer_mt.decoding.pieces import split_words

SENTENCES = ["i like tea", "you see the big red car", "we eat rice today"]


def translate(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/translate", json={"sentences": SENTENCES, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_prefixes_and_constraints(client: TestClient) -> None:
    answer = translate(
        client, prefixes=["他们", None, "你"], constraints=[["鱼"], [], ["狗", "鸟"]]
    )
    first, _, third = answer["translations"]
    assert first.startswith("他们") and "鱼" in first
    assert third.startswith("你") and "狗" in third and "鸟" in third
    assert answer["alignments"] is None
    plain = translate(client)
    assert answer["translations"][1] == plain["translations"][1]


def test_alignments_for_every_candidate(client: TestClient) -> None:
    answer = translate(client, alignments=True, n_best=2)
    for source, candidates, pharaoh in zip(
        SENTENCES, answer["candidates"], answer["alignments"], strict=True
    ):
        best = candidates[0]
        assert pharaoh == " ".join(f"{i}-{j}" for i, j in best["alignment"])
        for candidate in candidates:
            targets = {j for _, j in candidate["alignment"]}
            assert targets == set(range(len(split_words(candidate["text"]))))
            assert all(0 <= i < len(source.split()) for i, _ in candidate["alignment"])


@pytest.mark.parametrize(
    ("body", "kind", "fragment"),
    [
        ({"constraints": [[""], [], []]}, "invalid_controls", "sentence 1: empty constraint"),
        ({"constraints": [["鱼" * 40], [], []]}, "invalid_controls", "over the output limit"),
        ({"prefixes": ["   ", None, None]}, "invalid_controls", "tokenizes to nothing"),
        ({"prefixes": ["我" * 40, None, None]}, "invalid_controls", "the prefix is 41 tokens"),
        ({"constraints": [["鱼"], [], []], "sample": True}, "invalid_controls", "not sampling"),
        ({"constraints": [["鱼", "狗"], [], []], "beam_size": 2}, "invalid_controls", "at least 3"),
        ({"prefixes": ["我"]}, "invalid_controls", "prefixes has 1 entries for 3 sentences"),
        ({"constraints": ["鱼", "狗", "鸟"]}, "invalid_request", "constraints"),
        ({"prefixes": [1, None, None]}, "invalid_request", "prefixes"),
        ({"constraints": [["鱼"], [], []], "document": True}, "invalid_options", "document"),
        ({"alignments": "yes"}, "invalid_request", "alignments"),
    ],
)
def test_bad_controls_are_422(client: TestClient, body: dict, kind: str, fragment: str) -> None:
    response = client.post("/translate", json={"sentences": SENTENCES, **body})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == kind
    assert fragment in response.json()["message"]


def test_a_phrase_over_the_character_limit_is_refused(client: TestClient) -> None:
    response = client.post(
        "/translate",
        json={"sentences": ["i like tea"], "constraints": [["鱼" * 300]]},  # max_chars 200
    )
    assert response.status_code == 422
    assert response.json()["error"] == "sentence_too_long"
