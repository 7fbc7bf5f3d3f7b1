"""JAX's persistent compilation cache, turned on only when asked (importing jaxlr changes nothing)."""

from __future__ import annotations

import os
import tempfile
import warnings

import jax

CACHE_ENV = "JAXLR_CACHE_DIR"


def default_cache_dir() -> str | None:
    """``$JAXLR_CACHE_DIR`` if set (an empty value means no cache), else
    ``$XDG_CACHE_HOME/jaxlr/xla`` (``~/.cache/jaxlr/xla``)."""
    if CACHE_ENV in os.environ:
        return os.environ[CACHE_ENV] or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxlr", "xla")


def enable_compilation_cache(path: str | os.PathLike | None = None) -> str | None:
    """Keep compiled programs on disk, so a fresh process with shapes seen before skips XLA
    compilation. Returns the directory in use, or ``None`` when the cache stays off.

    ``path`` defaults to ``default_cache_dir()``. Every program is cached, however quick its
    compilation (JAX's default keeps only those over one second). A directory that cannot be
    created or written turns the cache off with one warning instead of failing later.
    """
    path = default_cache_dir() if path is None else os.fspath(path)
    if not path:
        return None
    path = os.path.abspath(os.path.expanduser(path))
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".jaxlr-write-test-"):
            pass
    except OSError as err:
        warnings.warn(f"jaxlr: compilation cache off: cannot write to {path} ({err.strerror or err})",
                      RuntimeWarning, stacklevel=2)
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


__all__ = ["enable_compilation_cache", "default_cache_dir", "CACHE_ENV"]
