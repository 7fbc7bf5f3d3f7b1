"""Result files for the command line: a run's files are written as one set (``RunDir``),
every file whole or not at all (temporary file in the same directory, then ``os.replace``),
and finished chunks of a sweep are kept so an interrupted run can resume."""

from __future__ import annotations

import contextlib
import csv
import io as _io
import json
import os
import secrets
import shutil
import tempfile
from typing import Callable

RUN_FILES = ("results.csv", "params.npz", "run.json", "loss_curve.png", "heatmap.png", "validation_curve.png")
MANIFEST = "run.json"  # written last: its presence marks a complete set


class OutputError(Exception):
    """``--out`` cannot take this run's files; the message is one line."""


def _probe(directory: str) -> None:
    """Create and remove a file in ``directory``: the only test of writability that also holds
    for root, read-only mounts and ACLs (``os.access`` does not)."""
    fd, path = tempfile.mkstemp(dir=directory, prefix=".jaxlr-probe-")
    os.close(fd)
    os.unlink(path)


class RunDir:
    """The ``--out`` directory of one run.

    ``check()`` runs before any work: ``path`` is a directory or can be created in an existing
    one, it can be written, and it holds no earlier run unless ``force``. ``publish(files)``
    writes every file into a staging directory first (where a full disk or a permission
    error strikes), then makes the set visible by renames only: a new ``path`` is the staging
    directory renamed (one atomic step); into an existing one (a sweep's checkpoint is there)
    the files are moved one by one with ``run.json`` removed first and put back last, so a
    directory with a ``run.json`` always holds one whole run.
    """

    def __init__(self, path: str, force: bool = False):
        self.path = os.path.abspath(path)
        self.force = force

    def check(self) -> None:
        path = self.path
        if os.path.islink(path) and not os.path.exists(path):
            raise OutputError(f"is a symbolic link to {os.readlink(path)}, which does not exist; create the "
                              "directory it points to or choose another")
        if os.path.exists(path) and not os.path.isdir(path):
            raise OutputError("exists and is not a directory")
        if os.path.isdir(path):
            earlier = [f for f in RUN_FILES if os.path.lexists(os.path.join(path, f))]
            if earlier and not self.force:
                raise OutputError(f"holds an earlier run ({', '.join(earlier)}); pass --force to replace it "
                                  "or choose another directory")
            where = path
        else:
            where = os.path.dirname(path)
            if not os.path.isdir(where):
                raise OutputError(f"the parent directory {where} does not exist" if not os.path.exists(where)
                                  else f"{where} is not a directory")
        try:
            _probe(where)
        except OSError as err:
            raise OutputError(f"cannot write in {where}: {err.strerror or err}") from None

    def publish(self, files: dict[str, Callable[[str], None]]) -> None:
        """Write ``files`` (name -> ``write(path)``) as one set (see the class)."""
        exists = os.path.isdir(self.path)
        parent = self.path if exists else os.path.dirname(self.path)
        stage = os.path.join(parent, f".{os.path.basename(self.path)}.{secrets.token_hex(4)}.tmp")
        os.mkdir(stage, 0o777)  # the umask applies, as to any directory the user creates
        try:
            for name, write in files.items():
                write(os.path.join(stage, name))
            if not exists:
                os.rename(stage, self.path)
                return
            names = sorted(files, key=lambda n: n == MANIFEST)  # run.json last
            stale = [f for f in RUN_FILES if f not in files or f == MANIFEST]
            for name in sorted(stale, key=lambda n: n != MANIFEST):  # run.json first
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.path, name))
            for name in names:
                os.replace(os.path.join(stage, name), os.path.join(self.path, name))
            os.rmdir(stage)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise


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
    ``Checkpoint``). Each chunk file carries its own key: the data's hash and every setting that
    changes the results or the chunk layout (the device mesh included), so a chunk whose
    provenance cannot be proved (another key, or none) is never reused: ``verify`` refuses the
    resume before anything is computed or overwritten. Each chunk file also records which models
    it holds, and a loaded chunk must continue exactly where the previous one ended, hold
    ``n_models`` at most in all, and have arrays of one length: a chunk from another layout is
    refused rather than misaligned."""

    FIELDS = ("coef", "intercept", "n_iter", "status", "loss_history", "objective", "residual")
    START_OVER = "rerun without --resume to start over"

    def __init__(self, directory: str, key: dict, resume: bool, n_models: int | None = None):
        self.directory, self.key, self.resume, self.n_models = directory, key, resume, n_models
        self.loaded = 0
        self._started = False
        self._next_model = 0  # index of the first model of the next chunk

    def _chunk_path(self, chunk: int) -> str:
        return os.path.join(self.directory, f"chunk-{chunk:05d}.npz")

    def _encoded_key(self) -> str:
        return json.dumps(self.key, sort_keys=True, default=str)

    def verify(self) -> None:
        """With ``resume``: refuse a checkpoint any of whose chunks was made with other data or
        settings, or carries no key (``ValueError``, one line), before anything is overwritten."""
        if not (self.resume and os.path.isdir(self.directory)):
            return
        import numpy as np

        for name in sorted(os.listdir(self.directory)):
            if name.startswith("chunk-") and name.endswith(".npz"):
                path = os.path.join(self.directory, name)
                try:
                    with np.load(path) as z:
                        saved = str(z["key"]) if "key" in z.files else None
                except Exception as err:  # a damaged or foreign file
                    raise ValueError(f"--resume: {path} is not a readable chunk ({type(err).__name__}); "
                                     f"{self.START_OVER}") from None
                self._check_key(path, saved)

    def _check_key(self, path: str, saved: str | None) -> None:
        if saved is None:
            raise ValueError(f"--resume: {path} carries no key, so the run that made it cannot be proved to "
                             f"be this one; {self.START_OVER}")
        if saved != self._encoded_key():
            old = json.loads(saved)
            changed = sorted(k for k in set(old) | set(self.key) if old.get(k) != self.key.get(k))
            raise ValueError(f"--resume: the checkpoint in {self.directory} was made with different "
                             f"{', '.join(changed) or 'settings'} ({os.path.basename(path)}); {self.START_OVER}")

    def load(self, chunk: int):
        if not self.resume:
            return None
        path = self._chunk_path(chunk)
        if not os.path.exists(path):
            return None
        import numpy as np

        from .._core.model import Params
        from .._train.chunks import RawResult

        try:
            with np.load(path) as z:
                a = {k: np.asarray(z[k]) for k in self.FIELDS}
                first, stored = int(z["first_model"]), int(z["chunk"])
                saved = str(z["key"]) if "key" in z.files else None
        except Exception as err:  # a damaged or foreign file
            raise ValueError(f"--resume: {path} is not a readable chunk ({type(err).__name__}); "
                             f"{self.START_OVER}") from None
        self._check_key(path, saved)
        lengths = {len(v) for v in a.values()}
        n = lengths.pop() if len(lengths) == 1 else -1
        end = first + n
        if stored != chunk or first != self._next_model or n < 1 or (self.n_models is not None and end > self.n_models):
            raise ValueError(f"--resume: {path} holds models {first}..{end - 1} of another chunk layout "
                             f"(this run expects chunk {chunk} to start at model {self._next_model}); "
                             f"{self.START_OVER}")
        self._next_model = end
        self.loaded += 1
        return RawResult(Params(a["coef"], a["intercept"]), a["n_iter"], a["status"], a["loss_history"],
                         a["objective"], a["residual"])

    def save(self, chunk: int, result) -> None:
        import numpy as np

        from ..distributed import is_main_process
        from ..sharding import to_host

        values = dict(coef=result.params.coef, intercept=result.params.intercept, n_iter=result.n_iter,
                      status=result.status, loss_history=result.loss_history, objective=result.objective,
                      residual=result.residual)
        values = {k: to_host(v) for k, v in values.items()}  # a collective when chunks span hosts
        first = self._next_model
        self._next_model += len(values["n_iter"])
        if not is_main_process():
            return
        if not self._started:
            os.makedirs(self.directory, exist_ok=True)
            for name in os.listdir(self.directory):
                # temporaries of a killed run; on a fresh run, also chunks of an older one
                if name.endswith(".tmp") or (not self.resume and name.startswith("chunk-")) or name == "key.json":
                    os.unlink(os.path.join(self.directory, name))
            self._started = True
        write_npz(self._chunk_path(chunk), first_model=first, chunk=chunk, key=np.asarray(self._encoded_key()),
                  **{k: np.asarray(v) for k, v in values.items()})

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


__all__ = ["RunDir", "OutputError", "DirCheckpoint", "atomic", "write_csv", "write_json", "write_npz", "write_png",
           "RUN_FILES"]
