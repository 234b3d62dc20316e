"""Tokenizers whose model ids come from a vocabulary file, not from SentencePiece (MarianMT).

An OPUS-MT model splits text with two SentencePiece models (``source.spm``, ``target.spm``)
and maps their pieces to model ids through ``vocab.json``, one id space shared by both sides
(or ``target_vocab.json`` for the target when the vocabularies are separate). Its special
tokens are wherever that file puts them: ``</s>`` = 0, ``<unk>`` = 1 and ``<pad>`` = the last
id in OPUS-MT, and decoding starts from ``<pad>``. :class:`VocabularyTokenizer` is a
:class:`~transformer_mt.data.tokenizer.Tokenizer` with that mapping, so every command uses it
unchanged. A multi-target model needs a language token such as ``>>cmn_Hans<<`` before every
source: the tokenizer adds its ``target_language``, unless a sentence starts with its own
``>>xx<<`` (as HF's ``MarianTokenizer`` reads it).

On disk (``tokenizer.json`` with ``"kind": "vocabulary"``) the directory holds the two
SentencePiece models, the vocabulary file(s) and the special tokens by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sentencepiece as spm

from transformer_mt.data.tokenizer import MANIFEST_NAME, Tokenizer, read_processor
from transformer_mt.errors import DataError, UserError

KIND = "vocabulary"
WORD_START = "\u2581"
_LANGUAGE_TOKEN = re.compile(r">>[^<>\s]+<<")
_BYTE_PIECE = re.compile(r"<0x[0-9A-F]{2}>")


@dataclass(frozen=True)
class SpecialTokens:
    """The special tokens by name; ``start`` begins every decoder input (``<pad>`` in Marian)."""

    pad: str = "<pad>"
    unk: str = "<unk>"
    eos: str = "</s>"
    start: str = "<pad>"


def read_vocabulary(path: Path) -> dict[str, int]:
    """A ``piece -> id`` JSON file; ids must be distinct non-negative integers."""
    try:
        vocabulary = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, None, "no such file") from None
    except (OSError, ValueError) as error:
        raise DataError(path, None, f"unreadable vocabulary ({error})") from None
    if not isinstance(vocabulary, dict) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in vocabulary.values()
    ):
        raise DataError(path, None, "not a JSON object mapping pieces to non-negative ids")
    if len(set(vocabulary.values())) != len(vocabulary):
        raise DataError(path, None, "two pieces share one id")
    return vocabulary


def language_tokens(vocabulary: dict[str, int]) -> list[str]:
    """The target-language tokens (``>>xx<<``) of a vocabulary, sorted."""
    return sorted(piece for piece in vocabulary if _LANGUAGE_TOKEN.fullmatch(piece))


class VocabularyTokenizer(Tokenizer):
    """SentencePiece pieces mapped to model ids through vocabularies (MarianMT's layout)."""

    def __init__(
        self,
        source_model: spm.SentencePieceProcessor,
        target_model: spm.SentencePieceProcessor,
        source_vocabulary: dict[str, int],
        target_vocabulary: dict[str, int],
        *,
        specials: SpecialTokens,
        target_language: str | None = None,
        sizes: tuple[int, int] = (0, 0),
    ) -> None:
        """``sizes``: the model's (source, target) vocabulary sizes, when larger than the
        vocabularies' highest id + 1 (ids without a piece)."""
        super().__init__(source_model, target_model, joint=source_vocabulary == target_vocabulary)
        self.source_vocabulary = source_vocabulary
        self.target_vocabulary = target_vocabulary
        self.specials = specials
        self.sizes = (
            max(sizes[0], max(source_vocabulary.values()) + 1),
            max(sizes[1], max(target_vocabulary.values()) + 1),
        )
        self._source_pieces = {i: piece for piece, i in source_vocabulary.items()}
        self._target_pieces = {i: piece for piece, i in target_vocabulary.items()}
        for name, token in vars(specials).items():
            if token not in target_vocabulary or token not in source_vocabulary:
                raise UserError(f"special token {name}={token!r} is not in the vocabulary")
        self.target_language = self._checked_language(target_language)

    def _checked_language(self, language: str | None) -> str | None:
        if language is None:
            return None
        token = language if language.startswith(">>") else f">>{language}<<"
        if token not in self.source_vocabulary:
            known = ", ".join(self.target_languages) or "none"
            raise UserError(f"target language {token} is not in the vocabulary (known: {known})")
        return token

    def with_target_language(self, language: str | None) -> VocabularyTokenizer:
        """The same tokenizer adding ``language`` (``cmn_Hans`` or ``>>cmn_Hans<<``) instead."""
        return VocabularyTokenizer(
            self._source,
            self._target,
            self.source_vocabulary,
            self.target_vocabulary,
            specials=self.specials,
            target_language=language,
            sizes=self.sizes,
        )

    @property
    def target_languages(self) -> list[str]:
        """The language tokens the source vocabulary has (several: a multi-target model)."""
        return language_tokens(self.source_vocabulary)

    @property
    def source_vocab_size(self) -> int:
        return self.sizes[0]

    @property
    def target_vocab_size(self) -> int:
        return self.sizes[1]

    @property
    def pad_id(self) -> int:
        return self.target_vocabulary[self.specials.pad]

    @property
    def unk_id(self) -> int:
        return self.target_vocabulary[self.specials.unk]

    @property
    def bos_id(self) -> int:
        """The decoder's start id (``<pad>`` in MarianMT)."""
        return self.target_vocabulary[self.specials.start]

    @property
    def eos_id(self) -> int:
        return self.target_vocabulary[self.specials.eos]

    def encode_source(self, texts: Sequence[str]) -> list[list[int]]:
        """Source sentences to ids, each after its target-language token; no ``</s>``."""
        return [self._encode_source(text) for text in texts]

    def _encode_source(self, text: str) -> list[int]:
        code = _LANGUAGE_TOKEN.match(text)
        prefix = code.group(0) if code else self.target_language
        text = text[code.end() :] if code else text
        pieces = self._source.encode(text, out_type=str)
        ids = self._ids(pieces, self.source_vocabulary)
        return ids if prefix is None else [self._ids([prefix], self.source_vocabulary)[0], *ids]

    def encode_target(self, texts: Sequence[str]) -> list[list[int]]:
        """Target sentences to ids; no start or end token."""
        pieces = self._target.encode(list(texts), out_type=str)
        return [self._ids(sentence, self.target_vocabulary) for sentence in pieces]

    def _ids(self, pieces: Sequence[str], vocabulary: dict[str, int]) -> list[int]:
        unk = vocabulary[self.specials.unk]
        return [vocabulary.get(piece, unk) for piece in pieces]

    def decode_source(self, ids: Sequence[Sequence[int]]) -> list[str]:
        """Source ids to text; special tokens are left out."""
        return [self._decode(self._source, self._source_pieces, sequence) for sequence in ids]

    def decode_target(self, ids: Sequence[Sequence[int]]) -> list[str]:
        """Target ids to text; special tokens (``<unk>`` included, as in HF) are left out."""
        return [self._decode(self._target, self._target_pieces, sequence) for sequence in ids]

    def _decode(
        self, model: spm.SentencePieceProcessor, pieces: dict[int, str], ids: Sequence[int]
    ) -> str:
        skipped = set(vars(self.specials).values())
        kept = [pieces.get(int(i), self.specials.unk) for i in ids]
        text = model.decode_pieces([piece for piece in kept if piece not in skipped])
        return str(text).replace(WORD_START, " ").strip()

    def source_id_pieces(self, ids: Sequence[int]) -> list[str]:
        return [self._source_pieces.get(int(i), self.specials.unk) for i in ids]

    def target_id_pieces(self, ids: Sequence[int]) -> list[str]:
        return [self._target_pieces.get(int(i), self.specials.unk) for i in ids]

    def target_piece_characters(self) -> list[int]:
        """Characters each target id spells; 0 for special, language and byte pieces."""
        counts = [0] * self.target_vocab_size
        skipped = set(vars(self.specials).values())
        for piece, i in self.target_vocabulary.items():
            plain = not (
                piece in skipped or _LANGUAGE_TOKEN.fullmatch(piece) or _BYTE_PIECE.fullmatch(piece)
            )
            counts[i] = len(piece.lstrip(WORD_START)) if plain else 0
        return counts

    def fallback_ids(self, side: str) -> frozenset[int]:
        """Ids of ``<unk>`` and byte pieces on ``side`` (``source`` or ``target``)."""
        vocabulary = self.source_vocabulary if side == "source" else self.target_vocabulary
        unk = vocabulary[self.specials.unk]
        return frozenset({unk} | {i for p, i in vocabulary.items() if _BYTE_PIECE.fullmatch(p)})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VocabularyTokenizer):
            return NotImplemented
        return (
            super().__eq__(other) is True
            and self.source_vocabulary == other.source_vocabulary
            and self.target_vocabulary == other.target_vocabulary
            and (self.specials, self.target_language) == (other.specials, other.target_language)
            and self.sizes == other.sizes
        )

    __hash__ = None  # type: ignore[assignment]  # equality by content: not hashable

    def __repr__(self) -> str:
        return (
            f"VocabularyTokenizer(source_vocab_size={self.source_vocab_size}, "
            f"target_vocab_size={self.target_vocab_size}, target_language={self.target_language})"
        )

    def save(self, directory: Path) -> None:
        """Write the models, vocabularies and manifest into ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "source.spm").write_bytes(self._source.serialized_model_proto())
        (directory / "target.spm").write_bytes(self._target.serialized_model_proto())
        target_vocab = "vocab.json" if self.joint else "target_vocab.json"
        for name, vocabulary in (("vocab.json", self.source_vocabulary),
                                 (target_vocab, self.target_vocabulary)):  # fmt: skip
            text = json.dumps(vocabulary, ensure_ascii=False, indent=1)
            (directory / name).write_text(text + "\n", encoding="utf-8")
        manifest = {
            "format": 1,
            "kind": KIND,
            "joint": self.joint,
            "source_model": "source.spm",
            "target_model": "target.spm",
            "source_vocab": "vocab.json",
            "target_vocab": target_vocab,
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "special_tokens": vars(self.specials),
            "target_language": self.target_language,
        }
        text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
        (directory / MANIFEST_NAME).write_text(text, encoding="utf-8")


def load_vocabulary_tokenizer(directory: Path, manifest: dict[str, Any]) -> VocabularyTokenizer:
    """The tokenizer :meth:`VocabularyTokenizer.save` wrote (``Tokenizer.load`` calls this)."""
    directory = Path(directory)
    required = ("source_vocab", "target_vocab", "special_tokens")
    missing = [key for key in required if key not in manifest]
    if missing:
        raise DataError(directory / MANIFEST_NAME, None, f"lacks {', '.join(missing)}")
    models = [
        read_processor(directory / manifest[f"{side}_model"]) for side in ("source", "target")
    ]
    source_vocabulary = read_vocabulary(directory / manifest["source_vocab"])
    target_vocabulary = (
        source_vocabulary
        if manifest["target_vocab"] == manifest["source_vocab"]
        else read_vocabulary(directory / manifest["target_vocab"])
    )
    return VocabularyTokenizer(
        models[0],
        models[1],
        source_vocabulary,
        target_vocabulary,
        specials=SpecialTokens(**manifest["special_tokens"]),
        target_language=manifest.get("target_language"),
        sizes=(int(manifest["source_vocab_size"]), int(manifest["target_vocab_size"])),
    )


def for_target_language(tokenizer: Tokenizer, language: str) -> Tokenizer:
    """``tokenizer`` adding ``language``'s token (``cmn_Hans`` or ``>>cmn_Hans<<``) to every
    source: a multi-target model's choice of output language.

    Raises:
        UserError: the model has no target-language tokens, or not this one.
    """
    if not isinstance(tokenizer, VocabularyTokenizer) or not tokenizer.target_languages:
        raise UserError(
            f"target language {language}: this model has no target-language tokens "
            "(only imported multi-target models such as opus-mt-en-mul have)"
        )
    return tokenizer.with_target_language(language)
