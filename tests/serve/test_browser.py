"""The web page in a real browser: Debian's Chromium, driven by Playwright, against uvicorn.

Playwright's own browser download is never used: the test launches ``/usr/bin/chromium`` (Debian
package ``chromium``) and is skipped, with the reason shown, where it is not installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from serve.support import TEST_LIMITS, live_server
from transformer_mt.decoding.translator import Translator
from transformer_mt.explain.attention import attention_maps
from transformer_mt.explain.trace import beam_trace, greedy_trace
from transformer_mt.serve.app import create_app

CHROMIUM = Path(os.environ.get("TRANSFORMER_MT_CHROMIUM", "/usr/bin/chromium"))

if not CHROMIUM.exists():
    pytest.skip(
        f"browser test needs Chromium at {CHROMIUM} (apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture(scope="module")
def base_url(translator: Translator) -> Iterator[str]:
    with live_server(create_app(translator, limits=TEST_LIMITS, model_name="toy")) as url:
        yield url


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[sync_api.Page]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.goto(base_url)
        yield page
        browser.close()


@pytest.mark.parametrize(
    ("mode", "sentence", "beam_size"),
    [("beam", "we eat rice today", 4), ("greedy", "i like tea", 1)],
)
def test_a_translation_with_its_attention_figures_and_trace(
    page: sync_api.Page, translator: Translator, mode: str, sentence: str, beam_size: int
) -> None:
    page.check(f'input[name="mode"][value="{mode}"]')
    page.fill("#source", sentence)
    page.click("#translate")
    expected = translator.translate([sentence], beam_size=beam_size)[0]
    expect = sync_api.expect
    expect(page.locator("#translation")).to_have_text(expected)
    expect(page.locator("#error")).to_be_hidden()

    # The alignment: one cell per (output token, source token), labelled with the tokens.
    maps = attention_maps(translator, sentence, expected)
    rows, columns = maps.alignment.shape
    expect(page.locator("#explain")).to_be_visible()
    expect(page.locator("#alignment svg rect.cell")).to_have_count(rows * columns)
    row_labels = page.locator("#alignment svg text.row-label").all_text_contents()
    assert row_labels == maps.output_tokens
    assert any("\u4e00" <= char <= "\u9fff" for char in "".join(row_labels))  # Chinese

    # Per-head maps of the chosen attention and layer: one figure per head.
    expect(page.locator("#heads figure")).to_have_count(maps.num_heads)
    page.select_option("#map-kind", "encoder")
    source_cells = len(maps.source_tokens) ** 2
    expect(page.locator("#heads figure").first.locator("rect.cell")).to_have_count(source_cells)

    # The trace of the search that was asked for: one table row per step, plus the header.
    if mode == "beam":
        steps = len(beam_trace(translator, sentence, beam_size=beam_size).steps)
    else:
        steps = len(greedy_trace(translator, sentence).steps)
    expect(page.locator("#trace table tr")).to_have_count(steps + 1)


def test_an_over_limit_sentence_shows_the_servers_message(page: sync_api.Page) -> None:
    page.fill("#source", "tea " * 60)  # 240 characters, above the test limit of 200
    page.click("#translate")
    sync_api.expect(page.locator("#error")).to_contain_text("at most 200 per sentence")


def test_sampling_uses_the_pages_options(page: sync_api.Page, translator: Translator) -> None:
    sentence = "they read a new book"
    page.check('input[name="mode"][value="sample"]')
    page.fill("#temperature", "1.5")
    page.fill("#seed", "11")
    page.fill("#source", sentence)
    page.click("#translate")
    expected = translator.translate([sentence], sample=True, temperature=1.5, top_p=0.9, seed=11)
    sync_api.expect(page.locator("#translation")).to_have_text(expected[0])


def test_chinese_input_is_shown_in_the_figures(page: sync_api.Page, translator: Translator) -> None:
    sentence = "我喝茶"  # the toy model's joint vocabulary covers the Chinese side too
    page.check('input[name="mode"][value="greedy"]')
    page.fill("#source", sentence)
    page.click("#translate")
    expected = translator.translate([sentence], beam_size=1)[0]
    sync_api.expect(page.locator("#translation")).to_have_text(expected)
    maps = attention_maps(translator, sentence, expected)
    sync_api.expect(page.locator("#alignment svg text.column-label")).to_have_text(
        maps.source_tokens
    )
    assert "茶" in "".join(maps.source_tokens)


def test_prefix_terms_and_the_word_alignment(page: sync_api.Page, translator: Translator) -> None:
    sentence = "you see the big red car"
    page.check('input[name="mode"][value="beam"]')
    page.fill("#source", sentence)
    page.fill("#prefix", "他")
    page.fill("#terms", "鱼，狗")
    page.click("#translate")
    [expected] = translator.translate_detailed(
        [sentence], prefixes=["他"], constraints=[["鱼", "狗"]], alignments=True
    )
    best = expected.candidates[0]
    sync_api.expect(page.locator("#translation")).to_have_text(best.text)
    assert best.text.startswith("他") and "鱼" in best.text and "狗" in best.text
    # Next to the heatmap: one line per aligned pair, the words on both sides.
    assert best.alignment is not None
    sync_api.expect(page.locator("#word-alignment svg line.link")).to_have_count(
        len(best.alignment)
    )
    words = page.locator("#word-alignment svg text.source-word").all_text_contents()
    assert words == sentence.split()
    targets = page.locator("#word-alignment svg text.target-word").all_text_contents()
    assert "".join(targets) == best.text
    pharaoh = " ".join(f"{i}-{j}" for i, j in best.alignment)
    sync_api.expect(page.locator("#word-alignment .pharaoh")).to_have_text(f"Pharaoh: {pharaoh}")
    page.fill("#prefix", "")
    page.fill("#terms", "")
