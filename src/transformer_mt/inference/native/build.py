"""Compile and load the native decoder step, once per machine, on first use.

The C++ source ships with the package and is built with PyTorch's extension builder (the C++
compiler and ``ninja`` of the machine) into ``$TRANSFORMER_MT_CACHE/native/<key>``, keyed by the
source, PyTorch's version and the CPU's vector instructions; later processes only load it.
Where it cannot be built (no compiler, a failing build) :func:`native_ops` returns None and says
why in :func:`unavailable_reason`: decoding then takes the Python step, which computes the same
function. ``TRANSFORMER_MT_NATIVE=0`` turns the native step off.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any

import torch

from transformer_mt.data.corpus import default_cache_dir

SOURCE = Path(__file__).with_name("decoder_step.cpp")
HEADERS = tuple(
    Path(__file__).with_name(name)
    for name in (
        "attention.h",
        "int8_linear.h",
        "int8_rows.h",
        "log_softmax.h",
        "row_top_k.h",
        "vector_math.h",
    )
)
LIBRARY = "transformer_mt_native"


def native_enabled() -> bool:
    """False when ``TRANSFORMER_MT_NATIVE`` is ``0``, ``false``, ``no`` or ``off``."""
    return os.environ.get("TRANSFORMER_MT_NATIVE", "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    )


def vector_flags() -> list[str]:
    """Compiler flags for this CPU's vector instructions: AVX2, FMA and F16C where PyTorch found
    AVX2 (its dispatch level is AVX2 or AVX512; its AVX2 level needs FMA and F16C as well),
    none otherwise (the portable kernels)."""
    capability = torch.backends.cpu.get_cpu_capability()
    return ["-mavx2", "-mfma", "-mf16c"] if capability in ("AVX2", "AVX512") else []


def build_key(flags: list[str]) -> str:
    """What the compiled library depends on: the sources, PyTorch's version and the flags."""
    digest = hashlib.sha256(SOURCE.read_bytes())
    for header in HEADERS:
        digest.update(header.read_bytes())
    digest.update(torch.__version__.encode())
    digest.update(" ".join(flags).encode())
    return digest.hexdigest()[:16]


_failure: str | None = None


@functools.cache
def native_ops() -> Any | None:
    """``torch.ops.transformer_mt_native`` with the compiled step, or None (see the module)."""
    global _failure
    if not native_enabled():
        _failure = "turned off by TRANSFORMER_MT_NATIVE"
        return None
    if torch.backends.cpu.get_cpu_capability() == "DEFAULT" and os.name != "posix":
        _failure = "no supported compiler setup on this platform"
        return None
    flags = vector_flags()
    directory = default_cache_dir() / "native" / build_key(flags)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _put_ninja_on_path()
        from torch.utils.cpp_extension import load

        load(
            name=LIBRARY,
            sources=[str(SOURCE)],
            # OpenMP: ATen's parallel_for is inlined from its headers as OpenMP regions (the
            # library then shares the process's OpenMP runtime, PyTorch's libgomp).
            extra_cflags=["-O3", "-fopenmp", *flags],
            extra_ldflags=["-fopenmp"],
            build_directory=str(directory),
            is_python_module=False,
            verbose=False,
        )
    except Exception as error:  # no compiler, no ninja, a failed build: the Python step runs
        _failure = f"the native decoder step could not be built: {str(error).splitlines()[0]}"
        return None
    return getattr(torch.ops, LIBRARY)


def loaded_ops() -> Any | None:
    """:func:`native_ops`'s library where this process has already loaded it (an int8 model's
    step does), else None; never starts a build (kernels that merely speed up work that PyTorch
    also does, such as the top-k, use it only where it is there)."""
    return native_ops() if native_ops.cache_info().currsize else None


def _put_ninja_on_path() -> None:
    """PyTorch's builder runs ``ninja``; the ``ninja`` package's binary may not be on PATH
    (a virtual environment that was not activated)."""
    try:
        import ninja
    except ImportError:
        return
    binaries = str(getattr(ninja, "BIN_DIR", ""))
    if binaries and binaries not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([binaries, os.environ.get("PATH", "")])


def unavailable_reason() -> str | None:
    """Why :func:`native_ops` returned None (None if it did not, or has not run)."""
    return _failure
