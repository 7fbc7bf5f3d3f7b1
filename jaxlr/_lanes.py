"""The host side of training many models: checks, shape buckets, chunks, rounds, results.

``fit_many`` is the core's one "many lanes" entry point; ``jaxlr.fit`` (one lane),
``jaxlr.sweep`` (a grid), ``LogisticRegressionCV`` and the command line all call it.

Few programs, small programs: every compiled program costs a user ~0.3-1 s at a prompt, so the
data are padded to *shape buckets* (zero-weight rows, zero feature columns, repeated lanes, empty
folds) and everything that varies between calls (hyperparameters, step budget, tolerance,
``fit_intercept``, where a round starts and stops) is a traced value. One program serves every
call with the same solver, dtype and buckets, in this process and, through JAX's persistent
cache (``jaxlr.enable_compilation_cache``), in the next. Padding changes nothing: a zero-weight
row adds nothing to the weighted loss, a zero column has a zero gradient (its coefficient stays
at 0), a repeated lane is dropped from the result.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable, NamedTuple, Protocol, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from . import _data
from . import _design
from . import _programs
from . import sharding as _sharding
from ._engine import Control, Hyper, Lanes, LoopState, Static
from ._model import Params
from ._results import (
    HISTORY_HEAD, HISTORY_SIZE, ConvergenceWarning, FrozenDict, Status, SweepResult, history_steps,
)
from ._solvers import NEWTON_MAX_PARAMS, resolve_solver, uses_learning_rate

DEFAULT_TOL = 1e-4
DEFAULT_MEMORY_BUDGET = 512 * 2**20  # bytes of per-model temporaries in one chunk
MIN_ROWS, MIN_FEATURES = 64, 8


class RawResult(NamedTuple):
    """One chunk's results on the host, models first, features unpadded (what checkpoints keep)."""

    params: Params
    n_iter: np.ndarray
    status: np.ndarray
    loss_history: np.ndarray
    objective: np.ndarray
    residual: np.ndarray


class Checkpoint(Protocol):
    """Where finished chunks of a sweep are kept (the CLI stores them as files)."""

    def load(self, chunk: int) -> RawResult | None: ...

    def save(self, chunk: int, result: RawResult) -> None: ...


# ----------------------------------------------------------------------------- buckets


def bucket(n: int, minimum: int = 1) -> int:
    """The padded size for ``n``: below 4096 the next ``2^k`` or ``3 * 2^(k-1)`` (a third at most is
    padding, few distinct sizes), from 4096 on a number with four significant bits (at most 1/8
    padding, where padding costs real work)."""
    n = max(int(n), minimum, 1)
    if n >= 4096:
        shift = n.bit_length() - 4
        return -(-n >> shift) << shift
    size = 1 << (n - 1).bit_length()
    return 3 * size // 4 if size >= 4 and 3 * size // 4 >= n else size


def pow2_bucket(n: int, minimum: int = 1) -> int:
    """The next power of two (feature columns and folds: the coarsest buckets, so datasets of
    similar width share a program; a zero column costs little)."""
    return 1 << max(0, (max(int(n), minimum) - 1).bit_length())


# ----------------------------------------------------------------------------- option checks


def check_options(*, solver, steps, tol, batch_size, fit_intercept, n_samples, n_features,
                  n_classes, uses_l1, learning_rate_grid: bool = False, n_models: int = 1) -> tuple[Any, float | None]:
    """Host-side checks shared by ``fit`` and ``sweep``; returns (resolved solver, tol)."""
    _data.check_scalar("steps", steps, minimum=1, integer=True)
    if batch_size is not None:
        batch_size = _data.check_scalar("batch_size", batch_size, minimum=1, integer=True)
        if batch_size > n_samples:
            raise _data.ArgumentValueError("batch_size", f"must be <= n_samples ({n_samples}), got {batch_size}")
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise _data.ArgumentTypeError("fit_intercept", f"must be a bool, got {fit_intercept!r}")
    if isinstance(tol, str):
        if tol != "auto":
            raise _data.ArgumentValueError("tol", f"must be a non-negative number, None or 'auto', got {tol!r}")
        tol = None if batch_size else DEFAULT_TOL
    elif tol is not None:
        tol = _data.check_scalar("tol", tol, minimum=0.0)
        if batch_size:
            raise _data.ArgumentValueError(
                "tol", "must be None (or 'auto') with batch_size: minibatch gradients cannot certify convergence"
            )
    n_params = n_parameters(n_features, n_classes, bool(fit_intercept))
    resolved = resolve_solver(solver, uses_l1=uses_l1, minibatch=batch_size is not None, n_params=n_params,
                              learning_rate_grid=learning_rate_grid, n_samples=n_samples, n_models=n_models)
    return resolved, tol


def n_parameters(n_features: int, n_classes: int, fit_intercept: bool) -> int:
    width = 1 if n_classes == 2 else n_classes
    return (n_features + int(fit_intercept)) * width


def check_seed(name: str, value) -> int:
    seed = _data.check_scalar(name, value, integer=True)
    if not 0 <= seed < 2**32:
        raise _data.ArgumentValueError(name, f"must be in 0 .. 2**32 - 1 (a PRNG seed), got {seed}")
    return seed


def check_init(init, n_models: int, n_features: int, n_classes: int, dtype) -> tuple[np.ndarray, np.ndarray] | None:
    """Starting parameters as host arrays with a models axis: ``coef`` (K, n[, C]), ``intercept``
    (K[, C]); from ``Params``/``FitResult`` (shared by all models) or a ``SweepResult`` / batched
    ``Params`` (one per model). ``None``: zeros (the seed's ``theta = 0``)."""
    if init is None:
        return None
    coef_shape = (n_features,) if n_classes == 2 else (n_features, n_classes)
    icpt_shape = () if n_classes == 2 else (n_classes,)
    pair = (init[0], init[1]) if isinstance(init, tuple) else (getattr(init, "coef", None), getattr(init, "intercept", None))
    coef, intercept = (np.asarray(_sharding.to_host(a)) if a is not None else None for a in pair)
    if coef is None or intercept is None:
        raise _data.ArgumentTypeError("init", f"must be Params, a FitResult or a SweepResult, got {type(init).__name__}")
    if coef.shape == coef_shape and intercept.shape == icpt_shape:
        coef, intercept = np.broadcast_to(coef, (n_models,) + coef_shape), np.broadcast_to(intercept, (n_models,) + icpt_shape)
    elif not (coef.shape == (n_models,) + coef_shape and intercept.shape == (n_models,) + icpt_shape):
        raise _data.ArgumentValueError(
            "init", f"must have coef {coef_shape} and intercept {icpt_shape} (or one per model, with a leading "
            f"axis of {n_models}), got {coef.shape} and {intercept.shape}"
        )
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise _data.ArgumentValueError("init", "contains NaN or inf")
    return coef.astype(dtype), intercept.astype(dtype)


def warn_if_unfinished(status, residual, tol, steps, label: str = "") -> None:
    """``ConvergenceWarning`` for models that stopped at the budget or diverged."""
    status = np.atleast_1d(_sharding.to_host(status))  # with several hosts, gathers their shards
    stuck = int(np.sum(status == Status.MAX_ITER))
    diverged = int(np.sum(status == Status.DIVERGED))
    if stuck:
        worst = float(np.max(np.atleast_1d(_sharding.to_host(residual))[status == Status.MAX_ITER]))
        warnings.warn(
            f"{label}{stuck} model(s) stopped at the budget of steps={steps} with max|grad| = "
            f"{worst:.3g} > tol = {tol}. Increase steps, standardize X (standardize=True), or try "
            "solver='newton' (few features) or 'lbfgs'.",
            ConvergenceWarning,
            stacklevel=3,
        )
    if diverged:
        warnings.warn(
            f"{label}{diverged} model(s) diverged (objective not finite or above its start); "
            "lower the learning rate or use a line-search solver ('lbfgs', 'newton').",
            ConvergenceWarning,
            stacklevel=3,
        )


# ----------------------------------------------------------------------------- memory


def lane_arrays(solver: Any, n_params: int, n_outputs: int) -> float:
    """Upper bound on the (m, outputs)-sized temporaries one model holds at once, read off XLA's
    ``memory_analysis().temp_size_in_bytes`` on CPU (tests/test_chunking.py checks it stays an
    upper bound): logits, losses, cotangents, the lane's weights and line-search trial logits;
    Newton also the per-row curvature (outputs^2 per row) and a chunk of its Gram products."""
    if solver == "newton":
        return 14 + 4 * n_outputs
    if solver in ("lbfgs", "fista"):
        return 14
    return 10


def chunk_size_for(n_models: int, n_samples: int, n_outputs: int, n_params: int, steps: int,
                   itemsize: int, solver: Any, memory_budget: int) -> int:
    """Models per chunk so that one chunk's temporaries fit in ``memory_budget`` bytes.

    Per model: ``lane_arrays`` (m, outputs)-sized temporaries, the loss history, and
    parameter-sized solver state (a (p, p) Hessian for Newton, 2 x 10 vectors for L-BFGS).
    """
    per_model = (lane_arrays(solver, n_params, n_outputs) * n_samples * n_outputs + min(steps, HISTORY_SIZE)
                 + 40 * n_params)
    if solver == "newton":
        per_model += 4 * n_params * n_params
    per_model = int(per_model * itemsize)
    return int(max(1, min(n_models, memory_budget // max(1, per_model))))


# ----------------------------------------------------------------------------- the program

def _work_rows(design) -> int:
    """The rows ``program_kind`` weighs: a sparse design's stored entries when more (its products
    are gathers and sums that XLA emits as loops, several times slower at -O0; a 10-step fit on
    2.5M entries took 3.8 s at -O0)."""
    rows = design.shape[0]
    return max(rows, design.nnz) if isinstance(design, _design.SparseDesign) else rows


_STATE_SHAPES: dict = {}
_WORK = [0]


def lane_steps_computed() -> int:
    """Model-steps computed by the training loop in this process (padding lanes included)."""
    return _WORK[0]


def _state_template(design, y, W, lanes, theta0, control, static):
    """A zero ``LoopState`` of the right shapes (the program builds the real one when ``fresh``);
    its shapes come from tracing ``init_state`` once per signature (no compilation)."""
    from ._engine import init_state

    key = (static, jax.tree_util.tree_structure((design, lanes)),
           tuple((a.shape, a.dtype) for a in jax.tree_util.tree_leaves((design, y, W, lanes, theta0))))
    shapes = _STATE_SHAPES.get(key)
    if shapes is None:
        shapes = jax.eval_shape(lambda *a: init_state(*a, static), design, y, W, lanes, theta0, control)
        _STATE_SHAPES[key] = shapes
    return jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes)


class Prepared(NamedTuple):
    """Padded device inputs shared by every chunk."""

    design: Any
    y: Any
    W: Any
    n_rows: int
    n_features: int
    place: Callable | None  # lays a chunk's per-lane arrays out on a mesh


def _control(steps, stop_at, to_tolerance, fit_intercept, n_rows, fresh) -> Control:
    stride = max(1, -(-(steps - HISTORY_HEAD) // (HISTORY_SIZE - HISTORY_HEAD)))
    return Control(np.int32(steps), np.int32(min(stop_at, 2**31 - 1)), np.bool_(to_tolerance),
                   np.bool_(fit_intercept), np.int32(n_rows), np.bool_(fresh), np.int32(stride))


def _theta0(init, lo, hi, width, n_features_padded, n_out, dtype) -> np.ndarray:
    """(P, width) starting parameters for lanes ``lo:hi`` (padding lanes repeat the last)."""
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


def _unpack(state_theta, n_features, n_out) -> Params:
    """(P, K) -> coef (K, n[, C]), intercept (K[, C]) with the padding features cut off."""
    theta = np.asarray(state_theta).T  # (K, P)
    K = theta.shape[0]
    n_pad = (theta.shape[1] - n_out) // n_out
    coef = theta[:, : n_pad * n_out].reshape(K, n_pad, n_out)[:, :n_features]
    intercept = theta[:, n_pad * n_out:]
    if n_out == 1:
        return Params(coef[:, :, 0], intercept[:, 0])
    return Params(coef, intercept)


COMPILE_COST_S = 0.5  # what compiling a program for a new lane width is assumed to cost
PROBE_STEPS = 8  # the first round of a chunk that may be compacted; the second is timed
_COMPILED: set = set()  # (variant, design leaf shapes, width, static) compiled in this process


def run_lanes(prepared: Prepared, lanes: Lanes, init, static: Static, *, steps: int, to_tolerance: bool,
              fit_intercept: bool, chunk_size: int, lane_multiple: int = 1,
              progress: Callable[[int, int], None] | None = None, progress_every: int | None = None,
              checkpoint: Checkpoint | None = None) -> RawResult:
    """Train all lanes, ``chunk_size`` at a time (each chunk padded to one lane bucket, so one
    program serves them all), in host rounds when progress is reported or lanes are compacted."""
    n_models = int(lanes.fold.shape[0])
    width = bucket(chunk_size)
    width = -(-width // lane_multiple) * lane_multiple
    dtype = np.dtype(prepared.design.dtype)
    every = steps if progress is None else int(progress_every or max(1, steps // 50))
    parts = []
    for c in range(-(-n_models // chunk_size)):
        lo, hi = c * chunk_size, min((c + 1) * chunk_size, n_models)
        part = checkpoint.load(c) if checkpoint is not None else None
        if part is not None and len(part.n_iter) != hi - lo:
            raise _data.ArgumentValueError(
                "checkpoint", f"chunk {c} holds {len(part.n_iter)} models where this run has {hi - lo}; "
                "it was made with other settings")
        if part is None:
            idx = np.minimum(np.arange(lo, lo + width), hi - 1)
            chunk = jax.tree_util.tree_map(lambda a: np.asarray(a)[idx], lanes)
            theta0 = _theta0(init, lo, hi, width, prepared.design.shape[1], static.n_outputs, dtype)
            report = None if progress is None else (
                lambda done, lo=lo, hi=hi: progress(lo * steps + (hi - lo) * done, n_models * steps))
            state, summary = _train_chunk(prepared, chunk, theta0, static, steps=steps, to_tolerance=to_tolerance,
                                          fit_intercept=fit_intercept, n_real=hi - lo, every=every, report=report)
            part = _collect(state, summary, hi - lo, prepared.n_features, static.n_outputs, steps)
            if checkpoint is not None:
                checkpoint.save(c, part)
        parts.append(part)
        if progress is not None:
            progress(hi * steps, n_models * steps)
    if len(parts) == 1:
        return parts[0]
    return jax.tree_util.tree_map(lambda *a: np.concatenate(a), *parts)


def _lanes_of(tree, sel):
    """The lanes ``sel`` of every per-lane leaf (lanes last; the step counter has none)."""
    return jax.tree_util.tree_map(lambda a: a if np.ndim(a) == 0 else np.asarray(a)[..., sel], tree)


def _train_chunk(prepared: Prepared, chunk: Lanes, theta0, static: Static, *, steps, to_tolerance,
                 fit_intercept, n_real, every, report):
    """One chunk of lanes through the program, to the end of its budget.

    One call when nothing needs the host in between. In rounds of ``every`` steps when progress
    is reported. To tolerance (width >= 8, one device), the chunk may also be *compacted*: after
    a probe round and a timed round, whenever the running lanes fit a smaller lane bucket and the
    measured step time says the steps saved outweigh compiling a program of that width
    (``COMPILE_COST_S``; nothing when it is already compiled), the running lanes continue alone
    and the stopped ones wait on the host. Small problems never pay for a second program."""
    width = theta0.shape[1]
    n_out = static.n_outputs
    data = (prepared.design, prepared.y, prepared.W)
    control = _control(steps, steps, to_tolerance, fit_intercept, prepared.n_rows, True)
    state = _state_template(*data, chunk, theta0, control, static)
    if prepared.place is not None:
        chunk, theta0, state = prepared.place((chunk, theta0, state))
    compactable = to_tolerance and prepared.place is None and width >= 8
    members = np.arange(width)  # the chunk lanes the running state holds, in order
    full = None  # (state, summary) of the whole chunk on the host, once compacted
    round_len = min(every, PROBE_STEPS) if compactable else every
    step_time, t = None, 0
    # the program depends on every leaf's shape (a sparse design's chunks vary with its pattern)
    design_sig = tuple((a.shape, str(a.dtype)) for a in jax.tree_util.tree_leaves(prepared.design))
    while True:
        cur = len(members)
        kind = _programs.program_kind(_work_rows(prepared.design), prepared.design.shape[1], cur, n_out,
                                      static.solver, steps)
        key = (kind, design_sig, cur, static)
        control = control._replace(stop_at=np.int32(min(t + round_len, 2**31 - 1)), fresh=np.bool_(t == 0))
        start = time.perf_counter()
        state, summary = _programs.call(kind, static, state, *data, chunk, theta0, control)
        status = _sharding.to_host(summary.status)  # with several hosts, gathers
        previous, t = t, int(_sharding.to_host(state.t))
        elapsed = time.perf_counter() - start
        _WORK[0] += cur * (t - previous)
        timed = key in _COMPILED
        _COMPILED.add(key)
        running = np.flatnonzero((status == Status.RUNNING) & (members < n_real))
        if t >= steps or running.size == 0:
            break
        if report is not None:
            report(t)
        if not compactable:
            continue
        if timed and t > previous:
            step_time = elapsed / (t - previous) * width / cur  # per step of the full width
        if step_time is None:
            continue
        new = bucket(running.size)
        remaining = min(steps - t, t)  # lanes still running may need about as many steps again
        saving = step_time * remaining * (cur - new) / width
        compile_cost = 0.0 if (kind, design_sig, new, static) in _COMPILED \
            else COMPILE_COST_S
        if new < cur and saving > compile_cost:
            host_state = jax.tree_util.tree_map(np.asarray, state)
            host_summary = jax.tree_util.tree_map(np.asarray, summary)
            if full is None:
                full = jax.tree_util.tree_map(np.array, (host_state, host_summary))
            else:
                full = _scatter(full, (host_state, host_summary), members)
            sel = np.concatenate([running, np.repeat(running[-1:], new - running.size)])
            state, chunk, theta0 = _lanes_of(host_state, sel), _lanes_of(chunk, sel), theta0[:, sel]
            members = members[sel]
        elif step_time * (steps - t) * (1 - bucket(max(1, running.size // 2)) / width) < COMPILE_COST_S:
            round_len = every  # even halving the lanes could not pay for a program: run on
            compactable = False
            continue
        round_len = min(every, max(4, int(0.05 / max(step_time * len(members) / width, 1e-9))))
    if full is not None:
        state, summary = _scatter(full, (jax.tree_util.tree_map(np.asarray, state),
                                         jax.tree_util.tree_map(np.asarray, summary)), members)
    return state, summary


def _scatter(full, part, members):
    """Write the lanes of ``part`` back into ``full`` at ``members`` (the step counter: part's)."""
    def put(f, p):
        if np.ndim(f) == 0:
            return p
        f[..., members] = p
        return f

    return jax.tree_util.tree_map(put, full, part)


def _collect(state: LoopState, summary, n: int, n_features: int, n_out: int, steps: int) -> RawResult:
    """The first ``n`` lanes of a chunk as host arrays; the loss history cut to the steps it
    records, entries past the end of the loop holding the lane's last value."""
    host = _sharding.to_host  # with several hosts, gathers every process's shards
    t = int(host(state.t))
    length = min(steps, HISTORY_SIZE)
    history = host(state.history)[:length, :n].T.copy()
    recorded_at = history_steps(steps, length, HISTORY_HEAD)
    value = host(state.value)[:n]
    # past the loop's end, and while a compacted chunk ran without a stopped lane, a lane's entries
    # were not written: they hold its last value, as a frozen lane's do
    unwritten = (recorded_at[None, :] >= t) | np.isnan(history)
    history = np.where(unwritten, value[:, None], history)
    params = _unpack(host(state.theta)[:, :n], n_features, n_out)
    return RawResult(params, host(state.n_iter)[:n], host(summary.status)[:n], history,
                     host(summary.objective)[:n], host(summary.residual)[:n])


LARGE = 2**22  # elements of X from which data keep their shape: compiling is then a small part


def prepare(X, y, W, *, transpose: bool, n_row_multiple: int = 1, mesh=None) -> Prepared:
    """Pad the data to their buckets (rows also to a multiple of the mesh's data axis) and place
    them on the device(s). Large data keep their exact shape: padding would copy X, and their
    run costs more than compiling a program of their own."""
    m, n = X.shape
    if _design.is_sparse(X):  # padding a sparse design adds no entries: always to the buckets
        if mesh is not None:
            raise _data.ArgumentValueError("mesh", "cannot hold a sparse X yet; pass mesh=None (or a dense X)")
        rows = bucket(m, MIN_ROWS)
        cols = pow2_bucket(n, MIN_FEATURES) if n <= 256 else bucket(n)
        folds = pow2_bucket(W.shape[0])
        yp = np.zeros((rows,), y.dtype)
        yp[:m] = y
        Wp = np.zeros((folds, rows), W.dtype)
        Wp[: W.shape[0], :m] = W
        Wp[W.shape[0]:, :m] = W[0]
        design = _design.sparse(X, transpose=transpose).pad(rows, cols)
        return Prepared(design, jax.device_put(yp), jax.device_put(Wp), m, n, None)
    large = m * n >= LARGE
    rows = -(-(m if large else bucket(m, MIN_ROWS)) // n_row_multiple) * n_row_multiple
    cols = n if large else pow2_bucket(n, MIN_FEATURES) if n <= 256 else bucket(n)
    folds = pow2_bucket(W.shape[0])
    Xp = _pad_matrix(X, rows, cols)
    yp = np.zeros((rows,), y.dtype)
    yp[:m] = y
    Wp = np.zeros((folds, rows), W.dtype)
    Wp[: W.shape[0], :m] = W
    Wp[W.shape[0]:, :m] = W[0]  # empty folds copy fold 0 (never indexed; keeps sums positive)
    if mesh is None:
        design = _design.dense(Xp, transpose=transpose, on_device=large)
        return Prepared(design, jax.device_put(yp), jax.device_put(Wp), m, n, None)
    design = _design.DenseDesign(_sharding.put(Xp, mesh, _sharding.spec(mesh, "data", None)),
                                 _sharding.put(np.ascontiguousarray(Xp.T), mesh, _sharding.spec(mesh, None, "data"))
                                 if transpose else None)
    yj = _sharding.put(yp, mesh, _sharding.spec(mesh, "data"))
    Wj = _sharding.put(Wp, mesh, _sharding.spec(mesh, None, "data"))

    def place(tree):
        def put(a):
            a = np.asarray(a) if not (isinstance(a, jax.Array) and a.ndim == 0) else a
            if np.ndim(a) == 0:
                return _sharding.replicate(a, mesh)
            return _sharding.put(a, mesh, _sharding.spec(mesh, *([None] * (np.ndim(a) - 1)), "models"))
        return jax.tree_util.tree_map(put, tree)

    return Prepared(design, yj, Wj, m, n, place)


def _pad_matrix(X: np.ndarray, rows: int, cols: int) -> np.ndarray:
    m, n = X.shape
    if (rows, cols) == (m, n):
        return X
    out = np.zeros((rows, cols), X.dtype)
    out[:m, :n] = X
    return out


def use_transpose(solver, batch_size, mesh, sparse: bool = False) -> bool:
    """A row-major copy of X^T speeds up X^T R 2-7x on XLA:CPU (bench/README.md); it costs a
    second copy of X and a host transpose, worth it for solvers that take many gradient
    passes. Not on accelerators (their matmuls read either layout at full speed), not for
    minibatches (they read rows), not for Newton (a few steps, dominated by X^T D X).
    Sparse X: the chunked columns turn X^T R from a scatter into a gather (and serve gram), on
    every backend and for every full-batch solver (bench/README.md, sparse kernels)."""
    if sparse:
        return batch_size is None
    return jax.default_backend() == "cpu" and batch_size is None and solver != "newton"


# ----------------------------------------------------------------------------- fit_many


def _per_lane(name: str, value, n_lanes: int | None, **checks) -> tuple:
    """A scalar (shared by every lane) or one value per lane, checked."""
    values = _data.as_values(name, value, **checks)
    if n_lanes is not None and len(values) not in (1, n_lanes):
        raise _data.ArgumentValueError(name, f"must be one value or one per model ({n_lanes}), got {len(values)}")
    return values


def fit_many(
    X,
    y,
    *,
    l2=0.0,
    l1=0.0,
    learning_rate=0.01,
    seed=0,
    fold=None,
    fold_weights=None,
    solver="auto",
    steps: int = 1000,
    tol="auto",
    fit_intercept: bool = True,
    sample_weight=None,
    class_weight=None,
    batch_size: int | None = None,
    standardize: bool = False,
    path=False,
    init=None,
    grid: Sequence[dict] | None = None,
    chunk_size: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int | None = None,
    checkpoint: Checkpoint | None = None,
    mesh=None,
) -> SweepResult:
    """Fit K models on the same data in one compiled program: the core's "many lanes" entry
    point, which ``fit``, ``sweep``, ``LogisticRegressionCV`` and the command line all call.

    ``l2``, ``l1``, ``learning_rate``, ``seed`` and ``fold`` are each one value (shared) or a
    sequence of K values, one per model. ``fold_weights`` (F, n_samples): per-fold training
    weights (e.g. 0/1 masks; multiplied by ``sample_weight`` and ``class_weight``); model ``k``
    trains on row ``fold[k]``. ``grid``: what each model is, for the result's ``grid`` (default:
    its seed, learning rate, l2, l1 and fold). ``init``: starting parameters, shared or one per
    model (a ``SweepResult`` warm-starts each model from its counterpart). ``standardize``:
    fit on columns scaled to unit (weighted) standard deviation, centred for dense X, and report
    the coefficients in the original units (the penalties apply to the standardized ones, as in
    a scikit-learn pipeline with ``StandardScaler``). ``path``: ``True`` solves models that differ
    only in their penalty strength (same seed, learning rate, fold and l1/l2 mix) as a
    regularization path: strongest penalty first, each warm-started from its neighbour, all such
    paths (folds, seeds, ...) advancing together as lanes; ``"auto"`` does so when the estimated
    cost is lower (iterative solvers, several penalties per path); ``False`` (default) trains every
    model from ``init`` in parallel, so model ``k`` equals ``fit`` with its settings. Paths need
    a tolerance and one device. The other options are ``fit``'s and ``sweep``'s.
    """
    return fit_dataset(
        _data.check_dataset(X, y, sample_weight, class_weight), l2=l2, l1=l1, learning_rate=learning_rate,
        seed=seed, fold=fold, fold_weights=fold_weights, solver=solver, steps=steps, tol=tol,
        fit_intercept=fit_intercept, batch_size=batch_size, standardize=standardize, path=path, init=init,
        grid=grid, chunk_size=chunk_size, memory_budget=memory_budget, progress=progress, progress_every=progress_every,
        checkpoint=checkpoint, mesh=mesh)


def fit_dataset(ds: _data.Dataset, *, l2, l1, learning_rate, seed, fold, fold_weights, solver, steps, tol,
                fit_intercept, batch_size, standardize, init, grid, chunk_size, memory_budget, progress,
                progress_every, checkpoint, mesh, path=False) -> SweepResult:
    """``fit_many`` on a validated ``Dataset`` (``fit`` validates once and comes here)."""
    n_samples, n_features = ds.X.shape
    given = [v for v in (l2, l1, learning_rate, seed, fold) if v is not None and np.ndim(v) > 0]
    n_models = len(grid) if grid is not None else max([len(np.ravel(v)) for v in given], default=1)
    l2s = _per_lane("l2", l2, n_models, minimum=0.0)
    l1s = _per_lane("l1", l1, n_models, minimum=0.0)
    learning_rates = _per_lane("learning_rate", learning_rate, n_models, minimum=0.0, strict=True)
    seeds = tuple(check_seed(f"seed[{k}]" if np.ndim(seed) else "seed", s)
                  for k, s in enumerate(_per_lane("seed", seed, n_models, integer=True)))
    if not isinstance(standardize, (bool, np.bool_)):
        raise _data.ArgumentTypeError("standardize", f"must be a bool, got {standardize!r}")
    resolved, tol = check_options(
        solver=solver, steps=steps, tol=tol, batch_size=batch_size, fit_intercept=fit_intercept,
        n_samples=n_samples, n_features=n_features, n_classes=ds.n_classes, uses_l1=max(l1s) > 0,
        learning_rate_grid=len(set(learning_rates)) > 1, n_models=n_models,
    )
    if len(set(learning_rates)) > 1 and not uses_learning_rate(resolved):
        raise _data.ArgumentValueError("learning_rate", f"has several values but solver {resolved!r} does not use a learning rate; give one value")
    memory_budget = _data.check_scalar("memory_budget", memory_budget, minimum=1, integer=True)
    if fold_weights is None:
        if fold is not None:
            raise _data.ArgumentValueError("fold", "needs fold_weights (one row of training weights per fold)")
        W = ds.sample_weight[None, :]
        folds = (0,)
    else:
        masks = np.asarray(fold_weights, dtype=float)
        if masks.ndim != 2 or masks.shape[1] != n_samples:
            raise _data.ArgumentValueError("fold_weights", f"must have shape (n_folds, {n_samples}), got {masks.shape}")
        if not np.isfinite(masks).all() or (masks < 0).any():
            raise _data.ArgumentValueError("fold_weights", "must be finite and non-negative")
        W = masks * ds.sample_weight[None, :]
        if (W.sum(axis=1) <= 0).any():
            raise _data.ArgumentValueError("fold_weights", "has a fold with no training rows of positive weight")
        folds = _per_lane("fold", 0 if fold is None else fold, n_models, minimum=0, integer=True)
        if max(folds) >= W.shape[0]:
            raise _data.ArgumentValueError("fold", f"must index a row of fold_weights (0 .. {W.shape[0] - 1}), got {max(folds)}")

    def column(values):
        return values * n_models if len(values) == 1 else values

    l2s, l1s, learning_rates, seeds, folds = map(column, (l2s, l1s, learning_rates, seeds, folds))
    if grid is None:
        grid = [{"seed": s, "learning_rate": lr, "l2": a, "l1": b, **({} if fold_weights is None else {"fold": f})}
                for s, lr, a, b, f in zip(seeds, learning_rates, l2s, l1s, folds)]
    dtype = ds.X.dtype
    init = check_init(init, n_models, n_features, ds.n_classes, dtype)
    Xf = ds.X
    if standardize:  # sparse X is scaled, not centred (centring would fill in every zero)
        sparse = _design.is_sparse(ds.X)
        mean, scale = column_scaling(ds.X, ds.sample_weight, center=not sparse)
        Xf = _scale_columns(ds.X, scale) if sparse else ((ds.X - mean) / scale).astype(dtype)
        if init is not None:
            init = _to_standardized(init, mean, scale, ds.n_classes)
    n_out = 1 if ds.n_classes == 2 else ds.n_classes
    lanes = Lanes(
        hyper=Hyper(*(np.asarray(v, dtype) for v in (learning_rates, l1s, l2s, [0.0 if tol is None else tol] * n_models))),
        seed=np.asarray(seeds, np.uint32),
        fold=np.asarray(folds, np.int32),
    )
    static = Static(resolved, batch_size, n_out)
    n_lane_dev, n_row_dev = 1, 1
    if mesh is not None:
        mesh = _sharding.check_mesh(mesh)
        n_lane_dev, n_row_dev = (_sharding.axis_size(mesh, a) for a in _sharding.AXES)
        if batch_size and n_samples % n_row_dev:
            raise _data.ArgumentValueError("mesh", f"with batch_size needs n_samples ({n_samples}) to be a multiple of the "
                                     f"'data' axis size ({n_row_dev}); padding rows would change the minibatches")
    n_params = n_parameters(n_features, ds.n_classes, fit_intercept)
    if chunk_size is None:
        per_device = chunk_size_for(-(-n_models // n_lane_dev), -(-bucket(n_samples, MIN_ROWS) // n_row_dev), n_out,
                                    n_params, int(steps), dtype.itemsize, resolved, memory_budget)
        chunk_size = per_device * n_lane_dev
    else:
        chunk_size = min(_data.check_scalar("chunk_size", chunk_size, minimum=1, integer=True), n_models)
        chunk_size = -(-chunk_size // n_lane_dev) * n_lane_dev  # whole lanes per device

    use_path = check_path_option(path, resolved, tol, checkpoint, mesh, n_models, l1s, l2s, n_samples, n_params)
    prepared = prepare(Xf, ds.y, np.asarray(W, dtype),
                       transpose=use_transpose(resolved, batch_size, mesh, _design.is_sparse(Xf)),
                       n_row_multiple=n_row_dev, mesh=mesh)
    run = dict(steps=int(steps), to_tolerance=tol is not None, fit_intercept=bool(fit_intercept),
               lane_multiple=n_lane_dev, progress=progress, progress_every=progress_every)
    points = path_points(l1s, l2s, learning_rates, seeds, folds) if use_path else None
    if points is None:
        raw = run_lanes(prepared, lanes, init, static, chunk_size=chunk_size, checkpoint=checkpoint, **run)
    else:
        raw = run_path(prepared, lanes, init, static, points, chunk_size=chunk_size, **run)
    params = raw.params
    if standardize:
        params = _from_standardized(params, mean, scale, ds.n_classes)
    config = dict(
        solver=resolved if isinstance(resolved, str) else repr(resolved), tol=tol, steps=int(steps),
        fit_intercept=bool(fit_intercept), batch_size=batch_size, chunk_size=chunk_size,
        standardize=bool(standardize), path=points is not None,
    )
    arrays = (params.coef, params.intercept, raw.loss_history, raw.n_iter, raw.status, raw.objective, raw.residual)
    if mesh is not None:  # results stay on the mesh, split over "models" where the count divides
        arrays = tuple(_on_mesh(a, mesh, n_lane_dev) for a in arrays)
    return SweepResult(*arrays, fold_weights=None if fold_weights is None else W,
                       grid=tuple(FrozenDict(g) for g in grid), classes=tuple(ds.classes.tolist()),
                       config=FrozenDict(config))


def check_path_option(path, solver, tol, checkpoint, mesh, n_models, l1s, l2s, n_rows=0, n_params=0) -> bool:
    """Whether to solve as regularization paths (``path``: True, False or "auto")."""
    if isinstance(path, str):
        if path != "auto":
            raise _data.ArgumentValueError("path", f"must be True, False or 'auto', got {path!r}")
    elif not isinstance(path, (bool, np.bool_)):
        raise _data.ArgumentTypeError("path", f"must be True, False or 'auto', got {path!r}")
    if path is False or n_models < 2:
        return False
    if tol is None or checkpoint is not None or mesh is not None:
        if path is True:
            raise _data.ArgumentValueError(
                "path", "cannot be True without a tolerance (tol), on a mesh or with a checkpoint")
        return False
    if path == "auto":
        return path_pays(solver, len(set(np.add(l1s, l2s).tolist())), n_models, n_rows, n_params)
    return True


# Iterations to tolerance from zero and warm-started from a neighbouring penalty (measured on
# breast cancer and synthetic grids: Newton halves, L-BFGS saves a fifth: it restarts its memory),
# and the per-step overhead of a program step in multiply-add equivalents (XLA:CPU, small ops).
PATH_ITERATIONS = {"newton": (8, 4), "lbfgs": (60, 48)}
STEP_OVERHEAD = 2e6


def path_pays(solver, n_points: int, n_models: int, n_rows: int, n_params: int) -> bool:
    """Whether a warm-started path (``n_points`` points of ``n_models / n_points`` lanes, one
    after another) is estimated to cost less than all ``n_models`` lanes in parallel."""
    if solver not in PATH_ITERATIONS or n_points < 3:
        return False
    cold, warm = PATH_ITERATIONS[solver]
    per_lane = n_rows * (n_params * n_params if solver == "newton" else 4 * n_params)
    parallel = cold * (STEP_OVERHEAD + n_models * per_lane)
    path = n_points * warm * (STEP_OVERHEAD + n_models / n_points * per_lane)
    return path < parallel


def path_points(l1s, l2s, learning_rates, seeds, folds) -> list[np.ndarray] | None:
    """Lanes grouped into paths (same seed, learning rate, fold and l1/l2 mix), ordered by
    decreasing penalty: ``points[p]`` holds the lane indices at step ``p`` of every path. None
    when the paths differ in length (not a grid)."""
    total = np.add(l1s, l2s)
    mix = np.where(total > 0, np.divide(l1s, np.where(total > 0, total, 1.0)), -1.0)
    groups: dict = {}
    for k, key in enumerate(zip(seeds, learning_rates, folds, np.round(mix, 12).tolist())):
        groups.setdefault(key, []).append(k)
    lengths = {len(g) for g in groups.values()}
    if len(lengths) != 1:
        return None
    ordered = [sorted(g, key=lambda k: -total[k]) for g in groups.values()]
    return [np.asarray([g[p] for g in ordered]) for p in range(lengths.pop())]


def run_path(prepared: Prepared, lanes: Lanes, init, static: Static, points, *, chunk_size, progress=None,
             **run) -> RawResult:
    """Each path point's lanes through ``run_lanes``, warm-started from the previous point's
    solutions (the first from ``init``); one program serves every point (same lane count)."""
    n_models = int(lanes.fold.shape[0])
    out = None
    previous = init
    for p, idx in enumerate(points):
        sub = jax.tree_util.tree_map(lambda a: np.asarray(a)[idx], lanes)
        start = None if previous is None else (previous[0][idx] if p == 0 else previous[0],
                                                  previous[1][idx] if p == 0 else previous[1])
        report = None if progress is None else (
            lambda done, total, p=p: progress(p * len(idx) * run["steps"] + done, n_models * run["steps"]))
        part = run_lanes(prepared, sub, start, static, chunk_size=min(chunk_size, len(idx)), progress=report,
                         **run)
        previous = (part.params.coef, part.params.intercept)
        if out is None:
            out = jax.tree_util.tree_map(lambda a: np.zeros((n_models,) + a.shape[1:], a.dtype), part)
        for leaf_out, leaf in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(part)):
            leaf_out[idx] = leaf
    return out


def _on_mesh(a, mesh, n_lane_dev):
    a = np.asarray(a)
    if a.shape[0] % n_lane_dev:
        return _sharding.replicate(a, mesh)
    return _sharding.put(a, mesh, _sharding.spec(mesh, "models"))


# ----------------------------------------------------------------------------- standardizing


def column_scaling(X, weights, center: bool):
    """Weighted column means (zeros when not ``center``) and scales (standard deviations about
    the mean, or root mean squares when not centring; 1 where a column is constant). X may be
    sparse (scipy): its moments come from two sparse products."""
    w = np.asarray(weights, np.float64)
    w = w / w.sum()
    squares = X.multiply(X) if _design.is_sparse(X) else X * X
    mean = np.asarray(w @ X).ravel() if center else np.zeros(X.shape[1])
    var = np.asarray(w @ squares).ravel() - (mean * mean if center else 0.0)
    scale = np.sqrt(np.maximum(var, 0.0))
    scale = np.where(scale > 0, scale, 1.0)
    return mean.astype(X.dtype), scale.astype(X.dtype)


def _scale_columns(X, scale):
    """A canonical CSR ``X`` with column j divided by ``scale[j]`` (same pattern, new values)."""
    out = X.copy()
    out.data = (out.data / scale[out.indices]).astype(X.dtype)
    return out


def _to_standardized(init, mean, scale, n_classes):
    coef, intercept = init
    extra = (slice(None), None) if n_classes > 2 else (slice(None),)
    s, mu = scale[extra], mean[extra]
    return coef * s, intercept + np.sum(coef * mu, axis=1)


def _from_standardized(params: Params, mean, scale, n_classes) -> Params:
    """Coefficients fitted on ``(X - mean) / scale`` in the units of X."""
    extra = (slice(None), None) if n_classes > 2 else (slice(None),)
    coef = params.coef / scale[extra]
    return Params(coef, params.intercept - np.sum(coef * mean[extra], axis=1))


__all__ = ["fit_many", "bucket", "check_options", "check_seed", "check_init", "warn_if_unfinished",
           "RawResult", "Checkpoint", "lane_steps_computed", "chunk_size_for", "lane_arrays",
           "DEFAULT_TOL", "DEFAULT_MEMORY_BUDGET", "NEWTON_MAX_PARAMS", "n_parameters", "column_scaling"]
