"""Process-wide runtime settings for fast CPU execution."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from pathlib import Path

import torch

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed large blocks instead of returning them to the OS.

    Each training step allocates and frees the same large temporaries; by default glibc maps and
    unmaps them every time, and the page faults that follow cost more than the arithmetic on
    them (+28-56% steps/s for HF Transformers on this CPU). This is what the environment variables
    ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` do, applied from inside the process.
    Returns False where the C library is not glibc.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES) == 1
    return bool(ok and mallopt(_M_TRIM_THRESHOLD, 2 * _KEEP_BYTES) == 1)


DEVICES = ("auto", "cpu", "cuda", "cuda:N")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; ``cpu``, ``cuda`` and ``cuda:N``
    are taken as given. Anything else, or CUDA where there is none, is a :class:`UserError`."""
    from transformer_mt.errors import UserError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kind, _, index = name.partition(":")
    if kind not in ("cpu", "cuda") or (index and not (kind == "cuda" and index.isdigit())):
        raise UserError(f"device {name!r}: expected one of {', '.join(DEVICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r} requested but no CUDA device is available")
    if index and int(index) >= torch.cuda.device_count():
        raise UserError(f"device {name!r}: this machine has {torch.cuda.device_count()} GPU(s)")
    return torch.device(name)


def fast_bf16_cpu() -> bool:
    """Whether this CPU multiplies bf16 matrices fast enough for bf16 to pay: oneDNN's bf16
    kernels need AVX-512 (BW, VL, DQ), AVX-NE-CONVERT or AMX. On AVX2-only CPUs bf16 is emulated
    and about 9x slower than fp32 (2,048 x 256 by 256 x 1,024: 72 against 8 ms on 2 cores)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def configure_cpu(threads: int | None) -> None:
    """Thread count (``None`` keeps torch's default of all cores), malloc behaviour, and
    flushing of denormal floats to zero.

    Softmax probabilities of a large vocabulary are full of values below 1e-38; on x86, arithmetic
    on such denormals is tens of times slower, and they carry no information for training.
    """
    if threads is not None:
        torch.set_num_threads(max(1, threads))
    torch.set_flush_denormal(True)
    keep_freed_memory()


# CPU features that decide which inference and training paths are fast (see the README).
MATRIX_FEATURES = ("avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_summary(cpuinfo: str | None = None) -> str:
    """The CPU model and which of :data:`MATRIX_FEATURES` it has, for benchmark headers:
    ``"AMD EPYC 9R14 (avx512_vnni, avx512_bf16; no amx_bf16, amx_int8)"``. ``cpuinfo``: the
    text of ``/proc/cpuinfo`` (read when None; elsewhere than Linux only the model is known)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.exists() else ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    model = fields.get("model name") or platform.processor() or "unknown CPU"
    if "flags" not in fields:
        return model
    flags = set(fields["flags"].split())
    present = [f for f in MATRIX_FEATURES if f in flags]
    absent = [f for f in MATRIX_FEATURES if f not in flags]
    parts = [", ".join(present)] if present else []
    if absent:
        parts.append("no " + ", ".join(absent))
    return f"{model} ({'; '.join(parts)})"
