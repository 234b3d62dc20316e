"""Experiment configs: YAML presets, ``--set`` overrides parsed as YAML, strict keys and types."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from transformer_mt.config import (
    ExperimentConfig,
    ModelConfig,
    architecture_config,
    config_from_dict,
    load_config,
    preset_names,
)
from transformer_mt.errors import ConfigError
from transformer_mt.model.factory import build_model, parameter_count

QUICKSTART = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"
MODEL_KEYS = "d_model, num_heads, num_encoder_layers, num_decoder_layers, d_ff, dropout"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "run_dir: runs/test\n"
        "data: {dataset: null, train: train.tsv, valid: [valid.en, valid.zh], vocab_size: 500}\n"
        "model: {d_model: 32, num_heads: 2, d_ff: 64}\n"
        "training: {max_steps: 10}\n",
        encoding="utf-8",
    )
    return path


def test_a_file_and_its_defaults(config_file: Path) -> None:
    config = load_config(config_file)
    assert config.run_dir == "runs/test"
    assert config.data.train == "train.tsv"
    assert config.data.valid == ["valid.en", "valid.zh"]
    assert config.data.vocab_size == 500
    assert config.model == ModelConfig(d_model=32, num_heads=2, d_ff=64)
    assert config.training.max_steps == 10
    assert config.training.adam_betas == (0.9, 0.98)


@pytest.mark.parametrize(
    ("override", "section", "key", "expected"),
    [
        ("model.d_model=64", "model", "d_model", 64),
        ("training.lr=0.0005", "training", "lr", 0.0005),
        ("training.lr=5e-4", "training", "lr", 0.0005),  # a string in YAML 1.1; the help's example
        ("training.lr=1", "training", "lr", 1.0),
        ("training.max_minutes=2.5", "training", "max_minutes", 2.5),
        ("training.max_steps=null", "training", "max_steps", None),
        ("training.threads=", "training", "threads", None),
        ("data.skip_invalid=true", "data", "skip_invalid", True),
        ("data.joint_vocab=false", "data", "joint_vocab", False),
        ("model.tie_output=no", "model", "tie_output", False),  # YAML 1.1 booleans
        ("model.activation=gelu", "model", "activation", "gelu"),
        ("data.train=[a.en, a.zh]", "data", "train", ["a.en", "a.zh"]),
        ("data.test=other.tsv", "data", "test", "other.tsv"),
        ("training.adam_betas=[0.8, 0.99]", "training", "adam_betas", (0.8, 0.99)),
    ],
)
def test_overrides_are_parsed_as_yaml(
    config_file: Path, override: str, section: str, key: str, expected: object
) -> None:
    config = load_config(config_file, ["training.max_epochs=3", override])
    value = getattr(getattr(config, section), key)
    assert value == expected
    assert type(value) is type(expected)


def test_run_dir_override_is_taken_verbatim(config_file: Path) -> None:
    assert load_config(config_file, ["run_dir=runs/a=b"]).run_dir == "runs/a=b"


def test_later_overrides_win(config_file: Path) -> None:
    config = load_config(config_file, ["model.d_model=64", "model.d_model=128"])
    assert config.model.d_model == 128


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.d_modle=64", f"--set: unknown key(s) model.d_modle; valid keys: {MODEL_KEYS}"),
        ("optimizer.lr=1", "expected section.key with section in ['data', 'model', 'training'"),
        ("model.d_model", "expected key=value"),
        ("model.d_model=wide", "ModelConfig: d_model must be int, got 'wide'"),
        ("model.d_model=64.0", "ModelConfig: d_model must be int, got 64.0"),
        ("model.d_model=true", "ModelConfig: d_model must be int, got True"),
        ("training.lr=fast", "TrainingConfig: lr must be float, got 'fast'"),
        ("training.max_steps=1e3", "TrainingConfig: max_steps must be int | None, got '1e3'"),
        ("data.skip_invalid=maybe", "DataConfig: skip_invalid must be bool, got 'maybe'"),
        ("model.activation=3", "ModelConfig: activation must be str, got 3"),
        ("data.train=5", "DataConfig: train must be list[str] | str | None, got 5"),
        ("data.valid=[only-one.en]", "data.valid must be a TSV path or [source_file, target_file]"),
        ("training.adam_betas=0.9", "adam_betas must be tuple[float, float], got 0.9"),
        ("training.adam_betas=[0.9]", "training.adam_betas must be two numbers in [0, 1)"),
        ("model.num_heads=3", "model: d_model=32 is not divisible by num_heads=3"),
        ("model.dropout=1.5", "model: dropout must be in [0, 1)"),
        ("model.activation=tanh", "model: activation must be one of ('relu', 'gelu', 'swish'"),
        (
            "training.freeze=[decoder]",
            "training.freeze must be a list of ['embeddings', 'encoder']",
        ),
        ("data.tokenizer=[a.model]", "data.tokenizer must be a run directory"),
        ("data.extra_valid=[a.tsv]", "data.extra_valid must be a mapping of names to data"),
        ("training.precision=fp8", "training.precision must be one of ('fp32', 'bf16', 'fp16')"),
        ("training.lr=-1", "training.lr must be positive, got -1.0"),
        ("training.max_steps=null", "set at least one of max_steps, max_epochs, max_minutes"),
        ("data.dataset=tatoeba-en-zh", "set only one of data.dataset and data.train"),
    ],
)
def test_bad_values_are_config_errors(config_file: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(config_file, [override])
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_keys_in_a_file_list_the_valid_ones(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("training: {max_steps: 1, learning_rate: 0.1}\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) training.learning_rate; valid keys"):
        load_config(path)
    path.write_text("trainig: {max_steps: 1}\n")
    with pytest.raises(ConfigError, match=r"unknown section\(s\) \['trainig'\]; valid: run_dir"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model: [1, 2\n", "not valid YAML"),
        ("- a\n- b\n", "the top level must be a mapping of sections"),
        ("model: 5\n", "section 'model' must be a mapping"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "none.yaml")


def test_resolved_config_reloads_identically(config_file: Path) -> None:
    """A run saves ``to_dict()`` as YAML; evaluate rebuilds the config from it."""
    config = load_config(config_file, ["training.adam_betas=[0.8, 0.9]", "training.lr=5e-4"])
    reloaded = config_from_dict(yaml.safe_load(yaml.safe_dump(config.to_dict())))
    assert reloaded == config


def test_quickstart_preset_loads() -> None:
    config = load_config(QUICKSTART)
    assert isinstance(config, ExperimentConfig)
    assert config.data.dataset == "tatoeba-en-zh"
    assert (config.model.d_model, config.model.num_heads) == (256, 4)
    assert config.training.max_minutes == 16.0
    assert config.training.precision == "bf16"


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_loads_and_builds_its_model(name: str) -> None:
    config = load_config(name)
    model = build_model(architecture_config(config.model, 8000, 8000, joint=True))
    assert model.config.kind == config.model.kind
    assert sum(p.numel() for p in model.parameters()) > 1_000_000


def test_the_lstm_preset_matches_the_quickstart_parameter_count() -> None:
    counts = [
        parameter_count(build_model(architecture_config(load_config(name).model, 8000, 8000, True)))
        for name in ("quickstart", "lstm")
    ]
    assert abs(counts[1] - counts[0]) <= 0.01 * counts[0]


def test_base_preset_is_transformer_base_and_small_stops_early() -> None:
    model = load_config("base").model
    shape = (model.d_model, model.num_encoder_layers, model.num_decoder_layers)
    assert (*shape, model.num_heads, model.d_ff, model.norm_position) == (
        512,
        6,
        6,
        8,
        2048,
        "post",
    )
    training = load_config("small").training
    assert training.patience is not None and training.keep_last >= 5
