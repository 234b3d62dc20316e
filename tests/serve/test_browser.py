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
    ("mode", "options"),
    [("beam", {"beam_size": 4}), ("greedy", {"beam_size": 1})],
)
def test_typing_a_sentence_shows_its_translation(
    page: sync_api.Page, translator: Translator, mode: str, options: dict[str, int]
) -> None:
    sentence = "we eat rice today"
    page.check(f'input[name="mode"][value="{mode}"]')
    page.fill("#source", sentence)
    page.click("#translate")
    expected = translator.translate([sentence], **options)[0]
    sync_api.expect(page.locator("#translation")).to_have_text(expected)
    assert page.locator("#error").is_hidden()


def test_an_over_limit_sentence_shows_the_servers_message(page: sync_api.Page) -> None:
    page.fill("#source", "tea " * 60)  # 240 characters, above the test limit of 200
    page.click("#translate")
    sync_api.expect(page.locator("#error")).to_contain_text("at most 200 per sentence")
