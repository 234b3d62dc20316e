"""Weights in safetensors: exact round trip, tied tensors once, atomic writes, clear mismatches."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from transformer_mt.artifacts import weights as checkpoint
from transformer_mt.artifacts.weights import load_weights, save_weights
from transformer_mt.errors import UserError
from transformer_mt.model import Transformer, TransformerConfig
from transformer_mt.model.factory import build_model
from transformer_mt.model.lstm_config import LSTMConfig


def tiny(seed: int, **overrides: object) -> Transformer:
    fields: dict[str, object] = {
        "src_vocab_size": 30,
        "tgt_vocab_size": 30,
        "d_model": 16,
        "num_heads": 2,
        "num_encoder_layers": 1,
        "num_decoder_layers": 1,
        "d_ff": 32,
        "max_positions": 16,
    }
    fields.update(overrides)
    torch.manual_seed(seed)
    return Transformer(TransformerConfig(**fields)).eval()  # type: ignore[arg-type]  # test fields


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # one embedding table for source, target and output
        {"share_embeddings": False, "src_vocab_size": 40},  # target embedding tied to output
        {"tie_output": False, "positional_encoding": "learned"},
    ],
)
def test_round_trip_restores_every_tensor(tmp_path: Path, overrides: dict[str, object]) -> None:
    saved, restored = tiny(0, **overrides), tiny(1, **overrides)
    path = tmp_path / "model.safetensors"
    save_weights(saved, path)
    load_weights(restored, path)

    for (name, expected), (_, actual) in zip(
        saved.state_dict().items(), restored.state_dict().items(), strict=True
    ):
        assert torch.equal(expected, actual), name
    src = torch.tensor([[5, 6, 7, 3]])
    tgt = torch.tensor([[2, 8, 9]])
    assert torch.equal(saved(src, tgt), restored(src, tgt))


def test_tied_tensors_are_stored_once_and_stay_tied(tmp_path: Path) -> None:
    model = tiny(0)
    path = tmp_path / "model.safetensors"
    save_weights(model, path)
    stored = load_file(str(path))
    embedding = model.output_projection.weight
    copies = [name for name, tensor in stored.items() if tensor.shape == embedding.shape]
    assert len(copies) == 1  # source, target and output share one (V, D) matrix

    restored = tiny(1)
    load_weights(restored, path)
    assert restored.output_projection.weight is restored.target_embedder.tokens.weight
    assert restored.source_embedder.tokens.weight is restored.target_embedder.tokens.weight
    assert torch.equal(restored.output_projection.weight, embedding)


def test_save_leaves_no_temporary_file(tmp_path: Path) -> None:
    save_weights(tiny(0), tmp_path / "model.safetensors")
    save_weights(tiny(1), tmp_path / "model.safetensors")  # replaces the file
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_failed_save_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.safetensors"
    save_weights(tiny(0), path)
    before = path.read_bytes()

    def fail_half_way(state: dict[str, torch.Tensor], filename: str, **_: object) -> None:
        Path(filename).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", fail_half_way)
    with pytest.raises(OSError, match="disk full"):
        save_weights(tiny(1), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_atomic_write(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "file.bin"
    checkpoint.atomic_write(path, lambda tmp: Path(tmp).write_bytes(b"one"))
    checkpoint.atomic_write(path, lambda tmp: Path(tmp).write_bytes(b"two"))
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["file.bin"]


def test_other_width_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_weights(tiny(0), path)
    with pytest.raises(UserError, match=r"has shape \(16,\), the model expects \(32,\)"):
        load_weights(tiny(0, d_model=32), path)


def test_other_layer_count_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_weights(tiny(0), path)
    with pytest.raises(
        UserError, match=r"do not match the model architecture \(missing \['decoder"
    ):
        load_weights(tiny(0, num_decoder_layers=2), path)
    with pytest.raises(UserError, match=r"unexpected \['output_projection.weight'\]"):
        save_weights(tiny(0, tie_output=False), path)
        load_weights(tiny(0), path)


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such weights file"):
        load_weights(tiny(0), tmp_path / "none.safetensors")


def test_saved_weights_are_readable_by_others(tmp_path: Path) -> None:
    """mkstemp creates 0600 files; a saved model must get ordinary permissions."""
    import os
    import stat

    from transformer_mt.artifacts.weights import save_weights

    path = tmp_path / "model.safetensors"
    save_weights(torch.nn.Linear(2, 2), path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_atomic_write_flushes_the_file_and_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushed: list[str] = []
    real_fsync = checkpoint.os.fsync

    def fsync(fd: int) -> None:
        flushed.append(checkpoint.os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(checkpoint.os, "fsync", fsync)
    target = tmp_path / "weights.safetensors"
    checkpoint.atomic_write(target, lambda tmp: Path(tmp).write_bytes(b"data"))
    # The data before the rename (under the temporary name), the directory entry after it.
    assert len(flushed) == 2
    assert Path(flushed[0]).name.startswith(".weights.safetensors.")
    assert flushed[1] == str(tmp_path)


def test_stale_temporaries_are_recognised_and_removed(tmp_path: Path) -> None:
    kept = [tmp_path / name for name in ("model.safetensors", "notes.tmp", ".hidden", "a.tmp.txt")]
    stale = [
        tmp_path / ".last.safetensors.k3j_9x2a.tmp",
        tmp_path / ".step-00000005.safetensors.ab.tmp",
    ]
    for path in kept + stale:
        path.write_bytes(b"")
    assert sorted(checkpoint.remove_stale_temporaries(tmp_path)) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted(kept)
    assert checkpoint.remove_stale_temporaries(tmp_path / "missing") == []


@pytest.mark.parametrize(
    "damage",
    ["empty", "text", "truncated", "short header", "corrupt header"],
)
def test_unreadable_weights_are_a_user_error_naming_the_file(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "model.safetensors"
    save_weights(tiny(0), path)
    data = path.read_bytes()
    damaged = {
        "empty": b"",
        "text": b"these are not weights\n",
        "truncated": data[: len(data) // 2],
        "short header": data[:6],
        "corrupt header": data[:8] + b"{not json" + data[17:],
    }[damage]
    path.write_bytes(damaged)
    with pytest.raises(UserError, match=f"{path}: not a readable safetensors weights file"):
        load_weights(tiny(0), path)


def test_load_model_refuses_a_config_that_does_not_fit_before_allocating(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_weights(tiny(0), path)
    fitting = tiny(1).config
    assert_equal_models(checkpoint.load_model(fitting, path), tiny(0))
    # An edited model.json: building this model would take terabytes (a RuntimeError from the
    # allocator); the header check answers first, from a meta-device model.
    absurd = dataclasses.replace(fitting, d_model=2**30, num_heads=2, d_ff=2**30)
    with pytest.raises(UserError, match=r"has shape \(16,\), the model expects \(1073741824,\)"):
        checkpoint.load_model(absurd, path)


@pytest.mark.parametrize("kind", ["transformer", "lstm"])
@pytest.mark.parametrize(("share", "tie"), [(True, True), (False, True), (False, False)])
def test_meta_models_name_the_same_tensors_as_real_ones(kind: str, share: bool, tie: bool) -> None:
    fields = {"src_vocab_size": 30, "tgt_vocab_size": 30, "d_model": 16}
    fields |= {"share_embeddings": share, "tie_output": tie}
    if kind == "transformer":
        config: Any = TransformerConfig(**fields, num_heads=2, d_ff=32)  # type: ignore[arg-type]
    else:
        config = LSTMConfig(**fields)  # type: ignore[arg-type]
    real = {name: t.shape for name, t in checkpoint.unique_tensors(build_model(config)).items()}
    with torch.device("meta"):
        skeleton = build_model(config)
    assert {n: t.shape for n, t in checkpoint._unique_entries(skeleton).items()} == real


def assert_equal_models(model: torch.nn.Module, other: torch.nn.Module) -> None:
    for mine, theirs in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
        assert torch.equal(mine, theirs)
