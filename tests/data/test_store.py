"""The token store: written under a temporary name, checked against its manifest on open."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from transformer_mt.data.store import (
    MANIFEST,
    ArrayWriter,
    StoreDamagedError,
    StoreWriter,
    TokenStore,
    ids_dtype,
    read_manifest,
    remove_abandoned,
)
from transformer_mt.errors import UserError

SENTENCES = [[5, 6, 7], [70_000], [], [8, 9]]  # one id beyond uint16, one empty sentence


def write_store(path: Path, vocab_size: int = 100_000) -> Path:
    """A one-split store whose source and target are both ``SENTENCES``."""
    with StoreWriter(path) as writer:
        for side in ("source", "target"):
            ids = writer.array(f"train.{side}.ids", ids_dtype(vocab_size))
            offsets = writer.array(f"train.{side}.offsets", np.dtype(np.int64))
            ids.append(np.array([i for sentence in SENTENCES for i in sentence]))
            offsets.append(np.cumsum([0] + [len(sentence) for sentence in SENTENCES]))
            writer.add(ids.path.name, ids.close())
            writer.add(offsets.path.name, offsets.close())
        return writer.commit({"splits": {"train": {"pairs": len(SENTENCES)}}})


def test_ids_need_uint32_beyond_65536_pieces() -> None:
    assert ids_dtype(8000) == np.uint16
    assert ids_dtype(65_536) == np.uint16
    assert ids_dtype(65_537) == np.uint32


def test_round_trip_with_uint32_ids(tmp_path: Path) -> None:
    store = TokenStore.open(write_store(tmp_path / "store"))
    store.verify()
    ids, offsets = store.ids("train", "source")
    assert ids.dtype == np.uint32
    assert [ids[offsets[i] : offsets[i + 1]].tolist() for i in range(4)] == SENTENCES
    assert store.pairs("train") == 4
    assert [p.name for p in tmp_path.iterdir()] == ["store"]  # no temporary left


def test_rows_are_read_without_mapping_and_a_short_file_is_damage(tmp_path: Path) -> None:
    path = write_store(tmp_path / "store")
    reader = TokenStore.open(path).rows("train", "source")
    flat, lengths = reader.read(np.array([3, 0, 3]))
    rows = [SENTENCES[3], SENTENCES[0], SENTENCES[3]]
    assert flat.dtype == np.uint32 and flat.tolist() == [i for row in rows for i in row]
    assert lengths.tolist() == [len(row) for row in rows]
    assert reader.count == 4
    assert reader.offsets(1, 3).tolist() == np.cumsum([0, *map(len, SENTENCES)])[1:4].tolist()
    data = (path / "train.source.ids").read_bytes()
    (path / "train.source.ids").write_bytes(data[:-4])  # cut after opening
    with pytest.raises(StoreDamagedError, match="offsets end early"):
        reader.read(np.array([3]))


def test_truncated_file_is_found_on_open(tmp_path: Path) -> None:
    path = write_store(tmp_path / "store")
    data = (path / "train.target.ids").read_bytes()
    (path / "train.target.ids").write_bytes(data[:-4])
    with pytest.raises(StoreDamagedError) as caught:
        TokenStore.open(path)
    message = str(caught.value)
    assert "train.target.ids has 20 bytes, the manifest says 24" in message
    assert "re-run `transformer-mt prepare`" in message
    assert "\n" not in message


def test_edited_file_is_found_by_verify(tmp_path: Path) -> None:
    path = write_store(tmp_path / "store")
    data = bytearray((path / "train.source.ids").read_bytes())
    data[0] ^= 1
    (path / "train.source.ids").write_bytes(bytes(data))
    store = TokenStore.open(path)  # same size: only the checksum tells
    with pytest.raises(StoreDamagedError, match=r"train\.source\.ids was changed .* re-run"):
        store.verify()


def test_missing_file_and_unreadable_manifest(tmp_path: Path) -> None:
    path = write_store(tmp_path / "store")
    (path / "train.source.offsets").unlink()
    with pytest.raises(StoreDamagedError, match=r"train\.source\.offsets is missing"):
        TokenStore.open(path)
    (path / MANIFEST).write_text("{", encoding="utf-8")
    with pytest.raises(StoreDamagedError, match=r"manifest\.json is unreadable"):
        TokenStore.open(path)


def test_no_store_is_a_user_error(tmp_path: Path) -> None:
    assert read_manifest(tmp_path) is None
    with pytest.raises(UserError, match="no token store here; run `transformer-mt prepare`"):
        TokenStore.open(tmp_path)


def test_an_error_while_writing_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), StoreWriter(tmp_path / "store") as writer:
        writer.array("a.ids", np.dtype(np.uint16)).append(np.arange(3))
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_one_clear_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: ArrayWriter, values: np.ndarray) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ArrayWriter, "append", full)
    with pytest.raises(UserError, match="the disk filled up while preparing the token store"):
        write_store(tmp_path / "store")
    assert list(tmp_path.iterdir()) == []


def test_a_killed_writer_leaves_only_a_temporary_that_is_cleaned_later(tmp_path: Path) -> None:
    # A process that dies without running any cleanup (os._exit, like kill -9).
    script = (
        "import os, sys, numpy as np\n"
        "from pathlib import Path\n"
        "from transformer_mt.data.store import StoreWriter\n"
        "writer = StoreWriter(Path(sys.argv[1])).__enter__()\n"
        "writer.array('a.ids', np.dtype(np.uint16)).append(np.arange(3))\n"
        "os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "store")], check=False)
    (left,) = tmp_path.iterdir()
    assert left.name.startswith("store.tmp-")
    assert read_manifest(tmp_path / "store") is None  # nothing a train would take for a store
    assert remove_abandoned(tmp_path / "store") == [left]
    assert list(tmp_path.iterdir()) == []


def test_commit_replaces_an_older_store(tmp_path: Path) -> None:
    path = write_store(tmp_path / "store")
    (path / "stale-file").write_text("old", encoding="utf-8")
    write_store(path)
    assert not (path / "stale-file").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
