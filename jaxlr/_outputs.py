"""Result files for the command line: every file is written whole or not at all
(temporary file in the same directory, then ``os.replace``), and finished chunks of a sweep
are kept so an interrupted run can resume."""

from __future__ import annotations

import contextlib
import csv
import io as _io
import json
import os
import signal
import tempfile



@contextlib.contextmanager
def atomic(path: str, mode: str = "wb"):
    """Write ``path`` via a temporary file in the same directory and ``os.replace``:
    readers (and a crash) see the old file or the whole new one, never a part."""
    directory = os.path.dirname(os.path.abspath(path))
    name = "." + os.path.basename(path) + "." + next(tempfile._get_candidate_names()) + ".tmp"
    tmp = os.path.join(directory, name)
    # O_EXCL with mode 0o666: the process umask applies, as for any file the user creates
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_csv(path, rows: list[dict]):
    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()} for r in rows)
    with atomic(path, "w") as f:
        f.write(buf.getvalue())


def write_json(path, obj):
    with atomic(path, "w") as f:
        json.dump(obj, f, indent=2, default=str)
        f.write("\n")


def write_npz(path, **arrays):
    import numpy as np

    with atomic(path) as f:
        np.savez(f, **arrays)


def write_png(path, fig):
    with atomic(path) as f:
        fig.savefig(f, format="png", dpi=130)


class DirCheckpoint:
    """Finished sweep chunks as ``chunk-NNNNN.npz`` files in a directory (``jaxlr.sweep``'s
    ``Checkpoint``). ``key.json`` holds a hash of the data and every setting that changes
    the results; a resume with another key is refused."""

    FIELDS = ("coef", "intercept", "n_iter", "status", "loss_history", "objective", "residual")

    def __init__(self, directory: str, key: dict, resume: bool):
        self.directory, self.key, self.resume = directory, key, resume
        self.loaded = 0
        self._started = False

    def _chunk_path(self, chunk: int) -> str:
        return os.path.join(self.directory, f"chunk-{chunk:05d}.npz")

    def verify(self) -> None:
        """With ``resume``: refuse a checkpoint made with other data or settings."""
        path = os.path.join(self.directory, "key.json")
        if not (self.resume and os.path.exists(path)):
            return
        with open(path) as f:
            saved = json.load(f)
        if saved != self.key:
            changed = sorted(k for k in set(saved) | set(self.key) if saved.get(k) != self.key.get(k))
            raise ValueError(f"--resume: the checkpoint in {self.directory} was made with different "
                             f"{', '.join(changed)}; rerun without --resume to start over")

    def load(self, chunk: int):
        if not self.resume:
            return None
        path = self._chunk_path(chunk)
        if not os.path.exists(path):
            return None
        import jax.numpy as jnp
        import numpy as np

        from ._model import Params
        from ._train import RawResult

        with np.load(path) as z:
            a = {k: jnp.asarray(z[k]) for k in self.FIELDS}
        self.loaded += 1
        return RawResult(Params(a["coef"], a["intercept"]), a["n_iter"], a["status"], a["loss_history"],
                         a["objective"], a["residual"])

    def save(self, chunk: int, result) -> None:
        import numpy as np

        from .distributed import is_main_process
        from .sharding import to_host

        values = dict(coef=result.params.coef, intercept=result.params.intercept, n_iter=result.n_iter,
                      status=result.status, loss_history=result.loss_history, objective=result.objective,
                      residual=result.residual)
        values = {k: to_host(v) for k, v in values.items()}  # a collective when chunks span hosts
        if not is_main_process():
            return
        if not self._started:
            os.makedirs(self.directory, exist_ok=True)
            for name in os.listdir(self.directory):
                # temporaries of a killed run; on a fresh run, also chunks of an older one
                if name.endswith(".tmp") or (not self.resume and name.startswith("chunk-")):
                    os.unlink(os.path.join(self.directory, name))
            write_json(os.path.join(self.directory, "key.json"), self.key)
            self._started = True
        write_npz(self._chunk_path(chunk), **{k: np.asarray(v) for k, v in values.items()})
        debug_stop(chunk)

    def remove(self) -> None:
        import shutil

        shutil.rmtree(self.directory, ignore_errors=True)


def debug_stop(chunk: int) -> None:
    """Test hook: ``JAXLR_DEBUG_STOP_AFTER_CHUNK=c[:SIGNAL]`` signals this process once chunk
    ``c`` is saved, to test interruption deterministically."""
    spec = os.environ.get("JAXLR_DEBUG_STOP_AFTER_CHUNK")
    if spec:
        at, _, sig = spec.partition(":")
        if chunk == int(at):
            os.kill(os.getpid(), getattr(signal, "SIG" + (sig or "INT")))
