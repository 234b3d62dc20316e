"""Fine-tuning: ``train CONFIG --init-from RUN_DIR`` starts from a trained (or imported) run.

The parent run gives the architecture, the tokenizer (reused, never retrained) and the weights;
the config gives the data, dropout, the optimizer and its schedule (fresh), what to freeze and
the extra validation sets (the old domain, to watch forgetting). A model field the config sets
to something else than the parent's is a one-line error naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from torch import nn

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.artifacts.weights import load_model
from transformer_mt.config import ExperimentConfig
from transformer_mt.config.experiment import ModelConfig
from transformer_mt.config.loading import resolve_config_path
from transformer_mt.data.corpus import default_cache_dir, read_pairs
from transformer_mt.data.pairs import SentencePair
from transformer_mt.data.store import TokenStore
from transformer_mt.data.tatoeba import BUILTIN_DATASETS, load_builtin
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.errors import ConfigError, UserError
from transformer_mt.model.factory import ArchitectureConfig, Model
from transformer_mt.model.transformer import Transformer

Report = Callable[[str], None]
# Fields a fine-tuning config may change; every other model field is the parent's architecture.
TRAINING_ONLY = ("dropout", "attention_dropout", "init", "init_std")


def model_keys(config_path: str | Path, overrides: Iterable[str]) -> set[str]:
    """The ``model:`` keys a config file or its ``--set model.X=...`` overrides set."""
    try:
        raw = yaml.safe_load(resolve_config_path(config_path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        raw = None  # load_config has already accepted the file; nothing more to learn
    section = raw.get("model") if isinstance(raw, dict) else None
    keys = set(section) if isinstance(section, dict) else set()
    prefix = "model."
    return keys | {o.split("=", 1)[0][len(prefix) :] for o in overrides if o.startswith(prefix)}


def inherit(config: ExperimentConfig, set_keys: set[str]) -> ExperimentConfig:
    """``config`` with the parent run's architecture and tokenizer (``training.init_from``).

    Raises:
        ConfigError: a model field in ``set_keys`` that contradicts the parent, or a
            ``data.tokenizer`` other than the parent's.
    """
    parent = RunDir(Path(str(config.training.init_from)))
    parent_config = parent.read_model_config()
    architecture = {**parent_config.to_dict(), "kind": parent_config.kind}
    inherited = {}
    for spec in dataclasses.fields(ModelConfig):
        name, ours = spec.name, getattr(config.model, spec.name)
        theirs = architecture.get(name, ours)  # LSTM runs lack the Transformer-only fields
        if name in set_keys and name not in TRAINING_ONLY and ours != theirs:
            raise ConfigError(
                f"model.{name}={ours!r} contradicts the --init-from run {parent.path} "
                f"({name}={theirs!r}); the architecture is the parent's: leave model.{name} out"
            )
        inherited[name] = ours if name in set_keys and name in TRAINING_ONLY else theirs
    model = ModelConfig(**inherited)
    given = config.data.tokenizer
    if given is not None and _resolved(given) != _resolved(str(parent.tokenizer_dir)):
        raise ConfigError(
            f"data.tokenizer={given!r} contradicts --init-from {parent.path}: a fine-tuned "
            "model keeps its parent's tokenizer; leave data.tokenizer out"
        )
    data = dataclasses.replace(config.data, tokenizer=str(parent.tokenizer_dir.resolve()))
    return dataclasses.replace(config, model=model, data=data)


def _resolved(spec: Any) -> Any:
    path = Path(spec) if isinstance(spec, str) else None
    if path is not None and (path / "tokenizer").is_dir():
        path = path / "tokenizer"
    return path.resolve() if path is not None else spec


def parent_architecture(config: ExperimentConfig) -> ArchitectureConfig:
    """The parent's architecture with this config's dropout (fine-tuning may change it)."""
    parent = RunDir(Path(str(config.training.init_from)))
    architecture = parent.read_model_config()
    changes: dict[str, Any] = {"dropout": config.model.dropout}
    if hasattr(architecture, "attention_dropout"):
        changes["attention_dropout"] = config.model.attention_dropout
    return dataclasses.replace(architecture, **changes)


def parent_model(config: ExperimentConfig, tokenizer: Tokenizer, report: Report) -> Model:
    """A model with the parent's best weights (the run's architecture, this dropout)."""
    parent = RunDir(Path(str(config.training.init_from)))
    architecture = parent_architecture(config)
    if (
        tokenizer.source_vocab_size > architecture.src_vocab_size
        or tokenizer.target_vocab_size > architecture.tgt_vocab_size
    ):
        raise UserError(f"{parent.path}: its tokenizer has more ids than its model's vocabulary")
    weights = parent.require_weights()
    model = load_model(architecture, weights)
    report(f"fine-tuning: starting from {weights} (fresh optimizer and learning-rate schedule)")
    return model


def freeze(model: Model, groups: list[str], report: Report) -> None:
    """Keep the parameters of ``groups`` (embeddings, encoder) fixed during training."""
    chosen: list[nn.Parameter] = []
    if "embeddings" in groups:
        embedders = _embeddings(model)
        chosen += [p for module in embedders for p in module.parameters()]
    if "encoder" in groups:
        chosen += [p for p in _encoder(model).parameters()]
    for parameter in chosen:
        parameter.requires_grad_(False)
    if chosen:
        frozen = sum(p.numel() for p in {id(p): p for p in chosen}.values())
        report(f"fine-tuning: {', '.join(groups)} frozen ({frozen / 1e6:.2f}M parameters)")


def _embeddings(model: Model) -> list[nn.Module]:
    if isinstance(model, Transformer):
        return [model.source_embedder.tokens, model.target_embedder.tokens]
    return [model.source_embedding, model.target_embedding]


def _encoder(model: Model) -> nn.Module:
    if isinstance(model, Transformer):
        return nn.ModuleList([*model.encoder_layers, model.encoder_norm])
    return model.encoder


def report_fallback(store: TokenStore, tokenizer: Tokenizer, report: Report) -> None:
    """How much of the new training data the reused tokenizer spells with byte or ``<unk>``
    pieces (a high share: the tokenizer does not know the new domain's characters)."""
    shares = []
    for side in ("source", "target"):
        ids, _ = store.ids("train", side)  # (T,) the side's ids end to end, mapped
        shares.append(100 * fallback_share(ids, tokenizer.fallback_ids(side)))
    report(
        f"tokenizer (reused): {shares[0]:.2f}% of source and {shares[1]:.2f}% of target "
        "training tokens are byte or <unk> pieces"
    )


def fallback_share(ids: np.ndarray, fallback: Iterable[int], chunk: int = 1 << 22) -> float:
    """The share of ``ids (T,)`` that are ``fallback`` ids: one table lookup per id, read
    ``chunk`` ids at a time (a 10M-pair corpus is never copied whole)."""
    if not len(ids):
        return 0.0
    listed = np.fromiter(fallback, dtype=np.int64)
    table = np.zeros(max(int(ids.max()), int(listed.max(initial=0))) + 1, dtype=bool)  # (V,)
    table[listed] = True
    found = sum(int(table[ids[start : start + chunk]].sum()) for start in range(0, len(ids), chunk))
    return found / len(ids)


def extra_validation(config: ExperimentConfig, report: Report) -> dict[str, list[SentencePair]]:
    """``data.extra_valid``'s sets (a built-in dataset name means its validation split)."""
    sets = {}
    for name, spec in (config.data.extra_valid or {}).items():
        if isinstance(spec, str) and spec in BUILTIN_DATASETS:
            pairs = load_builtin(
                spec, direction=config.data.direction, cache_dir=default_cache_dir()
            ).valid
        else:
            pairs = read_pairs(spec, skip_invalid=config.data.skip_invalid, report=report)
        if not pairs:
            raise UserError(f"data.extra_valid.{name}: no pairs")
        sets[name] = pairs[: config.training.bleu_sentences]
    return sets
