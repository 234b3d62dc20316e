"""The keyed JSON cache: stale, missing and damaged entries read as None."""

from __future__ import annotations

from pathlib import Path

from transformer_mt.data.cache import read_cached, write_cached


def test_round_trip_with_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "entry.json"
    write_cached(path, "v1", {"rows": [[1, "猫"]]})
    assert read_cached(path, "v1") == {"rows": [[1, "猫"]]}
    assert [p.name for p in path.parent.iterdir()] == ["entry.json"]  # no temporary left over


def test_stale_missing_or_damaged_entries(tmp_path: Path) -> None:
    path = tmp_path / "entry.json"
    assert read_cached(path, "v1") is None
    write_cached(path, "v1", [1, 2])
    assert read_cached(path, "v2") is None
    path.write_text("{not json", encoding="utf-8")
    assert read_cached(path, "v1") is None
