"""Micro-batching: concurrent requests share decodes and each gets its answer as if alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from transformer_mt.config import DecodingOptions
from transformer_mt.decoding.translator import Translation, Translator
from transformer_mt.serve.batcher import MicroBatcher, ModelWorker, OverloadedError

REQUESTS = [
    ["i like tea"],
    ["you see the big red car", "dog"],
    ["we eat rice today"],
    ["they read a new book at school now"],
    ["she drink water", "cat", "good old house"],
    ["he want fish"],
]


def texts(results: Sequence[Translation]) -> list[str]:
    return [result.text for result in results]


def assert_same(answer: Sequence[Translation], alone: Sequence[Translation]) -> None:
    """Same outputs; scores equal up to float summation order (batches pad differently)."""
    assert [[c.tokens for c in r.candidates] for r in answer] == [
        [c.tokens for c in r.candidates] for r in alone
    ]
    assert [c.score for r in answer for c in r.candidates] == pytest.approx(
        [c.score for r in alone for c in r.candidates], rel=1e-5
    )


def batched(
    translator: Translator,
    requests: list[tuple[list[str], DecodingOptions]],
    **settings: Any,
) -> tuple[list[list[Translation]], MicroBatcher[DecodingOptions, Translation], list[int]]:
    """Submit all requests at once; returns the answers, the batcher and each decode's size."""
    sizes: list[int] = []

    def decode(sentences: list[str], options: DecodingOptions) -> list[Translation]:
        sizes.append(len(sentences))
        return translator.translate_detailed(sentences, options)

    async def run() -> tuple[list[list[Translation]], MicroBatcher[DecodingOptions, Translation]]:
        worker = ModelWorker()
        batcher: MicroBatcher[DecodingOptions, Translation] = MicroBatcher(
            decode, worker, **settings
        )
        batcher.start()
        try:
            answers = await asyncio.gather(
                *(batcher.submit(s, o, mergeable=not o.sample) for s, o in requests)
            )
        finally:
            await batcher.stop()
            worker.close()
        return list(answers), batcher

    answers, batcher = asyncio.run(run())
    return answers, batcher, sizes


@pytest.mark.parametrize("beam_size", [1, 4])
def test_concurrent_requests_share_a_decode_and_get_their_own_answers(
    translator: Translator, beam_size: int
) -> None:
    options = DecodingOptions(beam_size=beam_size)
    answers, batcher, sizes = batched(translator, [(s, options) for s in REQUESTS])
    assert sizes == [sum(len(s) for s in REQUESTS)]  # one decode for all six requests
    assert batcher.stats.requests == len(REQUESTS) and batcher.stats.decodes == 1
    for sentences, answer in zip(REQUESTS, answers, strict=True):
        assert_same(answer, translator.translate_detailed(sentences, beam_size=beam_size))


def test_the_batch_budget_splits_the_queue(translator: Translator) -> None:
    options = DecodingOptions(beam_size=2)
    answers, _, sizes = batched(translator, [(s, options) for s in REQUESTS], max_batch_sentences=4)
    # Requests of 1, 2, 1, 1, 3, 1 sentences: whole requests in arrival order, at most 4 a decode.
    assert sizes == [4, 4, 1]
    for sentences, answer in zip(REQUESTS, answers, strict=True):
        assert texts(answer) == translator.translate(sentences, beam_size=2)


def test_different_options_are_decoded_apart(translator: Translator) -> None:
    greedy, beam = DecodingOptions(beam_size=1), DecodingOptions(beam_size=3)
    requests = [(s, greedy if i % 2 else beam) for i, s in enumerate(REQUESTS)]
    answers, batcher, sizes = batched(translator, requests)
    assert batcher.stats.decodes == 2 and sorted(sizes) == [4, 5]
    for (sentences, options), answer in zip(requests, answers, strict=True):
        assert_same(answer, translator.translate_detailed(sentences, options))


def test_sampling_requests_are_never_merged(translator: Translator) -> None:
    # A sampled sentence depends on the random draws of the others in its batch.
    options = DecodingOptions(sample=True, seed=5, temperature=1.5)
    answers, batcher, _ = batched(translator, [(s, options) for s in REQUESTS[:3]])
    assert batcher.stats.decodes == 3
    for sentences, answer in zip(REQUESTS, answers, strict=False):
        assert_same(answer, translator.translate_detailed(sentences, options))


def test_a_failed_decode_fails_only_its_requests() -> None:
    def decode(sentences: list[str], options: str) -> list[str]:
        if options == "bad":
            raise RuntimeError("broken")
        return [sentence.upper() for sentence in sentences]

    async def run() -> list[Any]:
        worker = ModelWorker()
        batcher: MicroBatcher[str, str] = MicroBatcher(decode, worker)
        batcher.start()
        first = await asyncio.gather(
            batcher.submit(["a"], "bad"), batcher.submit(["b"], "ok"), return_exceptions=True
        )
        after = await batcher.submit(["c"], "ok")  # the loop survived
        await batcher.stop()
        worker.close()
        return [*first, after]

    failed, good, after = asyncio.run(run())
    assert isinstance(failed, RuntimeError) and good == ["B"] and after == ["C"]


def test_a_full_queue_is_refused() -> None:
    async def run() -> None:
        worker = ModelWorker()
        batcher: MicroBatcher[str, str] = MicroBatcher(
            lambda s, _: s, worker, max_waiting_sentences=3
        )
        batcher.start()
        waiting = asyncio.ensure_future(batcher.submit(["a", "b"], "x"))
        await asyncio.sleep(0)  # queued, not yet taken
        with pytest.raises(OverloadedError):
            await batcher.submit(["c", "d"], "x")
        assert await waiting == ["a", "b"]
        await batcher.stop()
        worker.close()

    asyncio.run(run())


def test_concurrent_http_requests_are_batched(client: TestClient, translator: Translator) -> None:
    requests = REQUESTS * 2
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        responses = list(
            pool.map(
                lambda s: client.post("/translate", json={"sentences": s, "beam_size": 2}),
                requests,
            )
        )
    for sentences, response in zip(requests, responses, strict=True):
        assert response.status_code == 200
        assert response.json()["translations"] == translator.translate(sentences, beam_size=2)
    health = client.get("/health").json()
    assert health["requests"] == len(requests)
    assert health["batches"] < len(requests)
