"""Rendering: the CJK font search and its warning, and PNGs of every figure kind."""

from __future__ import annotations

import pytest

from transformer_mt.decoding.translator import Translator
from transformer_mt.explain import fonts
from transformer_mt.explain.explanation import explain
from transformer_mt.explain.report import figure_files, render_html


def test_missing_cjk_font_warns_once_and_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "find_cjk_font", lambda: None)
    monkeypatch.setattr(fonts, "_warned", [])
    messages: list[str] = []
    assert fonts.figure_fonts(messages.append) == {"font.family": ["DejaVu Sans"]}
    fonts.figure_fonts(messages.append)
    assert len(messages) == 1 and "\n" not in messages[0]
    assert "apt install fonts-wqy-microhei" in messages[0]


def test_an_installed_cjk_font_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "find_cjk_font", lambda: "WenQuanYi Micro Hei")
    settings = fonts.figure_fonts(lambda m: pytest.fail(m))
    assert settings["font.family"] == ["DejaVu Sans", "WenQuanYi Micro Hei"]


def test_the_font_search_finds_wqy_when_installed() -> None:
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not set(fonts.CJK_FAMILIES) & installed:
        pytest.skip(f"no CJK font installed ({fonts.FONT_FIX} to test this)")
    assert fonts.find_cjk_font() in installed


def test_report_sections_follow_the_requested_sections(translator: Translator) -> None:
    explanation = explain(translator, "i like tea", "我喜茶", sections=["shift", "trace"])
    names = [name for name, _, _ in figure_files(explanation)]
    assert names == ["teacher-forcing.png", "greedy-trace.png", "beam-trace.png"]
    html = render_html(explanation, {name: b"png" for name in names})
    assert html.count("data:image/png;base64,cG5n") == 3  # base64 of b"png"
    assert "我喜茶" in html and "Teacher forcing" in html


def test_a_font_installed_after_matplotlib_cached_its_list_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from matplotlib import font_manager

    cjk = [f for f in font_manager.fontManager.ttflist if f.name in fonts.CJK_FAMILIES]
    if not cjk:
        pytest.skip(f"no CJK font installed ({fonts.FONT_FIX} to test this)")
    stale = [f for f in font_manager.fontManager.ttflist if f.name not in fonts.CJK_FAMILIES]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    fonts.find_cjk_font.cache_clear()
    try:
        assert fonts.find_cjk_font() in fonts.CJK_FAMILIES
    finally:
        fonts.find_cjk_font.cache_clear()
