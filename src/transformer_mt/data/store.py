"""The token store: a prepared corpus as flat, memory-mapped arrays of token ids.

A store is a directory::

    manifest.json            written last: settings, key, cleaning report, each file's size and
                             BLAKE2b checksum (a store without it is unfinished and never used)
    tokenizer/               the tokenizer whose ids the arrays hold
    train.source.ids         every source sentence's token ids, end to end (uint16 or uint32)
    train.source.offsets     int64, N + 1: sentence i is ids[offsets[i]:offsets[i + 1]]
    train.target.ids, train.target.offsets, and the same for valid
    valid.tsv                the validation pairs' text (for BLEU during training)

It is written under a temporary name beside its final place and renamed at the very end, so a
``prepare`` killed at any moment leaves nothing a later ``train`` would take for a store.
Opening checks every file's size against the manifest; :meth:`TokenStore.verify` re-hashes the
files (a few seconds for ten million pairs) and names the first damaged one.

Shape letters: N sentences, T tokens of one side of one split.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import mmap
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from transformer_mt.errors import UserError

MANIFEST = "manifest.json"
STORE_FORMAT = 1
SIDES = ("source", "target")
TEMPORARY_MARK = ".tmp-"
_HASH_BLOCK = 1 << 22  # 4 MiB per read when hashing


class StoreDamagedError(UserError):
    """A store whose files do not match its manifest (truncated, edited, missing)."""


def ids_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (vocabularies up to 65,536 pieces), else uint32."""
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def file_digest(path: Path) -> str:
    """BLAKE2b (16 bytes, hex) of a file's bytes."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as stream:
        while block := stream.read(_HASH_BLOCK):
            digest.update(block)  # releases the GIL: files hash in parallel threads
    return digest.hexdigest()


class ArrayWriter:
    """Appends arrays of one dtype to a file, counting and hashing what it writes."""

    def __init__(self, path: Path, dtype: np.dtype) -> None:
        self.path, self.dtype = path, np.dtype(dtype)
        self._stream: BinaryIO = open(path, "wb")  # noqa: SIM115  (closed by close())
        self._digest = hashlib.blake2b(digest_size=16)
        self.items = 0

    def append(self, values: np.ndarray) -> None:
        data = np.ascontiguousarray(values, dtype=self.dtype).tobytes()
        self._stream.write(data)
        self._digest.update(data)
        self.items += len(values)

    def close(self) -> dict[str, Any]:
        """Flush to disk; returns the manifest entry (dtype, items, bytes, checksum)."""
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()
        return {
            "dtype": self.dtype.name,
            "items": self.items,
            "bytes": self.items * self.dtype.itemsize,
            "blake2b": self._digest.hexdigest(),
        }


class StoreWriter:
    """Builds a store in a temporary directory beside ``path``; :meth:`commit` renames it.

    Used as a context manager: leaving the block without a commit (an error, Ctrl-C) removes
    the temporary directory; a full disk becomes a one-line error.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.temporary = self.path.with_name(
            f"{self.path.name}{TEMPORARY_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        )
        self.files: dict[str, dict[str, Any]] = {}

    def __enter__(self) -> StoreWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned(self.path)
        self.temporary.mkdir()
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, _: Any) -> None:
        if self.temporary.exists():
            shutil.rmtree(self.temporary, ignore_errors=True)
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise UserError(
                f"{self.path.parent}: the disk filled up while preparing the token store; "
                "nothing was kept. Free some space or set data.store to a folder on another disk"
            ) from None

    def array(self, name: str, dtype: np.dtype) -> ArrayWriter:
        return ArrayWriter(self.temporary / name, dtype)

    def add(self, name: str, entry: dict[str, Any]) -> None:
        """Record a finished array (from :meth:`ArrayWriter.close`) in the manifest."""
        self.files[name] = entry

    def add_file(self, name: str) -> None:
        """Record a file or folder written directly into :attr:`temporary` (hashed now)."""
        target = self.temporary / name
        paths = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
        for path in paths:
            relative = path.relative_to(self.temporary).as_posix()
            self.files[relative] = {"bytes": path.stat().st_size, "blake2b": file_digest(path)}

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Write the manifest and move the finished store into place (replacing an old one)."""
        manifest = {"format": STORE_FORMAT, **manifest, "files": self.files}
        text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
        with open(self.temporary / MANIFEST, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        old = self.path.with_name(f"{self.path.name}{TEMPORARY_MARK}old-{uuid.uuid4().hex[:8]}")
        if self.path.exists():
            self.path.rename(old)  # readers never see a directory without its manifest
        self.temporary.rename(self.path)
        shutil.rmtree(old, ignore_errors=True)
        _fsync_directory(self.path.parent)
        return self.path


def remove_abandoned(path: Path) -> list[Path]:
    """Delete temporary stores beside ``path`` left by a killed ``prepare`` (their process is
    gone) and old stores a crash left behind during a replacement."""
    removed = []
    for candidate in path.parent.glob(f"{path.name}{TEMPORARY_MARK}*"):
        owner = candidate.name.removeprefix(f"{path.name}{TEMPORARY_MARK}").split("-")[0]
        if owner.isdigit() and _process_alive(int(owner)):
            continue
        shutil.rmtree(candidate, ignore_errors=True)
        removed.append(candidate)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()  # our own pid: a leftover from an earlier process with it


def _fsync_directory(path: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The store's manifest, or None when there is no finished store at ``path``."""
    try:
        manifest = json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise StoreDamagedError(
            damaged_message(Path(path), f"{MANIFEST} is unreadable ({error})")
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT:
        raise StoreDamagedError(
            damaged_message(Path(path), f"{MANIFEST} is not a format-1 manifest")
        )
    return manifest


def damaged_message(path: Path, problem: str) -> str:
    return (
        f"{path}: the token store is damaged ({problem}); re-run `transformer-mt prepare` "
        "with your config (it rebuilds the store)"
    )


class TokenStore:
    """A finished store, opened read-only; arrays are memory-mapped, never read whole."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path, self.manifest = Path(path), manifest
        self._maps: list[mmap.mmap] = []

    @classmethod
    def open(cls, path: Path) -> TokenStore:
        """Open the store at ``path``, checking that every file has its manifest size.

        Raises:
            UserError: no store there. StoreDamagedError: a file is missing or has another size.
        """
        manifest = read_manifest(path)
        if manifest is None:
            raise UserError(f"{path}: no token store here; run `transformer-mt prepare` first")
        store = cls(path, manifest)
        for name, entry in manifest.get("files", {}).items():
            try:
                size = (store.path / name).stat().st_size
            except OSError:
                raise StoreDamagedError(damaged_message(store.path, f"{name} is missing")) from None
            if size != entry["bytes"]:
                problem = f"{name} has {size} bytes, the manifest says {entry['bytes']}"
                raise StoreDamagedError(damaged_message(store.path, problem))
        return store

    def verify(self, threads: int | None = None) -> None:
        """Re-hash every file against the manifest (in parallel threads).

        Raises:
            StoreDamagedError: naming the first file whose checksum differs.
        """
        entries = sorted(self.manifest.get("files", {}).items())
        with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
            digests = pool.map(lambda item: file_digest(self.path / item[0]), entries)
            for (name, entry), digest in zip(entries, digests, strict=True):
                if digest != entry["blake2b"]:
                    problem = f"{name} was changed since it was written (checksum differs)"
                    raise StoreDamagedError(damaged_message(self.path, problem))

    def splits(self) -> list[str]:
        return list(self.manifest.get("splits", {}))

    def pairs(self, split: str) -> int:
        return int(self.manifest["splits"][split]["pairs"])

    def ids(self, split: str, side: str) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, offsets)`` of one side of one split: (T,) ids, (N + 1,) int64 offsets."""
        ids_name, offsets_name = f"{split}.{side}.ids", f"{split}.{side}.offsets"
        dtype = np.dtype(self.manifest["files"][ids_name]["dtype"])
        return self._map(ids_name, dtype), self._map(offsets_name, np.dtype(np.int64))

    def rows(self, split: str, side: str) -> RowReader:
        """A reader of chosen sentences of one side of one split (see :class:`RowReader`)."""
        ids_name = f"{split}.{side}.ids"
        dtype = np.dtype(self.manifest["files"][ids_name]["dtype"])
        return RowReader(self.path / ids_name, self.path / f"{split}.{side}.offsets", dtype)

    def release_pages(self) -> None:
        """Drop this process's mapped pages (they stay in the page cache): the resident
        memory of a long random walk over the arrays stays bounded."""
        for mapped in self._maps:
            with contextlib.suppress(OSError, ValueError):
                mapped.madvise(mmap.MADV_DONTNEED)

    def _map(self, name: str, dtype: np.dtype) -> np.ndarray:
        path = self.path / name
        if path.stat().st_size == 0:
            return np.zeros(0, dtype=dtype)
        with open(path, "rb") as stream:
            mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        with contextlib.suppress(OSError, AttributeError):
            mapped.madvise(mmap.MADV_RANDOM)  # batches read scattered sentences: no read-ahead
        self._maps.append(mapped)
        return np.frombuffer(mapped, dtype=dtype)

    def text_pairs(self, name: str) -> Iterator[tuple[str, str]]:
        """The pairs of a ``source<TAB>target`` text file kept in the store."""
        with open(self.path / name, encoding="utf-8") as stream:
            for line in stream:
                source, _, target = line.rstrip("\n").partition("\t")
                yield source, target


class RowReader:
    """Chosen sentences of one side of one split, read with ``pread``: copied out of the page
    cache, never mapped. Reading through a mapping maps a whole cached folio (up to 2 MB on
    ext4) per sentence touched: a batch of 100 scattered sentences of a large store briefly
    held hundreds of MB of resident pages."""

    def __init__(self, ids_path: Path, offsets_path: Path, dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)
        self._ids = open(ids_path, "rb", buffering=0)  # noqa: SIM115  (closed with the reader)
        self._offsets = open(offsets_path, "rb", buffering=0)  # noqa: SIM115  (the same)
        self.count = os.fstat(self._offsets.fileno()).st_size // 8 - 1  # N sentences
        for stream in (self._ids, self._offsets):
            with contextlib.suppress(OSError, AttributeError):  # batches are scattered reads
                os.posix_fadvise(stream.fileno(), 0, 0, os.POSIX_FADV_RANDOM)

    def read(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """((I,) the ids of ``rows`` (B,) end to end, (B,) each row's length)."""
        offsets, ids, size = self._offsets.fileno(), self._ids.fileno(), self.dtype.itemsize
        bounds = b"".join(os.pread(offsets, 16, 8 * row) for row in rows.tolist())
        starts, ends = np.frombuffer(bounds, dtype=np.int64).reshape(-1, 2).T  # (B,), (B,)
        lengths = ends - starts  # (B,)
        spans = zip(starts.tolist(), lengths.tolist(), strict=True)
        data = b"".join(os.pread(ids, size * length, size * start) for start, length in spans)
        if len(bounds) != 16 * len(rows) or len(data) != size * int(lengths.sum()):
            problem = f"{Path(self._ids.name).name} or its offsets end early"
            raise StoreDamagedError(damaged_message(Path(self._ids.name).parent, problem))
        return np.frombuffer(data, dtype=self.dtype), lengths

    def offsets(self, start: int, stop: int) -> np.ndarray:
        """(stop - start + 1,) int64: the bounds of sentences ``start`` to ``stop - 1``."""
        data = os.pread(self._offsets.fileno(), 8 * (stop - start + 1), 8 * start)
        return np.frombuffer(data, dtype=np.int64)
