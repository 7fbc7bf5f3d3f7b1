"""Where the data and the lanes live: shape buckets, padding, placement, parameter packing.

Few programs, small programs: every compiled program costs a user ~0.3-1 s at a prompt, so the
data are padded to *shape buckets* (zero-weight rows, zero feature columns, repeated lanes, empty
folds) and one program serves every call with the same solver, dtype and buckets. Padding
changes nothing: a zero-weight row adds nothing to the weighted loss, a zero column has a zero
gradient (its coefficient stays at 0), a repeated lane is dropped from the result. ``prepare``
pads and places the data once per training call; nothing else pads.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import numpy as np

from .._core.design import FORWARD_FROM_XT_MAX_LANES, DenseDesign, dense
from .._core.model import Params
from .._core.host_sparse import host_sparse
from .._core.sparse import sparse
from .._core.status import HISTORY_SIZE
from . import mesh as _mesh
from .data import is_sparse

MIN_ROWS, MIN_FEATURES = 64, 8
LARGE = 2**22  # elements of X from which data keep their shape: compiling is then a small part
# elements of X from which dense data keep their column count: the products are then bound by
# reading X, and a zero column costs its bytes at every pass (20,000 x 50 padded to 64 columns
# took 0.74-0.77 s for LogisticRegressionCV against 0.56-0.58 s unpadded, bench/README.md); rows
# keep their buckets (at most 1/8 padding there), so resampled row counts still share a program
EXACT_COLUMNS = 2**18
FINE_BUCKETS_FROM = 512  # sizes from which buckets have four significant bits


def bucket(n: int, minimum: int = 1) -> int:
    """The padded size for ``n``: below 512 the next ``2^k`` or ``3 * 2^(k-1)`` (a third at most is
    padding, few distinct sizes), from 512 on a number with four significant bits (at most 1/8
    padding, where padding costs real work: breast cancer's 569 rows padded to 768 made its
    ``LogisticRegressionCV`` 1.1-1.25x slower than at 576, bench/README.md; the executable store
    compiles each bucket once per machine)."""
    n = max(int(n), minimum, 1)
    if n >= FINE_BUCKETS_FROM:
        shift = n.bit_length() - 4
        return -(-n >> shift) << shift
    size = 1 << (n - 1).bit_length()
    return 3 * size // 4 if size >= 4 and 3 * size // 4 >= n else size


def pow2_bucket(n: int, minimum: int = 1) -> int:
    """The next power of two (feature columns of small data and folds: the coarsest buckets, so
    datasets of similar width share a program; on small X a zero column costs little)."""
    return 1 << max(0, (max(int(n), minimum) - 1).bit_length())


def n_parameters(n_features: int, n_classes: int, fit_intercept: bool) -> int:
    width = 1 if n_classes == 2 else n_classes
    return (n_features + int(fit_intercept)) * width


def chunk_size_for(n_models: int, n_samples: int, n_outputs: int, n_params: int, steps: int,
                   itemsize: int, solver, memory_budget: int) -> int:
    """Models per chunk so that one chunk's temporaries fit in ``memory_budget`` bytes.

    Per model: the solver's ``lane_arrays`` (m, outputs)-sized temporaries, the loss history and
    its parameter-sized state (``state_floats``: a (p, p) Hessian for Newton, 2 x 10 vectors for
    L-BFGS).
    """
    per_model = (solver.lane_arrays(n_outputs) * n_samples * n_outputs + min(steps, HISTORY_SIZE)
                 + solver.state_floats(n_params))
    per_model = int(per_model * itemsize)
    most = int(max(1, min(n_models, memory_budget // max(1, per_model))))
    # chunks of even width: 64 models with room for 51 ran as 51 + 13 lanes, the second chunk at
    # a quarter of the products' width for the same fixed cost per step; 2 x 32 is 1.25x faster
    return -(-n_models // -(-n_models // most))


def use_transpose(solver, batch_size, mesh, is_sparse_x: bool = False, steps: int = 2) -> bool:
    """A row-major copy of X^T speeds up X^T R 2-7x on XLA:CPU (bench/README.md); it costs a
    second copy of X and a host transpose, worth it for solvers that take many gradient passes
    (``Solver.reads_transpose``). Not on accelerators (their matmuls read either layout at full
    speed), not for minibatches (they read rows). Sparse X: the chunked columns turn X^T R from a
    scatter into a gather, for every full-batch solver on accelerators and for those that read
    the transpose on CPU: there XLA's scatter-add runs sequentially, 6.8 ms of a 13.5 ms L-BFGS
    step on 50,000 x 25,000 with 2.5M non-zeros (6.5-7.7 ms a step with the columns; a 16-lane
    sweep 3.3 s against 3.9-4.3 s), and the columns cost 23 ms to build (bench/README.md)."""
    if steps < 2:  # the copy pays for itself from the second gradient pass on
        return False
    if is_sparse_x:
        return batch_size is None and (jax.default_backend() != "cpu" or solver.reads_transpose)
    return jax.default_backend() == "cpu" and batch_size is None and solver.reads_transpose


def keeps_rows(solver, transpose: bool, n_models: int) -> bool:
    """Whether a dense design keeps X's rows beside X^T: not for one lane of a solver that forms
    no Gram, whose products both read X^T (``design.FORWARD_FROM_XT_MAX_LANES``): the copy of X
    was 8 ms and 40 MB of a 100,000 x 100 fit for nothing."""
    return not (transpose and n_models <= FORWARD_FROM_XT_MAX_LANES and not solver.forms_gram)


def use_host_sparse(solver, transpose: bool, mesh) -> bool:
    """Sparse X whose products scipy computes on the host, two threads (``host_sparse``): on one
    CPU process, for the solvers that read both products many times (``transpose``) and form no
    Gram; on 10M non-zeros scipy's two threads take 8 ms a product where XLA's gathers take 17-24."""
    return (transpose and mesh is None and jax.default_backend() == "cpu" and jax.process_count() == 1
            and not solver.forms_gram)


class Prepared(NamedTuple):
    """Padded device inputs shared by every chunk."""

    design: Any
    y: Any
    W: Any
    n_rows: int
    n_features: int
    place: Callable | None  # lays a chunk's per-lane arrays out on a mesh


def _padded_labels_and_weights(y, W, rows: int):
    """Labels and fold weights grown to ``rows`` rows (weight 0) and a power of two of folds;
    the extra folds copy fold 0 (never indexed; keeps sums positive)."""
    m = len(y)
    yp = np.zeros((rows,), y.dtype)
    yp[:m] = y
    Wp = np.zeros((pow2_bucket(W.shape[0]), rows), W.dtype)
    Wp[: W.shape[0], :m] = W
    Wp[W.shape[0]:, :m] = W[0]
    return yp, Wp


def prepare(X, y, W, *, transpose: bool, keep_rows: bool = True, host: bool = False, mesh=None) -> Prepared:
    """Pad the data to their buckets (rows also to a multiple of the mesh's data axis) and place
    them on the device(s). Large dense data keep their exact shape: padding would copy X, and
    their run costs more than compiling a program of their own. ``keep_rows=False`` (dense, with
    ``transpose``, one device): the device holds only X^T (see ``design.dense``). ``host`` (sparse
    X): its products run on the host (``use_host_sparse``)."""
    m, n = X.shape
    if is_sparse(X):  # padding a sparse design adds no entries: always to the buckets
        rows, cols = bucket(m, MIN_ROWS), pow2_bucket(n, MIN_FEATURES) if n <= 256 else bucket(n)
        yp, Wp = _padded_labels_and_weights(y, W, rows)
        design = host_sparse(X, (rows, cols)) if host else sparse(X, transpose=transpose).pad(rows, cols)
        return Prepared(design, jax.device_put(yp), jax.device_put(Wp), m, n, None)
    n_row_dev = 1 if mesh is None else _mesh.axis_size(mesh, _mesh.DATA)
    large = m * n >= LARGE
    rows = -(-(m if large else bucket(m, MIN_ROWS)) // n_row_dev) * n_row_dev
    cols = n if m * n >= EXACT_COLUMNS else pow2_bucket(n, MIN_FEATURES) if n <= 256 else bucket(n)
    Xp = _pad_matrix(X, rows, cols)
    yp, Wp = _padded_labels_and_weights(y, W, rows)
    if mesh is None:
        return Prepared(dense(Xp, transpose=transpose, keep_rows=keep_rows), jax.device_put(yp), jax.device_put(Wp),
                        m, n, None)
    design = DenseDesign(_mesh.put(Xp, mesh, _mesh.spec(mesh, "data", None)),
                         _mesh.put(np.ascontiguousarray(Xp.T), mesh, _mesh.spec(mesh, None, "data"))
                         if transpose else None)
    yj = _mesh.put(yp, mesh, _mesh.spec(mesh, "data"))
    Wj = _mesh.put(Wp, mesh, _mesh.spec(mesh, None, "data"))

    def place(tree):
        def put(a):
            a = np.asarray(a) if not (isinstance(a, jax.Array) and a.ndim == 0) else a
            if np.ndim(a) == 0:
                return _mesh.replicate(a, mesh)
            return _mesh.put(a, mesh, _mesh.spec(mesh, *([None] * (np.ndim(a) - 1)), "models"))
        return jax.tree_util.tree_map(put, tree)

    return Prepared(design, yj, Wj, m, n, place)


def _pad_matrix(X: np.ndarray, rows: int, cols: int) -> np.ndarray:
    m, n = X.shape
    if (rows, cols) == (m, n):
        return X
    out = np.zeros((rows, cols), X.dtype)
    out[:m, :n] = X
    return out


def pack(init, lo, hi, width, n_features_padded, n_out, dtype) -> np.ndarray:
    """(P, width) starting parameters for lanes ``lo:hi`` (padding lanes repeat the last);
    ``init`` (coef (K, n[, C]), intercept (K[, C])) or None for zeros."""
    P = n_features_padded * n_out + n_out
    theta = np.zeros((P, width), dtype)
    if init is None:
        return theta
    coef, intercept = init
    idx = np.minimum(np.arange(lo, lo + width), hi - 1)
    c = coef[idx].reshape(width, -1, n_out)  # (w, n, C)
    cp = np.zeros((width, n_features_padded, n_out), dtype)
    cp[:, : c.shape[1]] = c
    theta[: n_features_padded * n_out] = cp.reshape(width, -1).T
    theta[n_features_padded * n_out:] = intercept[idx].reshape(width, n_out).T
    return theta


def unpack(state_theta, n_features, n_out) -> Params:
    """(P, K) -> coef (K, n[, C]), intercept (K[, C]) with the padding features cut off."""
    theta = np.asarray(state_theta).T  # (K, P)
    K = theta.shape[0]
    n_pad = (theta.shape[1] - n_out) // n_out
    coef = theta[:, : n_pad * n_out].reshape(K, n_pad, n_out)[:, :n_features]
    intercept = theta[:, n_pad * n_out:]
    if n_out == 1:
        return Params(coef[:, :, 0], intercept[:, 0])
    return Params(coef, intercept)


def on_mesh(a, mesh, n_lane_dev):
    """A result array split over "models" (replicated when the count does not divide)."""
    a = np.asarray(a)
    if a.shape[0] % n_lane_dev:
        return _mesh.replicate(a, mesh)
    return _mesh.put(a, mesh, _mesh.spec(mesh, "models"))


__all__ = ["bucket", "pow2_bucket", "n_parameters", "chunk_size_for", "use_transpose", "Prepared", "prepare",
           "pack", "unpack", "on_mesh", "MIN_ROWS", "MIN_FEATURES"]
