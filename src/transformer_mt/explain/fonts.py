"""A font for the figures that has Chinese characters, found through matplotlib's font manager.

matplotlib's default DejaVu Sans has no CJK glyphs: Chinese labels would show as empty boxes.
Any installed CJK family is used as a fallback after DejaVu Sans (Latin text keeps its look).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

from matplotlib import font_manager

# Families that cover simplified Chinese, in order of preference.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Arial Unicode MS",
)
FONT_FIX = "apt install fonts-wqy-microhei"
MISSING_FONT_WARNING = (
    "warning: no CJK font found; Chinese characters in the PNG figures will show as empty boxes "
    f"(fix: {FONT_FIX}; the HTML report's tables use the browser's fonts)"
)


# File names of CJK fonts, for fonts installed after matplotlib cached its font list.
CJK_FILE_HINTS = ("wqy", "notosanscjk", "notoserifcjk", "sourcehansans", "droidsansfallback")


@functools.cache
def find_cjk_font() -> str | None:
    """The first installed family of :data:`CJK_FAMILIES`, or ``None``.

    matplotlib caches its font list on first use; a font installed later (``apt install
    fonts-wqy-microhei`` after a first run) is found on disk and added to the font manager.
    """
    family = _known_cjk_family()
    if family is not None:
        return family
    for path in font_manager.findSystemFonts():
        if any(hint in Path(path).name.lower().replace("-", "") for hint in CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # unreadable font file: skip it
                continue
    return _known_cjk_family()


def _known_cjk_family() -> str | None:
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


_warned: list[bool] = []


def figure_fonts(warn: Callable[[str], None] | None = None) -> dict[str, object]:
    """matplotlib rc settings for the figures; warns once per process if no CJK font exists."""
    family = find_cjk_font()
    if family is None:
        if not _warned:
            (warn or _stderr)(MISSING_FONT_WARNING)
            _warned.append(True)
        return {"font.family": ["DejaVu Sans"]}
    return {"font.family": ["DejaVu Sans", family], "axes.unicode_minus": False}


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)
