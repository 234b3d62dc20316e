"""``transformer-mt prepare``: a config's corpus cleaned, tokenized and written to a token store.

``train`` calls :func:`prepared_store` itself: it reuses the store when its key (the inputs'
content and the data/tokenizer settings) still matches, and prepares it otherwise. A store whose
files no longer match its manifest is an error that says to re-run ``prepare``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from transformer_mt.config import ExperimentConfig, with_absolute_paths
from transformer_mt.config.experiment import DataConfig
from transformer_mt.data.augmentation import Augmentation
from transformer_mt.data.cleaning import CleaningOptions
from transformer_mt.data.corpus import default_cache_dir, read_pairs
from transformer_mt.data.pairs import SentencePair
from transformer_mt.data.preparation import CorpusSource, PrepareOptions, prepare_store
from transformer_mt.data.readers import SkipLog
from transformer_mt.data.reuse import reused_tokenizer
from transformer_mt.data.sources import InputFile, corpus_parts
from transformer_mt.data.store import TokenStore, read_manifest
from transformer_mt.data.tatoeba import TATOEBA_CREDIT, load_builtin, tatoeba_path
from transformer_mt.errors import UserError

Report = Callable[[str], None]
STORE_VERSION = 1  # bump when the preparation changes what a store holds for the same settings


def prepare(config: ExperimentConfig, report: Report = print) -> TokenStore:
    """Prepare (or re-prepare) the config's token store and verify it; returns it opened."""
    return prepared_store(config, report, force=True)


def prepared_store(
    config: ExperimentConfig,
    report: Report = print,
    *,
    force: bool = False,
    tokenizer: Path | None = None,
) -> TokenStore:
    """The config's store: reused when current (nothing is read or tokenized), else prepared.
    ``tokenizer``: a tokenizer folder to use instead of ``data.tokenizer`` or training one (a
    resumed run's own).

    Raises:
        UserError: bad data or settings; StoreDamagedError: a store that fails its checks.
    """
    data = with_absolute_paths(config).data
    tokenizer = tokenizer or _tokenizer_dir(data)
    settings = store_settings(data, tokenizer)
    path = store_path(data, settings)
    manifest = None if force else read_manifest(path)
    if manifest is not None and _current(manifest, settings):
        started = time.perf_counter()
        store = TokenStore.open(path)
        store.verify()
        report(
            f"data: reusing the token store {path} ({store.pairs('train')} training pairs, "
            f"checked in {time.perf_counter() - started:.1f}s); nothing to tokenize"
        )
        return store
    # Said once the data has been read: a data error stays the only line (a one-line error).
    reason = "new" if manifest is None else "the inputs or settings changed"
    started = time.perf_counter()
    source, files = corpus_source(data, report)
    inputs = [InputFile.of(file) for file in files]
    record = {
        "key": _digest({"settings": settings, "inputs": [i.blake2b for i in inputs]}),
        "settings": settings,
        "inputs": [vars(i) for i in inputs],
    }
    store = prepare_store(source, _options(data, tokenizer), path, manifest=record, report=report)
    report(
        f"data: prepared the token store {path} ({reason}) in {time.perf_counter() - started:.1f}s"
    )
    return store


def store_settings(data: DataConfig, tokenizer: Path | None) -> dict[str, Any]:
    """Everything besides the inputs' bytes that decides the store's content."""
    settings = {
        "version": STORE_VERSION,
        "dataset": data.dataset,
        "direction": data.direction if data.dataset else None,
        "train": data.train,
        "valid": data.valid,
        "skip_invalid": data.skip_invalid,
        "vocab_size": data.vocab_size,
        "joint_vocab": data.joint_vocab,
        "max_length": data.max_length,
        "clean": sorted(data.clean),
        "max_ratio": data.max_ratio,
        "languages": data.languages,
        "tokenizer_sample": data.tokenizer_sample,
    }
    if data.augment_unpunctuated or data.augment_lowercased:  # older stores keep their key
        settings["augment"] = [data.augment_unpunctuated, data.augment_lowercased]
    if tokenizer is not None:
        settings["tokenizer"] = _digest(
            {
                p.name: hashlib.blake2b(p.read_bytes()).hexdigest()
                for p in sorted(tokenizer.iterdir())
            }
        )
    return settings


def store_path(data: DataConfig, settings: dict[str, Any]) -> Path:
    """``data.store``, or a cache folder named after the settings (which hold the input paths)."""
    if data.store is not None:
        return Path(data.store)
    return default_cache_dir() / "stores" / _digest(settings)[:16]


def corpus_source(data: DataConfig, report: Report) -> tuple[CorpusSource, list[Path]]:
    """The pairs the config names, and the files they come from (for the store's key)."""
    if data.dataset is not None:
        splits = load_builtin(data.dataset, direction=data.direction, cache_dir=default_cache_dir())
        report(TATOEBA_CREDIT)
        train = splits.train
        return CorpusSource(train=lambda _: iter(train), valid=splits.valid), [tatoeba_path()]
    parts = corpus_parts(data.train)
    valid = read_pairs(data.valid, skip_invalid=data.skip_invalid, report=report)
    if not valid:
        raise UserError("the validation split is empty")
    invalid, passes = [0], [0]

    def train_pairs(allow_empty: bool) -> Iterable[SentencePair]:
        invalid[0], passes[0] = 0, passes[0] + 1
        for part in parts:
            skipped = SkipLog(with_file=part.target is not None)
            yield from part.pairs(skipped if data.skip_invalid else None, allow_empty=allow_empty)
            invalid[0] += skipped.count
            if passes[0] == 1:  # the same rows are skipped again on the second pass
                skipped.report(report, part.label)

    files = [file for part in parts for file in part.files]
    files += [file for part in corpus_parts(data.valid) for file in part.files]
    return CorpusSource(train_pairs, valid, invalid_count=lambda: invalid[0]), files


def _options(data: DataConfig, tokenizer: Path | None) -> PrepareOptions:
    languages = tuple(data.languages) if data.languages else None
    cleaning = CleaningOptions(
        filters=tuple(data.clean),
        max_length=data.max_length,
        max_ratio=data.max_ratio,
        languages=languages,  # type: ignore[arg-type]  # two codes, checked by DataConfig
    )
    return PrepareOptions(
        cleaning=cleaning,
        vocab_size=data.vocab_size,
        joint_vocab=data.joint_vocab,
        tokenizer_sample=data.tokenizer_sample,
        tokenizer_dir=tokenizer,
        augmentation=Augmentation(data.augment_unpunctuated, data.augment_lowercased),
    )


def _tokenizer_dir(data: DataConfig) -> Path | None:
    """``data.tokenizer`` (when the config has it): a tokenizer folder, a run directory or
    SentencePiece model file(s) (:mod:`transformer_mt.data.reuse`)."""
    if data.tokenizer is None:
        return None
    return reused_tokenizer(data.tokenizer, default_cache_dir() / "tokenizers")


def _current(manifest: dict[str, Any], settings: dict[str, Any]) -> bool:
    """Whether a store was made with these settings from inputs that are unchanged."""
    if manifest.get("settings") != json.loads(json.dumps(settings)):
        return False
    try:
        inputs = [InputFile(**entry) for entry in manifest.get("inputs", [])]
    except TypeError:
        return False
    return all(entry.unchanged() for entry in inputs)


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
