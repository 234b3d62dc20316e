"""Experiment configuration: frozen, validated dataclasses loaded from commented YAML presets.

A config has four sections, ``data``, ``model``, ``training`` and ``evaluation``, plus ``run_dir``.
Command-line overrides use dotted keys (``--set training.lr=5e-4``); an unknown key is an error
that lists the valid ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformer_mt.config.decoding import DecodingOptions
from transformer_mt.config.finetuning import check_extra_valid, check_freeze, check_tokenizer_spec
from transformer_mt.data.cleaning import DEFAULT_FILTERS, FILTERS
from transformer_mt.data.tokenizer import BOS_ID, EOS_ID, PAD_ID
from transformer_mt.errors import ConfigError
from transformer_mt.model.config import TransformerConfig
from transformer_mt.model.factory import MODEL_KINDS, ArchitectureConfig
from transformer_mt.model.lstm_config import LSTMConfig
from transformer_mt.ranges import (
    AT_LEAST_ONE,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    Range,
    first_range_problem,
)

DIRECTIONS = ("en-zh", "zh-en")
PRECISIONS = ("fp32", "bf16", "fp16")
SCHEDULES = ("inverse_sqrt", "linear")  # learning-rate decay after the warmup
STOPPING_METRICS = ("valid_bleu", "valid_loss")


@dataclass(frozen=True)
class DataConfig:
    dataset: str | None = "tatoeba-en-zh"  # built-in dataset, or null to use the files below
    direction: str = "en-zh"  # for the built-in dataset: en-zh or zh-en
    train: list[str] | str | None = None  # TSV path, or [source_file, target_file]
    valid: list[str] | str | None = None
    test: list[str] | str | None = None
    skip_invalid: bool = False  # skip malformed rows (with a printed count) instead of failing
    vocab_size: int = 8000  # SentencePiece vocabulary size (per model)
    joint_vocab: bool = True  # one SentencePiece model for both languages
    max_length: int = 128  # training pairs longer than this (in tokens) are left out
    # The token store `prepare` writes and `train` reads (docs/data.md): null = a folder in the
    # cache ($TRANSFORMER_MT_CACHE/stores) named after the inputs and these settings.
    store: str | None = None
    # Cleaning filters applied to the training pairs, each counted in the report:
    # empty, control, identical, language, duplicates, length (max_length), ratio (max_ratio).
    clean: list[str] = field(default_factory=lambda: list(DEFAULT_FILTERS))
    max_ratio: float = 9.0  # "ratio": drop pairs with one side this many times longer (tokens)
    languages: list[str] | None = None  # "language": [source, target] py3langid codes
    tokenizer_sample: int = 1_000_000  # training pairs sampled to train the tokenizer on
    # Copies of training pairs as users type (data/augmentation.py): this share of the pairs is
    # added again without the final punctuation (both sides), and this share with the source's
    # first letter in lower case.
    augment_unpunctuated: float = 0.0
    augment_lowercased: float = 0.0
    # Reuse a tokenizer instead of training one: a run directory, its tokenizer/ folder, or
    # SentencePiece model file(s) (one joint .model, or [source.model, target.model]).
    tokenizer: list[str] | str | None = None
    # More validation sets scored at each BLEU check as valid_bleu/NAME (while fine-tuning: the
    # old domain, to see forgetting). NAME: a TSV path, [source, target] or a built-in dataset.
    extra_valid: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        check_tokenizer_spec(self.tokenizer)
        check_extra_valid(self.extra_valid)
        if self.dataset is None and self.train is None:
            raise ConfigError("data: set either data.dataset (built-in) or data.train (your files)")
        if self.dataset is not None and self.train is not None:
            raise ConfigError("data: set only one of data.dataset and data.train")
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"data.direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.train is not None and self.valid is None:
            raise ConfigError("data.valid is required when data.train is given")
        for name in ("train", "valid", "test"):
            spec = getattr(self, name)
            if isinstance(spec, list) and not _valid_file_spec(spec):
                raise ConfigError(
                    f"data.{name} must be a TSV path or [source_file, target_file] (or a list "
                    f"of them: [[a.en, a.zh], [b.tsv]]), got {spec!r}"
                )
        _check_ranges(self, "data", DATA_RANGES)
        unknown = [name for name in self.clean if name not in FILTERS]
        if unknown:
            raise ConfigError(f"data.clean: unknown filter(s) {unknown}; valid: {list(FILTERS)}")
        if "language" in self.clean and (
            not isinstance(self.languages, list) or len(self.languages) != 2
        ):
            raise ConfigError("data.clean has language: set data.languages: [source, target]")


def _valid_file_spec(spec: list[object]) -> bool:
    """[source, target] (two paths), or a list whose items are paths or such lists."""
    if all(isinstance(item, str) for item in spec):
        return len(spec) == 2
    return bool(spec) and all(
        isinstance(item, str) or (isinstance(item, list) and _valid_part(item)) for item in spec
    )


def _valid_part(item: list[object]) -> bool:
    return len(item) in (1, 2) and all(isinstance(path, str) for path in item)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture (see ``transformer_mt.model.TransformerConfig`` and ``LSTMConfig``; the
    vocabulary comes from the data).

    ``kind: lstm`` builds the LSTM baseline from ``d_model`` (hidden size), the layer counts,
    ``dropout``, ``attention``, ``max_positions`` and ``tie_output``; the Transformer-only fields
    (heads, feed-forward, norm, positional encoding, init) are then unused.
    """

    d_model: int = 512
    num_heads: int = 8
    num_encoder_layers: int = 6
    num_decoder_layers: int = 6
    d_ff: int = 2048
    dropout: float = 0.1
    attention_dropout: float = 0.0
    activation: str = "relu"
    norm_position: str = "post"
    positional_encoding: str = "sinusoidal"
    max_positions: int = 1024
    tie_output: bool = True
    init: str = (
        "auto"  # auto (post-norm: normal, pre-norm: xavier) | normal: N(0, init_std) | xavier
    )
    init_std: float = 0.02
    scale_embedding: bool = True  # token embeddings x sqrt(d_model) (false in some MarianMT)
    output_bias: bool = False  # a bias on the output layer (MarianMT's final_logits_bias)
    kind: str = "transformer"  # transformer | lstm (the attentional LSTM baseline)
    attention: str = "general"  # lstm only: Luong attention score, general | dot

    def __post_init__(self) -> None:
        # Checked here for every kind: an LSTM leaves some unused, but they are still saved.
        found = first_range_problem(self, MODEL_RANGES)
        if found is not None:  # "model: dropout ...", like the architecture's own checks
            raise ConfigError("model: {} {}".format(*found))
        if self.kind not in MODEL_KINDS:
            raise ConfigError(f"model.kind must be one of {tuple(MODEL_KINDS)}, got {self.kind!r}")


@dataclass(frozen=True)
class TrainingConfig:
    max_tokens: int = 4096  # padded tokens per batch (per side)
    accumulate: int = 1  # batches per update (per process): the update sees accumulate x max_tokens
    max_steps: int | None = None  # stop after this many updates (null = no step limit)
    max_epochs: int | None = None  # stop after this many passes over the data
    max_minutes: float | None = None  # stop after this much wall-clock training time
    lr: float = 1e-3  # peak learning rate, reached at the end of warmup
    warmup_steps: int = 400  # linear warmup to the peak, then the schedule's decay
    # inverse_sqrt: lr * sqrt(warmup / step) | linear: down to 0 at the end of the budget
    # (max_steps, max_epochs or max_minutes; over minutes a run is not bit-reproducible)
    schedule: str = "inverse_sqrt"
    adam_betas: tuple[float, float] = (0.9, 0.98)
    adam_eps: float = 1e-9
    weight_decay: float = 0.0
    label_smoothing: float = 0.1
    clip_norm: float = 1.0  # gradient clipping by global norm (0 = off)
    ema_decay: float | None = None  # translate with an exponential moving average of the weights
    precision: str = "bf16"  # bf16 autocast (CPU, GPU) | fp16 (GPU, loss scaling) | fp32
    device: str = "auto"  # auto | cpu | cuda
    threads: int | None = None  # CPU threads (null = all cores)
    seed: int = 1
    validate_every: int = 500  # steps between validation-loss checks
    bleu_every: int = 1000  # steps between validation BLEU checks (0 = only at the end)
    bleu_sentences: int = 500  # validation sentences decoded for BLEU during training
    log_every: int = 50  # steps between metrics log lines
    checkpoint_every: int | None = None  # steps between checkpoints (null = validate_every)
    keep_last: int = 2  # resumable checkpoints kept in checkpoints/ (older ones are deleted)
    best_metric: str = "valid_bleu"  # model.safetensors = best by: valid_bleu | valid_loss
    patience: int | None = None  # stop after this many checks of best_metric without improvement
    tensorboard: bool = True  # also write TensorBoard event files to RUN_DIR/tensorboard
    # Fine-tuning: start from this run's (or an imported model's) weights and tokenizer, with a
    # fresh optimizer and schedule; the architecture is the parent's (docs/fine-tuning.md).
    init_from: str | None = None
    freeze: list[str] = field(default_factory=list)  # embeddings | encoder: kept fixed

    def __post_init__(self) -> None:
        _check_ranges(self, "training", TRAINING_RANGES)
        check_freeze(self.freeze)
        if self.max_steps is None and self.max_epochs is None and self.max_minutes is None:
            raise ConfigError("training: set at least one of max_steps, max_epochs, max_minutes")
        if len(self.adam_betas) != 2 or any(FRACTION.problem(beta) for beta in self.adam_betas):
            raise ConfigError(
                f"training.adam_betas must be two numbers in [0, 1), got {list(self.adam_betas)}"
            )
        if self.precision not in PRECISIONS:
            raise ConfigError(f"training.precision must be one of {PRECISIONS}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"training.schedule must be one of {SCHEDULES}, got {self.schedule!r}"
            )
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"training.device must be auto, cpu or cuda, got {self.device!r}")
        if self.best_metric not in STOPPING_METRICS:
            raise ConfigError(f"training.best_metric must be one of {STOPPING_METRICS}")

    @property
    def checkpoint_interval(self) -> int:
        return self.checkpoint_every or self.validate_every


@dataclass(frozen=True)
class ExperimentConfig:
    run_dir: str = "runs/default"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=lambda: TrainingConfig(max_epochs=10))
    # How evaluate and the validation translator decode (see config/decoding.py).
    evaluation: DecodingOptions = field(default_factory=DecodingOptions)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "evaluation": DecodingOptions,
}


# SentencePiece needs a few pieces beyond its specials; the largest vocabularies in use
# (multilingual models) are near 250,000.
DATA_RANGES = {
    "vocab_size": Range(5, 1_000_000),
    "max_length": AT_LEAST_ONE,
    "max_ratio": Range(1),
    "tokenizer_sample": Range(101),  # SentencePiece needs more than 100 sentences
    "augment_unpunctuated": FRACTION,
    "augment_lowercased": FRACTION,
}
MODEL_RANGES = {
    "d_model": AT_LEAST_ONE,
    "num_heads": AT_LEAST_ONE,
    "num_encoder_layers": AT_LEAST_ONE,
    "num_decoder_layers": AT_LEAST_ONE,
    "d_ff": AT_LEAST_ONE,
    "dropout": FRACTION,
    "attention_dropout": FRACTION,
    "max_positions": Range(2),
    "init_std": POSITIVE,
}
TRAINING_RANGES = {
    "max_tokens": AT_LEAST_ONE,
    "accumulate": AT_LEAST_ONE,
    "max_steps": Range(1, optional=True),
    "max_epochs": Range(1, optional=True),
    "max_minutes": Range(0, low_open=True, optional=True),
    "lr": POSITIVE,
    "warmup_steps": NON_NEGATIVE,
    "adam_eps": POSITIVE,
    "weight_decay": NON_NEGATIVE,
    "label_smoothing": FRACTION,
    "clip_norm": NON_NEGATIVE,
    "ema_decay": Range(0, 1, low_open=True, high_open=True, optional=True),
    "threads": Range(1, optional=True),
    "seed": SEED,
    "validate_every": AT_LEAST_ONE,
    "bleu_every": NON_NEGATIVE,
    "bleu_sentences": AT_LEAST_ONE,
    "log_every": AT_LEAST_ONE,
    "checkpoint_every": Range(1, optional=True),
    "keep_last": AT_LEAST_ONE,
    "patience": Range(1, optional=True),
}


def _check_ranges(values: Any, section: str, ranges: dict[str, Range]) -> None:
    found = first_range_problem(values, ranges)
    if found is not None:
        name, problem = found
        raise ConfigError(f"{section}.{name} {problem}")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def with_absolute_paths(config: ExperimentConfig, base: Path | None = None) -> ExperimentConfig:
    """Data file paths made absolute (relative to ``base``, default the working directory), so
    that the run directory's saved config works from anywhere."""
    root = (base or Path.cwd()).resolve()

    def absolute(spec: Any) -> Any:
        if spec is None:
            return None
        if isinstance(spec, str):
            return str(root / spec)
        return [absolute(item) for item in spec]

    data = config.data
    data = dataclasses.replace(
        data,
        train=absolute(data.train),
        valid=absolute(data.valid),
        test=absolute(data.test),
        store=absolute(data.store),
    )
    return dataclasses.replace(config, data=data)


def transformer_config(
    model: ModelConfig, src_vocab_size: int, tgt_vocab_size: int, joint: bool
) -> TransformerConfig:
    """The model's :class:`TransformerConfig` for the given vocabularies."""
    fields = dataclasses.asdict(model)
    for name in ("kind", "attention"):
        del fields[name]
    return TransformerConfig(
        src_vocab_size=src_vocab_size,
        tgt_vocab_size=tgt_vocab_size,
        share_embeddings=joint,
        pad_id=PAD_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        **fields,
    )


def lstm_config(
    model: ModelConfig, src_vocab_size: int, tgt_vocab_size: int, joint: bool
) -> LSTMConfig:
    """The model's :class:`LSTMConfig` for the given vocabularies."""
    return LSTMConfig(
        src_vocab_size=src_vocab_size,
        tgt_vocab_size=tgt_vocab_size,
        d_model=model.d_model,
        num_encoder_layers=model.num_encoder_layers,
        num_decoder_layers=model.num_decoder_layers,
        dropout=model.dropout,
        attention=model.attention,
        max_positions=model.max_positions,
        share_embeddings=joint,
        tie_output=model.tie_output,
        pad_id=PAD_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
    )


def architecture_config(
    model: ModelConfig, src_vocab_size: int, tgt_vocab_size: int, joint: bool
) -> ArchitectureConfig:
    """The architecture ``model.kind`` names, for the given vocabularies."""
    build = lstm_config if model.kind == LSTMConfig.kind else transformer_config
    return build(model, src_vocab_size, tgt_vocab_size, joint)
