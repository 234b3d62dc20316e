"""``prepare``: from corpus files to a token store, in two streaming passes.

1. *Scan*: read every training pair once; apply the text filters; keep an 8-byte digest of each
   surviving pair (duplicates are found from these with numpy at the end) and a reservoir
   sample for the tokenizer. Memory: about 9 bytes per pair, plus the sample.
2. *Tokenizer*: trained on the sample (or an existing one is copied).
3. *Encode*: read the pairs again, skip the dropped ones, tokenize chunk by chunk (SentencePiece
   encodes a chunk on every core), apply the token filters, append the ids to the store.

No step holds the whole corpus as Python objects, so ``prepare`` fits corpora larger than memory.

Shape letters: N pairs.
"""

from __future__ import annotations

import random
import shutil
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from transformer_mt.data.augmentation import Augmentation, augmented
from transformer_mt.data.cleaning import (
    FILTERS,
    CleaningOptions,
    CleaningReport,
    TextFilter,
    count_verdicts,
    first_occurrences,
    pair_digest,
    token_verdicts,
)
from transformer_mt.data.pairs import SentencePair
from transformer_mt.data.readers import Report
from transformer_mt.data.store import SIDES, StoreWriter, TokenStore, ids_dtype
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.errors import UserError

CHUNK_PAIRS = 50_000  # pairs tokenized per call: large enough for every core, small in memory
_SAMPLE_SEED = 1234


@dataclass(frozen=True)
class CorpusSource:
    """Where the pairs come from: ``train()`` reads the training pairs afresh on each call
    (``skipped`` counts malformed rows under skip_invalid; ``allow_empty`` passes empty sides
    on to the cleaning); ``valid`` is small and given whole."""

    train: Callable[[bool], Iterable[SentencePair]]  # allow_empty -> pairs
    valid: list[SentencePair]
    invalid_count: Callable[[], int] = lambda: 0  # rows skipped by the latest train() read


@dataclass(frozen=True)
class PrepareOptions:
    """Everything besides the corpus that decides a store's content."""

    cleaning: CleaningOptions
    vocab_size: int = 8000
    joint_vocab: bool = True
    tokenizer_sample: int = 1_000_000  # pairs the tokenizer is trained on (a random sample)
    tokenizer_dir: Path | None = None  # an existing tokenizer to use instead of training one
    augmentation: Augmentation = field(default_factory=Augmentation)  # copies as users type


@dataclass
class _Scan:
    """What the first pass learned: a verdict per pair read, and the tokenizer's sample."""

    verdicts: np.ndarray  # (N,) uint8: 0 keeps, else 1 + FILTERS index
    sample: list[SentencePair] = field(default_factory=list)
    report: CleaningReport = field(default_factory=CleaningReport)


def prepare_store(
    source: CorpusSource,
    options: PrepareOptions,
    path: Path,
    *,
    manifest: dict[str, Any],
    report: Report = print,
) -> TokenStore:
    """Clean, tokenize and write the corpus to a store at ``path`` (replacing an old one).

    ``manifest`` (key, settings, inputs) is recorded with the cleaning report and the files.

    Raises:
        UserError: no training pair survives the cleaning, or bad data (as the readers do).
    """
    with StoreWriter(path) as writer:
        scan = _scan(source, options, report)
        tokenizer_dir = writer.temporary / "tokenizer"
        tokenizer = _tokenizer(scan.sample, options, tokenizer_dir, report)
        scan.sample.clear()
        writer.add_file("tokenizer")
        # The same reading as the scan (same empty-side handling): the same pairs, in order.
        again = source.train(options.cleaning.on("empty"))
        kept = (pair for pair, verdict in zip(again, scan.verdicts, strict=True) if verdict == 0)
        if options.augmentation.active:
            kept = augmented(kept, options.augmentation)
        train_pairs = _write_split(writer, "train", kept, tokenizer, scan.report, options)
        if options.augmentation.active:
            report(f"prepare: {train_pairs} training pairs with the augmented copies")
        if train_pairs == 0:
            raise UserError(_nothing_left(scan.report, options.cleaning))
        valid_pairs = _write_split(writer, "valid", iter(source.valid), tokenizer, None, options)
        _write_text(writer.temporary / "valid.tsv", source.valid)
        writer.add_file("valid.tsv")
        for line in scan.report.lines(options.cleaning):
            report(line)
        splits = {"train": {"pairs": train_pairs}, "valid": {"pairs": valid_pairs}}
        cleaning = {"report": scan.report.to_dict(), "filters": list(options.cleaning.filters)}
        final = writer.commit({**manifest, "splits": splits, "cleaning": cleaning})
    return TokenStore.open(final)


def _scan(source: CorpusSource, options: PrepareOptions, report: Report) -> _Scan:
    """Pass 1: text filters, digests for the duplicates, a reservoir sample of kept pairs."""
    cleaning = options.cleaning
    text_filter = TextFilter(cleaning)
    verdicts, digests = array("B"), array("Q")
    sample: list[SentencePair] = []
    rng = random.Random(_SAMPLE_SEED)
    limit, kept = options.tokenizer_sample, 0
    for source_text, target_text in source.train(cleaning.on("empty")):
        verdict = text_filter.verdict(source_text, target_text)
        verdicts.append(0 if verdict is None else 1 + FILTERS.index(verdict))
        if verdict is not None:
            continue
        digests.append(pair_digest(source_text, target_text))
        kept += 1
        if len(sample) < limit:  # reservoir sampling (algorithm R): a uniform sample
            sample.append((source_text, target_text))
        elif (slot := rng.randrange(kept)) < limit:
            sample[slot] = (source_text, target_text)
    codes = np.frombuffer(verdicts, dtype=np.uint8).copy()  # (N,)
    scan = _Scan(codes, sample)
    scan.report.read, scan.report.invalid = len(codes), source.invalid_count()
    count_verdicts(codes, scan.report)
    if cleaning.on("duplicates"):
        survivors = np.flatnonzero(codes == 0)  # (K,) the pairs the digests belong to
        repeated = survivors[~first_occurrences(np.frombuffer(digests, dtype=np.uint64))]
        codes[repeated] = 1 + FILTERS.index("duplicates")
        scan.report.dropped["duplicates"] = len(repeated)
    report(f"prepare: read {len(codes)} training pairs; {int((codes == 0).sum())} pass the text")
    return scan


def _nothing_left(report: CleaningReport, cleaning: CleaningOptions) -> str:
    dropped = {name: count for name, count in report.dropped.items() if count}
    if list(dropped) == ["length"]:
        limit = cleaning.max_length
        return (
            f"data.max_length={limit}: all {report.read} training pairs are longer than {limit} "
            "tokens; nothing to train on (raise data.max_length)"
        )
    counts = ", ".join(f"{name} {count}" for name, count in dropped.items())
    return (
        f"the cleaning dropped all {report.read} training pairs ({counts}); nothing to train "
        "on (see data.clean)"
    )


def _tokenizer(
    sample: list[SentencePair], options: PrepareOptions, directory: Path, report: Report
) -> Tokenizer:
    if options.tokenizer_dir is not None:
        shutil.copytree(options.tokenizer_dir, directory)
        report(f"prepare: using the tokenizer {options.tokenizer_dir}")
        return Tokenizer.load(directory)
    if not sample:
        raise UserError("no training pair is left after cleaning; nothing to train a tokenizer on")
    report(f"prepare: training the tokenizer on {len(sample)} pairs")
    return Tokenizer.train(
        sample, directory, vocab_size=options.vocab_size, joint=options.joint_vocab, report=report
    )


def _write_split(
    writer: StoreWriter,
    split: str,
    pairs: Iterator[SentencePair],
    tokenizer: Tokenizer,
    cleaning: CleaningReport | None,
    options: PrepareOptions,
) -> int:
    """Tokenize ``pairs`` chunk by chunk into the split's arrays; with a ``cleaning`` report
    the token filters run and count their drops. Returns the pairs written."""
    vocab = max(tokenizer.source_vocab_size, tokenizer.target_vocab_size)
    ids = {side: writer.array(f"{split}.{side}.ids", ids_dtype(vocab)) for side in SIDES}
    offsets = {side: writer.array(f"{split}.{side}.offsets", np.dtype(np.int64)) for side in SIDES}
    ends = dict.fromkeys(SIDES, 0)
    for side in SIDES:
        offsets[side].append(np.zeros(1, dtype=np.int64))
    written = 0
    for chunk in _chunks(pairs, CHUNK_PAIRS):
        encoded = {
            "source": tokenizer.encode_source([source for source, _ in chunk]),
            "target": tokenizer.encode_target([target for _, target in chunk]),
        }
        lengths = {
            side: np.fromiter(map(len, encoded[side]), np.int64, len(chunk)) for side in SIDES
        }
        keep = np.ones(len(chunk), dtype=bool)  # (C,)
        if cleaning is not None:
            verdicts = token_verdicts(lengths["source"], lengths["target"], options.cleaning)
            count_verdicts(verdicts, cleaning)
            keep = verdicts == 0
        for side in SIDES:
            kept = [encoded[side][i] for i in np.flatnonzero(keep)]
            kept_lengths = lengths[side][keep]  # (K,)
            total = int(kept_lengths.sum())
            ids[side].append(np.fromiter(chain.from_iterable(kept), ids[side].dtype, total))
            offsets[side].append(ends[side] + np.cumsum(kept_lengths))
            ends[side] += total
        written += int(keep.sum())
    for side in SIDES:
        writer.add(ids[side].path.name, ids[side].close())
        writer.add(offsets[side].path.name, offsets[side].close())
    return written


def _chunks(pairs: Iterator[SentencePair], size: int) -> Iterator[list[SentencePair]]:
    chunk: list[SentencePair] = []
    for pair in pairs:
        chunk.append(pair)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_text(path: Path, pairs: list[SentencePair]) -> None:
    with open(path, "w", encoding="utf-8") as stream:
        for source, target in pairs:
            stream.write(f"{source}\t{target}\n")
