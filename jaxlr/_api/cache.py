"""Where compiled programs are kept between processes.

- jaxlr's own store of compiled executables: on by default, in ``default_program_dir()``
  (``$JAXLR_CACHE_DIR/executables``, else ``~/.cache/jaxlr/executables``), bounded to
  ``MAX_BYTES`` (least recently used entries go first), off with ``JAXLR_CACHE_DIR=""`` or
  ``set_program_cache(None)``. It touches no JAX setting: jaxlr compiles its programs itself
  (``jit(...).lower(...).compile()``) and serializes the executables
  (``jax.experimental.serialize_executable``), so a fresh process neither traces nor compiles.
- JAX's persistent compilation cache, turned on only when asked (``enable_compilation_cache``,
  the CLI's default), with jaxlr's store of traced programs next to it (``jax.export``; it serves
  the programs the executable store cannot keep).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import warnings

import jax

from .._core import programs as _programs

CACHE_ENV = "JAXLR_CACHE_DIR"
MAX_BYTES = 512 * 2**20  # the executable store's bound (a solver's program is 0.2-2 MB)


def default_cache_dir() -> str | None:
    """``$JAXLR_CACHE_DIR`` if set (an empty value means no cache), else
    ``$XDG_CACHE_HOME/jaxlr/xla`` (``~/.cache/jaxlr/xla``)."""
    if CACHE_ENV in os.environ:
        return os.environ[CACHE_ENV] or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxlr", "xla")


def default_program_dir() -> str | None:
    """Where jaxlr keeps its compiled programs by default: ``$JAXLR_CACHE_DIR/executables`` if
    ``$JAXLR_CACHE_DIR`` is set (an empty value: nowhere), else ``~/.cache/jaxlr/executables``
    (under ``$XDG_CACHE_HOME`` when set)."""
    if CACHE_ENV in os.environ:
        return os.path.join(os.environ[CACHE_ENV], "executables") if os.environ[CACHE_ENV] else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxlr", "executables")


def set_program_cache(path: str | os.PathLike | None, max_bytes: int = MAX_BYTES) -> str | None:
    """Keep jaxlr's compiled programs in ``path`` (created when first written; ``None``: compile
    in every process), at most ``max_bytes`` of them. Returns the directory in use. Safe under
    concurrent processes: entries are written whole and read-only after; a damaged entry costs one
    warning and a compile; a directory that cannot be written stops the keeping with one warning."""
    if path is None or not os.fspath(path):
        _programs.set_executables(None)
        return None
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    _programs.set_executables(ProgramStore(path, max_bytes=max_bytes))
    return path


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
    set_program_cache(os.path.join(path, "executables"))
    return path


def disable_compilation_cache() -> None:
    """Turn the caches off again (JAX's persistent cache and jaxlr's program stores)."""
    jax.config.update("jax_compilation_cache_dir", None)
    _programs.set_store(None)
    set_program_cache(None)


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

    def __init__(self, directory: str, max_bytes: int | None = None):
        self.directory = directory
        self.max_bytes = max_bytes  # None: unbounded; else least recently used entries go first
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
                blob = f.read()
        except FileNotFoundError:
            return None
        if self.max_bytes is not None:
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used: evicted last
        return blob

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
        if self.max_bytes is not None:
            self.evict(self.max_bytes)

    def evict(self, max_bytes: int) -> None:
        """Remove the least recently used entries until the store holds at most ``max_bytes``."""
        entries = []
        for name in os.listdir(self.directory):
            if name.endswith(".bin"):
                with contextlib.suppress(OSError):
                    st = os.stat(os.path.join(self.directory, name))
                    entries.append((st.st_mtime, st.st_size, name))
        total = sum(size for _, size, _ in entries)
        for _, size, name in sorted(entries):
            if total <= max_bytes:
                break
            self.discard(name[:-len(".bin")])
            total -= size


set_program_cache(default_program_dir())  # on by default; nothing is written before a program is compiled

__all__ = ["enable_compilation_cache", "disable_compilation_cache", "default_cache_dir", "default_program_dir",
           "set_program_cache", "CACHE_ENV", "MAX_BYTES", "ProgramStore", "JaxCache"]
