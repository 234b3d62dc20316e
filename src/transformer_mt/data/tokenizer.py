"""SentencePiece subword tokenizers for the source and target languages.

A :class:`Tokenizer` holds two SentencePiece models, or one shared model when the vocabulary
is joint. Every model uses the same special ids (:data:`PAD_ID`, :data:`UNK_ID`, :data:`BOS_ID`,
:data:`EOS_ID`) and byte fallback, so no character (an emoji, a rare Chinese character) is ever
mapped to ``<unk>``: unseen characters become their UTF-8 bytes. Chinese needs no
pre-segmentation; SentencePiece learns pieces over raw characters.

On disk a tokenizer is a directory with ``tokenizer.json`` (a manifest) and ``spm.model``
(joint) or ``source.model`` and ``target.model`` (separate). A manifest with ``"kind":
"vocabulary"`` is an imported model's tokenizer, whose ids come from a vocabulary file
(:mod:`transformer_mt.data.vocabulary`); :meth:`Tokenizer.load` reads both kinds.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sentencepiece as spm

from transformer_mt.data.casing import SourceCasing, learn_casing, read_casing, write_casing
from transformer_mt.data.normalization import punctuation_keeping_normalizer
from transformer_mt.data.pairs import SentencePair
from transformer_mt.data.readers import Report
from transformer_mt.data.reduplication import doubled_characters, read_doubles, write_doubles
from transformer_mt.errors import DataError, UserError

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
MANIFEST_NAME = "tokenizer.json"

_MANIFEST_FORMAT = 1
_DEFAULT_SENTENCE_LIMIT = 1_000_000
_TRAINING_SEED = 1234
_NOT_DECODED = frozenset({PAD_ID, BOS_ID, EOS_ID})


@dataclass(frozen=True)
class _TrainerOptions:
    """The SentencePiece settings that vary between calls of :meth:`Tokenizer.train`."""

    vocab_size: int
    model_type: str
    character_coverage: float
    sentence_limit: int


class Tokenizer:
    """Source and target SentencePiece models (one shared model when joint)."""

    def __init__(
        self,
        source_model: spm.SentencePieceProcessor,
        target_model: spm.SentencePieceProcessor,
        *,
        joint: bool,
        target_doubles: frozenset[str] | None = None,
        source_casing: SourceCasing | None = None,
    ) -> None:
        self._source = source_model
        self._target = target_model
        self.joint = joint
        # CJK characters the training targets double (妈妈); None: not recorded (see
        # transformer_mt.data.reduplication)
        self.target_doubles = target_doubles
        # The sources' letter case conventions (transformer_mt.data.casing); None: not recorded
        self.source_casing = source_casing

    @classmethod
    def train(
        cls,
        pairs: Sequence[SentencePair],
        out_dir: Path,
        *,
        vocab_size: int = 8000,
        joint: bool = True,
        model_type: str = "unigram",
        character_coverage: float = 0.9995,
        seed_sentences_limit: int | None = None,
        report: Report = print,
    ) -> Tokenizer:
        """Train SentencePiece model(s) on ``pairs`` and save them in ``out_dir``.

        Args:
            pairs: training sentence pairs.
            out_dir: created if needed; receives the model file(s) and ``tokenizer.json``.
            vocab_size: pieces per model, special and byte-fallback pieces included. If the
                data cannot support this size (too small or too large), the nearest size
                SentencePiece accepts is used and ``report`` is told.
            joint: one model trained on both sides, else one model per side.
            model_type: ``"unigram"`` or ``"bpe"``.
            character_coverage: share of characters covered by character pieces; the rest
                fall back to bytes.
            seed_sentences_limit: at most this many sentences (randomly sampled, per model)
                are used for training; default one million; SentencePiece needs more than 100.
            report: receives notes about vocabulary size adjustments.

        Raises:
            UserError: for empty data or settings SentencePiece rejects.
        """
        if model_type not in ("unigram", "bpe"):
            raise UserError(f"model_type must be 'unigram' or 'bpe', got {model_type!r}")
        if seed_sentences_limit is not None and seed_sentences_limit <= 100:
            raise UserError(f"seed_sentences_limit must be above 100, got {seed_sentences_limit}")
        sources = [source for source, _ in pairs]
        targets = [target for _, target in pairs]
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        options = _TrainerOptions(
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            sentence_limit=seed_sentences_limit or _DEFAULT_SENTENCE_LIMIT,
        )
        if joint:
            source_file = target_file = "spm.model"
            models = {source_file: _train_model(sources + targets, options, report)}
        else:
            source_file, target_file = "source.model", "target.model"
            models = {
                source_file: _train_model(sources, options, report),
                target_file: _train_model(targets, options, report),
            }
        for file_name, model in models.items():
            (out_dir / file_name).write_bytes(model)
        doubles = doubled_characters(targets)
        write_doubles(out_dir, doubles)
        casing = learn_casing(sources)
        write_casing(out_dir, casing)
        tokenizer = cls(
            _processor(models[source_file]),
            _processor(models[target_file]),
            joint=joint,
            target_doubles=frozenset(doubles),
            source_casing=casing,
        )
        tokenizer.write_manifest(out_dir, source_file, target_file, model_type)
        return tokenizer

    @classmethod
    def load(cls, directory: Path) -> Tokenizer:
        """Load a tokenizer saved by :meth:`train` (or an imported model's, see module).

        Raises:
            DataError: if the manifest or a model file is missing or inconsistent.
        """
        directory = Path(directory)
        manifest_path = directory / MANIFEST_NAME
        manifest = _read_manifest(manifest_path)
        if manifest.get("kind") == "vocabulary":
            from transformer_mt.data.vocabulary import load_vocabulary_tokenizer

            return load_vocabulary_tokenizer(directory, manifest)
        processors = []
        for side in ("source", "target"):
            model_path = directory / manifest[f"{side}_model"]
            if not model_path.is_file():
                raise DataError(model_path, None, "no such file (listed in tokenizer.json)")
            processor = read_processor(model_path)
            check_model(processor, model_path, manifest[f"{side}_vocab_size"])
            processors.append(processor)
        return cls(
            processors[0],
            processors[1],
            joint=bool(manifest["joint"]),
            target_doubles=read_doubles(directory),
            source_casing=read_casing(directory),
        )

    @property
    def source_vocab_size(self) -> int:
        """Number of source pieces, special and byte pieces included."""
        return self._source.get_piece_size()

    @property
    def target_vocab_size(self) -> int:
        """Number of target pieces, special and byte pieces included."""
        return self._target.get_piece_size()

    @property
    def pad_id(self) -> int:
        """Padding id (:data:`PAD_ID`), shared by source and target."""
        return PAD_ID

    @property
    def unk_id(self) -> int:
        """Unknown-piece id (:data:`UNK_ID`)."""
        return UNK_ID

    @property
    def bos_id(self) -> int:
        """Beginning-of-sentence id (:data:`BOS_ID`)."""
        return BOS_ID

    @property
    def eos_id(self) -> int:
        """End-of-sentence id (:data:`EOS_ID`)."""
        return EOS_ID

    def encode_source(self, texts: Sequence[str]) -> list[list[int]]:
        """Source sentences to piece ids; no BOS/EOS added."""
        return self._source.encode(list(texts), out_type=int)

    def encode_target(self, texts: Sequence[str]) -> list[list[int]]:
        """Target sentences to piece ids; no BOS/EOS added."""
        return self._target.encode(list(texts), out_type=int)

    def decode_source(self, ids: Sequence[Sequence[int]]) -> list[str]:
        """Source piece ids to text; PAD, BOS and EOS ids are ignored."""
        return _decode(self._source, ids)

    def decode_target(self, ids: Sequence[Sequence[int]]) -> list[str]:
        """Target piece ids to text; PAD, BOS and EOS ids are ignored."""
        return _decode(self._target, ids)

    def source_pieces(self, text: str) -> list[str]:
        """The source pieces of one sentence, for inspection (``▁`` marks a word start)."""
        return self._source.encode(text, out_type=str)

    def target_pieces(self, text: str) -> list[str]:
        """The target pieces of one sentence, for inspection (``▁`` marks a word start)."""
        return self._target.encode(text, out_type=str)

    def source_id_pieces(self, ids: Sequence[int]) -> list[str]:
        """The source piece of each id, specials included (``<s>``, ``</s>``, ``<pad>``)."""
        return [self._source.id_to_piece(int(i)) for i in ids]

    def target_id_pieces(self, ids: Sequence[int]) -> list[str]:
        """The target piece of each id, specials included (``<s>``, ``</s>``, ``<pad>``)."""
        return [self._target.id_to_piece(int(i)) for i in ids]

    def target_piece_characters(self) -> list[int]:
        """For each target id, the characters its piece spells (the word-start mark ``▁``
        excluded); 0 for the special and byte-fallback pieces."""
        target = self._target
        return [
            0
            if target.is_control(i) or target.is_unknown(i) or target.is_byte(i)
            else len(target.id_to_piece(i).lstrip("\u2581"))
            for i in range(target.get_piece_size())
        ]

    def fallback_ids(self, side: str) -> frozenset[int]:
        """Ids of ``<unk>`` and the byte-fallback pieces on ``side`` (``source``/``target``):
        what text the tokenizer has no piece for becomes."""
        model = self._source if side == "source" else self._target
        return frozenset(i for i in range(model.get_piece_size()) if model.is_byte(i)) | {UNK_ID}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tokenizer):
            return NotImplemented
        return (
            self.joint == other.joint
            and self._source.serialized_model_proto() == other._source.serialized_model_proto()
            and self._target.serialized_model_proto() == other._target.serialized_model_proto()
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-style equality: not hashable

    def __repr__(self) -> str:
        return (
            f"Tokenizer(joint={self.joint}, source_vocab_size={self.source_vocab_size}, "
            f"target_vocab_size={self.target_vocab_size})"
        )

    def write_manifest(
        self, directory: Path, source_file: str, target_file: str, model_type: str
    ) -> None:
        """Write ``tokenizer.json`` describing these models (files already in ``directory``)."""
        manifest = {
            "format": _MANIFEST_FORMAT,
            "joint": self.joint,
            "source_model": source_file,
            "target_model": target_file,
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "model_type": model_type,
            "special_ids": {"pad": PAD_ID, "unk": UNK_ID, "bos": BOS_ID, "eos": EOS_ID},
        }
        text = json.dumps(manifest, indent=2) + "\n"
        (directory / MANIFEST_NAME).write_text(text, encoding="utf-8")


def model_files(directory: Path) -> tuple[Path, Path, bool]:
    """The source and target SentencePiece model files of a tokenizer directory, and whether
    they are one joint model (for exporters, which copy or read them).

    Raises:
        DataError: if the manifest is missing or malformed.
    """
    manifest = _read_manifest(Path(directory) / MANIFEST_NAME)
    source, target = (Path(directory) / manifest[f"{side}_model"] for side in ("source", "target"))
    return source, target, bool(manifest["joint"])


def pieces(model_file: Path) -> list[str]:
    """Every piece of a SentencePiece model file, in id order."""
    processor = read_processor(Path(model_file))
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def _train_model(sentences: list[str], options: _TrainerOptions, report: Report) -> bytes:
    """Train one SentencePiece model, adjusting a vocabulary size the data cannot support."""
    if not any(sentence.strip() for sentence in sentences):
        raise UserError("cannot train a tokenizer: there are no sentences")
    vocab_size = options.vocab_size
    for _attempt in range(3):
        try:
            return _run_trainer(sentences, options, vocab_size)
        except RuntimeError as error:
            message = str(error)
            fitted = _vocab_size_suggested_by(message)
            if fitted is None or fitted == vocab_size:
                raise UserError(f"SentencePiece training failed: {_last_line(message)}") from None
            report(f"tokenizer: vocab_size {vocab_size} does not fit the data; using {fitted}")
            vocab_size = fitted
    raise UserError(f"SentencePiece training failed: no usable vocab_size near {vocab_size}")


def _run_trainer(sentences: list[str], options: _TrainerOptions, vocab_size: int) -> bytes:
    spm.set_random_generator_seed(_TRAINING_SEED)  # sentence sampling and shuffling
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=vocab_size,
        model_type=options.model_type,
        character_coverage=options.character_coverage,
        pad_id=PAD_ID,
        unk_id=UNK_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        byte_fallback=True,
        normalizer=punctuation_keeping_normalizer(),  # nmt_nfkc, but keeps ，？！ (see module)
        input_sentence_size=options.sentence_limit,
        shuffle_input_sentence=True,
        num_threads=os.cpu_count() or 1,
        minloglevel=2,  # SentencePiece logs every training step to stderr otherwise
    )
    return model.getvalue()


_VOCAB_TOO_SMALL = re.compile(r"Vocabulary size is smaller than required_chars\. \d+ vs (\d+)")
_VOCAB_TOO_LARGE = re.compile(
    r"Vocabulary size too high \(\d+\)\. Please set it to a value <= (\d+)"
)


def _vocab_size_suggested_by(message: str) -> int | None:
    """The vocabulary size a SentencePiece 'size too small/large' error asks for, if any."""
    for pattern in (_VOCAB_TOO_SMALL, _VOCAB_TOO_LARGE):
        match = pattern.search(message)
        if match:
            return int(match.group(1))
    return None


def _last_line(message: str) -> str:
    return message.strip().splitlines()[-1] if message.strip() else "unknown error"


def _processor(model: bytes) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_proto=model)


def read_processor(path: Path) -> spm.SentencePieceProcessor:
    """A SentencePiece model file; a missing, truncated or foreign file is a :class:`DataError`."""
    try:
        return _processor(path.read_bytes())
    except OSError as error:
        raise DataError(path, None, f"cannot read ({error.strerror})") from None
    except RuntimeError:  # SentencePiece's "model_proto->ParseFromArray(...)" failure
        raise DataError(path, None, "not a readable SentencePiece model (truncated?)") from None


def _decode(processor: spm.SentencePieceProcessor, ids: Sequence[Sequence[int]]) -> list[str]:
    kept = [[int(i) for i in sequence if int(i) not in _NOT_DECODED] for sequence in ids]
    return processor.decode(kept)


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, None, "no such file (is this a tokenizer directory?)") from None
    except (OSError, ValueError) as error:
        raise DataError(path, None, f"unreadable tokenizer manifest ({error})") from None
    required = ("joint", "source_model", "target_model", "source_vocab_size", "target_vocab_size")
    missing = [key for key in required if not isinstance(manifest, dict) or key not in manifest]
    if missing:
        raise DataError(path, None, f"tokenizer manifest lacks {', '.join(missing)}")
    return manifest


def check_model(processor: spm.SentencePieceProcessor, path: Path, vocab_size: int) -> None:
    """A :class:`DataError` unless the model has our special ids and ``vocab_size`` pieces."""
    special = (processor.pad_id(), processor.unk_id(), processor.bos_id(), processor.eos_id())
    if special != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
        raise DataError(path, None, f"special ids (pad, unk, bos, eos) are {special}, not 0-3")
    if processor.get_piece_size() != vocab_size:
        problem = f"has {processor.get_piece_size()} pieces but tokenizer.json says {vocab_size}"
        raise DataError(path, None, problem)
