"""Text normalisation rules for SentencePiece: NMT-NFKC that keeps full-width punctuation.

SentencePiece's built-in ``nmt_nfkc`` rule folds full-width punctuation to ASCII (``，`` -> ``,``,
``？`` -> ``?``) and the ellipsis ``…`` to ``...``. That is harmless for a source sentence but
wrong for a Chinese *target*: the model could then only ever write ASCII punctuation, and BLEU
against Chinese references (which use ``，。？！``) would count every such mark as an error.

We therefore derive a rule table from the built-in ``nmt_nfkc`` normaliser itself, code point
by code point (plus the canonical compositions, such as ``e`` + combining acute -> ``é``), and
leave out the characters in :data:`KEPT_CHARACTERS`. The compiled table travels inside each
trained model, so loading a model never needs it again.
"""

from __future__ import annotations

import functools
import sys
import tempfile
import unicodedata
from pathlib import Path

import sentencepiece as spm

_FULL_WIDTH_PUNCTUATION_RANGES = (
    (0xFF01, 0xFF0F),  # ！＂＃＄％＆＇（）＊＋，－．／
    (0xFF1A, 0xFF20),  # ：；＜＝＞？＠
    (0xFF3B, 0xFF40),  # ［＼］＾＿｀
    (0xFF5B, 0xFF60),  # ｛｜｝～⦅⦆
)
KEPT_CHARACTERS = frozenset(
    [chr(code) for low, high in _FULL_WIDTH_PUNCTUATION_RANGES for code in range(low, high + 1)]
    + ["…"]
)
"""Characters that ``nmt_nfkc`` would rewrite but that we keep as they are."""


def builtin_nmt_nfkc() -> spm.SentencePieceNormalizer:
    """SentencePiece's own ``nmt_nfkc`` normaliser, without whitespace handling."""
    return spm.SentencePieceNormalizer(
        rule_name="nmt_nfkc",
        add_dummy_prefix=False,
        escape_whitespaces=False,
        remove_extra_whitespaces=False,
    )


@functools.lru_cache(maxsize=1)
def normalization_rules_tsv() -> str:
    """The rule table in SentencePiece's TSV format: ``source code points<TAB>target``.

    Takes about two seconds to derive; the result is cached for the process.
    """
    builtin = builtin_nmt_nfkc()
    rules: dict[str, str] = {}
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue  # surrogates cannot appear in text
        character = chr(code)
        _add_rule(rules, builtin, character)
        decomposed = unicodedata.normalize("NFD", character)
        if len(decomposed) > 1:
            _add_rule(rules, builtin, decomposed)
    return "".join(f"{_hex(source)}\t{_hex(target)}\n" for source, target in rules.items())


def punctuation_keeping_normalizer() -> spm.SentencePieceNormalizer:
    """A normaliser compiled from :func:`normalization_rules_tsv`, ready for the trainer.

    Pass it as ``normalizer=`` to ``SentencePieceTrainer.train``.
    """
    return spm.SentencePieceNormalizer(normalizer_spec=_compiled_spec())


@functools.lru_cache(maxsize=1)
def _compiled_spec() -> bytes:
    spm.set_min_log_level(2)  # compiling rules logs to stderr; the trainer gets the same level
    with tempfile.TemporaryDirectory() as scratch:
        rules_path = Path(scratch) / "rules.tsv"
        rules_path.write_text(normalization_rules_tsv(), encoding="utf-8")
        spec = spm.SentencePieceNormalizer(rule_tsv=str(rules_path)).serialized_normalizer_spec()
    # The spec remembers the rule file's (temporary) path in field 6, normalization_rule_tsv;
    # the trainer refuses a spec carrying both that path and the compiled rules, and the path
    # would make otherwise identical models differ. Drop it.
    return _without_field(spec, _RULE_TSV_FIELD)


_RULE_TSV_FIELD = 6  # NormalizerSpec.normalization_rule_tsv in sentencepiece_model.proto


def _without_field(message: bytes, field_number: int) -> bytes:
    """Remove a top-level field from a serialised protobuf message (wire types 0 and 2 only)."""
    kept = []
    position = 0
    while position < len(message):
        start = position
        key, position = _read_varint(message, position)
        wire_type = key & 0b111
        if wire_type == 0:
            _, position = _read_varint(message, position)
        elif wire_type == 2:
            length, position = _read_varint(message, position)
            position += length
        else:
            raise ValueError(f"unexpected protobuf wire type {wire_type} in a NormalizerSpec")
        if key >> 3 != field_number:
            kept.append(message[start:position])
    return b"".join(kept)


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def _add_rule(rules: dict[str, str], builtin: spm.SentencePieceNormalizer, text: str) -> None:
    if any(character in KEPT_CHARACTERS for character in text):
        return
    normalized = builtin.normalize(text)
    if normalized != text:
        rules[text] = normalized


def _hex(text: str) -> str:
    return " ".join(f"{ord(character):X}" for character in text)
