"""Cleaning of the two Bible texts before alignment (facts in docs/fine-tuning.md).

* WEB (an older World English Bible edition): psalm headings glued to the previous verse's end,
  Psalm 119's letter headings, the Song of Songs' speaker labels, `` ` `` for the apostrophe and
  ``[...]`` around supplied words.
* CUV (Chinese Union Version): psalm titles at verse 1, translator-note parentheticals
  (或譯, 原文, 古卷, ...), 【...】 notes, lone parentheses marking text-critical passages, and a
  few odd punctuation variants.
"""

from __future__ import annotations

import re

_PSALM_HEADING = re.compile(r"\s{2,}(Psalm \d+|BOOK [IVX]+)\b.*$")
_LETTER_HEADING = re.compile(
    r"\s{2,}(ALEPH|BET|GIMEL|DALET|HE|VAV|ZAYIN|HET|TET|YUD|KAF|LAMED|MEM|NUN|SAMEKH|AYIN|PE|"
    r"TZADI|QOF|RESH|SHIN|TAV)\b.*$"
)
_SPEAKER = re.compile(r"(^|\s{2,})(Beloved|Lover|Friends|Brothers)(?=\s{2,}|$)")
_NOTE_MARKERS = ("或譯", "原文", "古卷", "有譯", "下同", "的意思")
_INNERMOST = re.compile(r"（[^（）]*）")
_PUNCTUATION = str.maketrans({"‧": "·", "．": "·", "•": "·", "─": "—", "－": "—"})


def clean_english(text: str) -> str:
    """A WEB verse without headings, labels, backquotes and brackets, spaces collapsed."""
    text = _PSALM_HEADING.sub("", text)
    text = _LETTER_HEADING.sub("", text)
    text = _SPEAKER.sub(" ", text)
    text = text.replace("`", "'").replace("[", "").replace("]", "")
    return " ".join(text.split())


def clean_chinese(text: str, *, psalm_first_verse: bool = False) -> str:
    """A CUV verse without translator notes (innermost first) and with plain punctuation."""
    text = re.sub(r"【[^】]*】", "", text).replace("有古卷加：", "")
    if psalm_first_verse:
        text = re.sub(r"^（[^）]*）", "", text)  # the psalm's title (WEB has none in the verse)
    while True:
        notes = [m for m in _INNERMOST.finditer(text) if _is_note(m.group(0))]
        if not notes:
            break
        for match in reversed(notes):
            text = text[: match.start()] + text[match.end() :]
    text = re.sub(r"^(或作|又作)[^，。；]*[，。；]", "", text)
    if text.count("（") != text.count("）"):  # a lone parenthesis marks a disputed passage
        text = text.replace("（", "").replace("）", "")
    return "".join(text.translate(_PUNCTUATION).split())


def _is_note(parenthetical: str) -> bool:
    return any(marker in parenthetical for marker in _NOTE_MARKERS)
