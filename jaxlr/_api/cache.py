"""JAX's persistent compilation cache, turned on only when asked (importing jaxlr changes nothing),
and next to it jaxlr's store of traced programs (``ProgramStore``, see ``jaxlr._core.programs``)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import warnings

import jax

from .._core import programs as _programs

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
    programs = os.path.join(path, "jaxlr-programs")
    store = ProgramStore(programs)
    if os.path.lexists(programs) and not os.path.isdir(programs):  # JAX's cache still serves
        warnings.warn(f"jaxlr: programs are not kept across processes: {programs} is not a directory",
                      RuntimeWarning, stacklevel=2)
        store = None
    _programs.set_store(store, JaxCache(path))
    return path


def disable_compilation_cache() -> None:
    """Turn both caches off again (JAX's persistent cache and jaxlr's program store)."""
    jax.config.update("jax_compilation_cache_dir", None)
    _programs.set_store(None)


class JaxCache:
    """JAX's persistent compilation cache in ``directory``, as jaxlr turned it on: JAX warns on a
    damaged entry at every run and never overwrites it, so jaxlr removes it (``remove_damaged``)."""

    def __init__(self, directory: str):
        self.directory = directory

    def remove_damaged(self, module: str) -> None:
        """Delete the entries of ``module`` (``jit_run``, ...) that do not decompress."""
        try:
            from jax._src.compilation_cache import decompress_executable
        except ImportError:  # JAX's layout changed: leave the cache as it is
            return
        for name in os.listdir(self.directory):
            if name.startswith(module + "-") and name.endswith("-cache"):
                path = os.path.join(self.directory, name)
                try:
                    with open(path, "rb") as f:
                        decompress_executable(f.read())
                except OSError:
                    continue
                except Exception:  # zlib / zstd errors: the entry is damaged
                    with contextlib.suppress(OSError):
                        os.unlink(path)


class ProgramStore:
    """Serialized programs as files in ``directory``, named by a hash of their signature, of
    jaxlr's own source and of the JAX version (a changed jaxlr never reads a stale program).
    Files are written whole (temporary file, then ``os.replace``)."""

    def __init__(self, directory: str):
        self.directory = directory
        self._fingerprint = None

    def _source_fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256(f"{jax.__version__} {jax.lib.__version__}".encode())
            package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # jaxlr/
            for folder, _, files in sorted(os.walk(package)):
                for name in sorted(files):
                    if name.endswith(".py"):
                        with open(os.path.join(folder, name), "rb") as f:
                            digest.update(os.path.relpath(os.path.join(folder, name), package).encode() + f.read())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def key(self, parts) -> str:
        return hashlib.sha256((self._source_fingerprint() + repr(parts)).encode()).hexdigest()[:40]

    def load(self, name: str) -> bytes | None:
        path = os.path.join(self.directory, name + ".bin")
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def discard(self, name: str) -> None:
        """Remove an entry (a damaged one: it is kept afresh)."""
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(self.directory, name + ".bin"))

    def save(self, name: str, blob: bytes) -> None:
        os.makedirs(self.directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, os.path.join(self.directory, name + ".bin"))
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


__all__ = ["enable_compilation_cache", "disable_compilation_cache", "default_cache_dir", "CACHE_ENV", "ProgramStore",
           "JaxCache"]
