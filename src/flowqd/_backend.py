"""Array backend selection for batched kernels.

Batched kernels (PSD inversion, the twin's population balance) are written once against an array namespace
``xp`` with a numpy-compatible API. ``numpy`` is always available; ``jax.numpy`` is used when the optional
``jax`` extra is installed and asked for (``backend="jax"``) or when ``backend="auto"`` finds it. JAX is imported
lazily, only when a jax backend is requested, so commands that do not need it start fast.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

from flowqd.errors import FlowqdError

__all__ = ["BACKENDS", "Backend", "jax_accelerator", "jax_available", "resolve_backend"]

Backend = Literal["auto", "numpy", "jax"]
BACKENDS: tuple[str, ...] = ("auto", "numpy", "jax")


def jax_available() -> bool:
    """True when the ``jax`` package can be imported (without importing it)."""
    return importlib.util.find_spec("jax") is not None


def jax_accelerator() -> bool:
    """True when jax is installed and its default device is an accelerator (GPU/TPU), not the CPU.

    Imports jax (only when it is installed): call it where ``backend="auto"`` has to choose.
    """
    if not jax_available():
        return False
    import jax

    return jax.default_backend() != "cpu"


def resolve_backend(backend: str = "auto", *, auto_needs_accelerator: bool = False) -> str:
    """Resolve ``"auto"`` to ``"jax"`` or ``"numpy"``; raise a clear error for unknown names.

    ``auto_needs_accelerator``: for kernels whose numpy path is faster than JAX on a CPU (the PSD inversion),
    ``"auto"`` picks JAX only when it runs on a GPU/TPU.

    >>> resolve_backend("numpy")
    'numpy'
    """
    if backend not in BACKENDS:
        raise FlowqdError(f"unknown array backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        if auto_needs_accelerator:
            return "jax" if jax_accelerator() else "numpy"
        return "jax" if jax_available() else "numpy"
    if backend == "jax" and not jax_available():
        raise FlowqdError("backend 'jax' requested but jax is not installed: pip install 'flowqd[jax]'")
    return backend
