"""Many models at once: the grid becomes a leading models axis and ``train`` is ``vmap``ped.

A sweep over seeds x learning rates x l2 x l1 (x folds) is flattened to K lanes. Each lane
carries its own hyperparameters, PRNG key and a fold index into a small (F, m) matrix of
sample weights (fold membership is a weight mask, so every lane sees arrays of one shape).
The K lanes run as ONE compiled program; when K is large the lanes are processed in
chunks of a fixed size (padded), which reuse that same program and bound memory.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, NamedTuple, Protocol, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from . import _data
from . import _design
from . import sharding as _sharding
from ._model import Params
from ._train import (
    RUNNING, Hyper, RawResult, Static, _n_params,
    check_init_params, check_options, finalize, init_state, advance, train, warn_if_unfinished,
)
from ._results import FrozenDict, SweepResult
from ._solvers import uses_learning_rate

DEFAULT_MEMORY_BUDGET = 512 * 2**20  # bytes of per-model temporaries in one chunk


class Lanes(NamedTuple):
    """Per-model inputs, each with a leading models axis."""

    hyper: Hyper
    key: jax.Array
    fold: jax.Array  # row of the (F, m) weight matrix this model trains on


def _lane_weights(W, fold):
    """Lane's row of W. Without folds (one row) it is indexed statically, so under ``vmap``
    all lanes share it instead of gathering a (lanes, m) copy."""
    return W[0] if W.shape[0] == 1 else W[fold]


def _train_lanes(X, y, W, lanes: Lanes, params0: Params, static: Static) -> RawResult:
    def one(hyper, key, fold):
        return train(X, y, _lane_weights(W, fold), hyper, key, params0, static)

    return jax.vmap(one)(lanes.hyper, lanes.key, lanes.fold)


def _init_lanes(X, y, W, lanes: Lanes, params0: Params, static: Static):
    def one(hyper, key, fold):
        return init_state(X, y, _lane_weights(W, fold), hyper, key, params0, static)

    return jax.vmap(one)(lanes.hyper, lanes.key, lanes.fold)


def _advance_lanes(state, start, X, y, W, lanes: Lanes, static: Static, n_steps: int):
    def one(s, hyper, key, fold):
        return advance(s, start, X, y, _lane_weights(W, fold), hyper, key, static, n_steps)

    return jax.vmap(one)(state, lanes.hyper, lanes.key, lanes.fold)


def _finalize_lanes(state, X, y, W, lanes: Lanes, static: Static) -> RawResult:
    def one(s, hyper, fold):
        return finalize(s, X, y, _lane_weights(W, fold), hyper, static)

    return jax.vmap(one)(state, lanes.hyper, lanes.fold)


_train_lanes_jit = jax.jit(_train_lanes, static_argnames=("static",))
_init_lanes_jit = jax.jit(_init_lanes, static_argnames=("static",))
_advance_lanes_jit = jax.jit(_advance_lanes, static_argnames=("static", "n_steps"), donate_argnums=(0,))
_finalize_lanes_jit = jax.jit(_finalize_lanes, static_argnames=("static",))


class Checkpoint(Protocol):
    """Where finished chunks of a sweep are kept (the CLI stores them as files)."""

    def load(self, chunk: int) -> RawResult | None: ...

    def save(self, chunk: int, result: RawResult) -> None: ...


def fold_masks(folds, n_samples: int, labels: np.ndarray) -> np.ndarray:
    """(F, m) 0/1 training masks from an int (stratified, shuffled with seed 0) or from
    a sequence of ``(train_idx, test_idx)`` pairs (e.g. a scikit-learn splitter's output)."""
    if isinstance(folds, (int, np.integer)) and not isinstance(folds, bool):
        n_folds = _data.check_scalar("folds", folds, minimum=2, integer=True)
        if n_folds > n_samples:
            raise ValueError(f"folds must be <= n_samples ({n_samples}), got {n_folds}")
        rng = np.random.default_rng(0)
        assignment = np.empty(n_samples, np.int64)
        for cls in np.unique(labels):  # stratified: deal each class round-robin after a shuffle
            idx = np.flatnonzero(labels == cls)
            rng.shuffle(idx)
            assignment[idx] = (np.arange(len(idx)) + rng.integers(n_folds)) % n_folds
        return np.stack([(assignment != f) for f in range(n_folds)]).astype(np.float64)
    try:
        pairs = list(folds)
    except TypeError:
        raise TypeError(f"folds must be an int or a sequence of (train, test) index pairs, got {folds!r}") from None
    if not pairs:
        raise ValueError("folds is empty")
    masks = np.zeros((len(pairs), n_samples))
    for f, pair in enumerate(pairs):
        train_idx = np.asarray(pair[0])
        if train_idx.size == 0 or train_idx.min() < 0 or train_idx.max() >= n_samples:
            raise ValueError(f"folds[{f}] has training indices outside 0..{n_samples - 1} or none")
        masks[f, train_idx] = 1.0
    return masks


def lane_arrays(solver: Any, n_params: int, n_outputs: int) -> float:
    """Upper bound on the (m, outputs)-sized temporaries one vmapped model holds at once.

    Read off XLA's ``memory_analysis().temp_size_in_bytes`` on CPU (tests/test_chunking.py
    checks it stays an upper bound): first-order solvers keep logits, losses, cotangents
    and weights (~4 with one weight row, ~8 with folds); FISTA's backtracking a few more;
    L-BFGS also ~(n_features) because its line search's ``lax.cond`` under ``vmap``
    broadcasts X to every model; Newton's ``jax.hessian`` pushes ~p tangents through
    the logits (per output).
    """
    if solver == "newton":
        return 12 + 2.5 * n_params
    if solver == "lbfgs":
        return 16 + n_params / n_outputs
    if solver == "fista":
        return 11
    return 9


def chunk_size_for(n_models: int, n_samples: int, n_outputs: int, n_params: int, steps: int,
                   itemsize: int, solver: Any, memory_budget: int) -> int:
    """Models per chunk so that one chunk's temporaries fit in ``memory_budget`` bytes.

    Per model: ``lane_arrays`` (m, outputs)-sized temporaries, the loss history, and
    parameter-sized solver state (an (p, p) Hessian for Newton, ~2*10 vectors for L-BFGS).
    """
    per_model = lane_arrays(solver, n_params, n_outputs) * n_samples * n_outputs + steps + 40 * n_params
    if solver == "newton":
        per_model += 3 * n_params * n_params
    per_model = int(per_model * itemsize)
    return int(max(1, min(n_models, memory_budget // max(1, per_model))))


def _pad_lanes(lanes: Lanes, size: int) -> Lanes:
    """Pad to ``size`` lanes by repeating the last one (so the chunk's program is reused)."""
    missing = size - lanes.fold.shape[0]
    if missing <= 0:
        return lanes
    return jax.tree_util.tree_map(
        lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], missing, axis=0)]), lanes
    )


def run_lanes(X, y, W, lanes: Lanes, params0: Params, static: Static, *, chunk_size: int,
              progress: Callable[[int, int], None] | None = None, progress_every: int | None = None,
              checkpoint: Checkpoint | None = None,
              place: Callable[[Lanes], Lanes] | None = None) -> RawResult:
    """Train all lanes, ``chunk_size`` at a time, with one compiled program per chunk size.

    ``place`` lays each padded chunk of lanes out on devices (a mesh's "models" axis)."""
    n_models = int(lanes.fold.shape[0])
    parts = []
    n_chunks = -(-n_models // chunk_size)
    for c in range(n_chunks):
        lo, hi = c * chunk_size, min((c + 1) * chunk_size, n_models)
        part = checkpoint.load(c) if checkpoint is not None else None
        if part is None:
            chunk = _pad_lanes(jax.tree_util.tree_map(lambda a: a[lo:hi], lanes), chunk_size)
            if place is not None:
                chunk = place(chunk)
            compact = place is None and static.to_tolerance and chunk_size >= COMPACT_MIN_LANES
            if progress is None and not compact:
                part = _train_lanes_jit(X, y, W, chunk, params0, static)
            else:
                report = None if progress is None else (
                    lambda done, lo=lo, hi=hi: progress(lo * static.steps + (hi - lo) * done,
                                                        n_models * static.steps))
                every = COMPACT_EVERY if compact else int(progress_every or max(1, static.steps // 50))
                part = _run_chunk_in_rounds(X, y, W, chunk, params0, static, every=every, compact=compact,
                                            report=report)
            if hi - lo < chunk_size:  # a full chunk is left as is: slicing would drop its sharding
                part = jax.tree_util.tree_map(lambda a: a[: hi - lo], part)
            if checkpoint is not None:
                checkpoint.save(c, part)
        parts.append(part)
        if progress is not None:
            progress(hi * static.steps, n_models * static.steps)
    if len(parts) == 1:
        return parts[0]
    return jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *parts)


COMPACT_MIN_LANES = 8  # below this, one vmapped while_loop (one program) is cheaper
COMPACT_EVERY = 4  # steps between re-batching the running lanes
_WORK = [0]


def lane_steps_computed() -> int:
    """Model-steps computed by compacted to-tolerance sweeps in this process (padding included)."""
    return _WORK[0]


_gather_jit = jax.jit(lambda tree, idx: jax.tree_util.tree_map(lambda a: a[idx], tree))
_scatter_jit = jax.jit(
    lambda tree, idx, sub: jax.tree_util.tree_map(lambda a, b: a.at[idx].set(b), tree, sub),
    donate_argnums=(0,),
)


def _bucket(n_running: int, width: int) -> int:
    """Smallest size ``2^k`` or ``3 * 2^(k-1)`` that holds ``n_running`` lanes (capped at
    ``width``): at most a third of a bucket is padding, and each size compiles once."""
    size = 1 << max(0, (n_running - 1).bit_length())
    if size >= 4 and 3 * size // 4 >= n_running:
        size = 3 * size // 4
    return min(width, size)


def _run_chunk_in_rounds(X, y, W, lanes, params0, static, *, every: int, compact: bool,
                         report: Callable[[int], None] | None = None) -> RawResult:
    """The chunk's lanes trained in host-side rounds of ``every`` steps of the same compiled
    ``advance``, ending early once no lane runs. Between rounds ``report(steps_done)`` is
    called and, with ``compact``, only the running lanes are gathered into a bucket (see
    ``_bucket``), advanced and scattered back, so stopped lanes cost nothing (a plain ``vmap``
    of a ``while_loop`` runs every lane until the slowest stops)."""
    state = _init_lanes_jit(X, y, W, lanes, params0, static)
    width = int(lanes.fold.shape[0])
    done = 0
    while done < static.steps:
        running = np.flatnonzero(np.asarray(state.status) == RUNNING) if static.to_tolerance else None
        if running is not None and running.size == 0:
            break
        size = _bucket(running.size, width) if compact else width
        if size < width:
            idx = jnp.asarray(np.concatenate([running, np.repeat(running[-1:], size - running.size)]))
            sub = _advance_lanes_jit(_gather_jit(state, idx), done, X, y, W, _gather_jit(lanes, idx),
                                     static, every)
        else:
            sub = _advance_lanes_jit(state, done, X, y, W, lanes, static, every)
        if compact:
            _WORK[0] += size * (int(jnp.max(sub.steps_done)) - done)
        state = _scatter_jit(state, idx, sub) if size < width else sub
        done = min(done + every, static.steps)
        if report is not None:
            report(done)
    return _finalize_lanes_jit(state, X, y, W, lanes, static)


def _per_lane(name: str, value, n_lanes: int | None, **checks) -> tuple:
    """A scalar (shared by every lane) or one value per lane, checked."""
    values = _data.as_values(name, value, **checks)
    if n_lanes is not None and len(values) not in (1, n_lanes):
        raise ValueError(f"{name} must be one value or one per model ({n_lanes}), got {len(values)}")
    return values


def check_seed(name: str, value) -> int:
    seed = _data.check_scalar(name, value, integer=True)
    if not 0 <= seed < 2**32:
        raise ValueError(f"{name} must be in 0 .. 2**32 - 1 (a PRNG seed), got {seed}")
    return seed


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
    point, which ``sweep``, ``LogisticRegressionCV`` and the command line all call.

    ``l2``, ``l1``, ``learning_rate``, ``seed`` and ``fold`` are each one value (shared) or a
    sequence of K values, one per model. ``fold_weights`` (F, n_samples): per-fold training
    weights (e.g. 0/1 masks; multiplied by ``sample_weight`` and ``class_weight``); model ``k``
    trains on row ``fold[k]``. ``grid``: what each model is, for the result's ``grid`` (default:
    its seed, learning rate, l2, l1 and fold). The other options are ``fit``'s and ``sweep``'s.
    """
    ds = _data.check_dataset(X, y, sample_weight, class_weight)
    n_samples, n_features = ds.X.shape
    given = [v for v in (l2, l1, learning_rate, seed, fold) if v is not None and np.ndim(v) > 0]
    n_models = len(grid) if grid is not None else max([len(np.ravel(v)) for v in given], default=1)
    l2s = _per_lane("l2", l2, n_models, minimum=0.0)
    l1s = _per_lane("l1", l1, n_models, minimum=0.0)
    learning_rates = _per_lane("learning_rate", learning_rate, n_models, minimum=0.0, strict=True)
    seeds = tuple(check_seed(f"seed[{k}]" if np.ndim(seed) else "seed", s)
                  for k, s in enumerate(_per_lane("seed", seed, n_models, integer=True)))
    resolved, tol = check_options(
        solver=solver, steps=steps, tol=tol, batch_size=batch_size, fit_intercept=fit_intercept,
        n_samples=n_samples, n_features=n_features, n_classes=ds.n_classes, uses_l1=max(l1s) > 0,
    )
    if len(set(learning_rates)) > 1 and not uses_learning_rate(resolved):
        raise ValueError(f"learning_rate: solver {resolved!r} does not use a learning rate; give one value")
    memory_budget = _data.check_scalar("memory_budget", memory_budget, minimum=1, integer=True)
    if fold_weights is None:
        if fold is not None:
            raise ValueError("fold needs fold_weights (one row of training weights per fold)")
        W = ds.sample_weight[None, :]
        folds = (0,)
    else:
        masks = np.asarray(fold_weights, dtype=float)
        if masks.ndim != 2 or masks.shape[1] != n_samples:
            raise ValueError(f"fold_weights must have shape (n_folds, {n_samples}), got {masks.shape}")
        if not np.isfinite(masks).all() or (masks < 0).any():
            raise ValueError("fold_weights must be finite and non-negative")
        W = masks * ds.sample_weight[None, :]
        if (W.sum(axis=1) <= 0).any():
            raise ValueError("fold_weights: a fold has no training rows with positive weight")
        folds = _per_lane("fold", 0 if fold is None else fold, n_models, minimum=0, integer=True)
        if max(folds) >= W.shape[0]:
            raise ValueError(f"fold must index a row of fold_weights (0 .. {W.shape[0] - 1}), got {max(folds)}")

    def column(values):
        return values * n_models if len(values) == 1 else values

    l2s, l1s, learning_rates, seeds, folds = map(column, (l2s, l1s, learning_rates, seeds, folds))
    if grid is None:
        grid = [{"seed": s, "learning_rate": lr, "l2": a, "l1": b, **({} if fold_weights is None else {"fold": f})}
                for s, lr, a, b, f in zip(seeds, learning_rates, l2s, l1s, folds)]
    dtype = ds.X.dtype
    lanes = Lanes(
        hyper=Hyper(jnp.asarray(learning_rates, dtype), jnp.asarray(l1s, dtype), jnp.asarray(l2s, dtype),
                    jnp.full((n_models,), 0.0 if tol is None else tol, dtype)),
        key=jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32)),
        fold=jnp.asarray(folds, jnp.int32),
    )
    params0 = check_init_params(init, n_features, ds.n_classes, dtype)
    static = Static(resolved, int(steps), tol is not None, batch_size, bool(fit_intercept))
    n_lane_dev, n_row_dev = 1, 1
    if mesh is not None:
        mesh = _sharding.check_mesh(mesh)
        n_lane_dev, n_row_dev = (_sharding.axis_size(mesh, a) for a in _sharding.AXES)
        if batch_size and n_samples % n_row_dev:
            raise ValueError(f"mesh: with batch_size, n_samples ({n_samples}) must be a multiple of the "
                             f"'data' axis size ({n_row_dev}); padding rows would change the minibatches")
    n_params = _n_params(n_features, ds.n_classes, fit_intercept)
    if chunk_size is None:
        n_outputs = 1 if ds.n_classes == 2 else ds.n_classes
        per_device = chunk_size_for(-(-n_models // n_lane_dev), -(-n_samples // n_row_dev), n_outputs,
                                    n_params, int(steps), dtype.itemsize, resolved, memory_budget)
        chunk_size = per_device * n_lane_dev
    else:
        chunk_size = min(_data.check_scalar("chunk_size", chunk_size, minimum=1, integer=True), n_models)
        chunk_size = -(-chunk_size // n_lane_dev) * n_lane_dev  # whole lanes per device

    X_, y_, W_ = ds.X, ds.y, np.asarray(W, dtype)
    place = None
    if _design.is_sparse(X_):
        if mesh is not None:
            raise ValueError("mesh: sparse X cannot be placed on a mesh yet; pass mesh=None or a dense X")
        # one sparse X for all lanes; chunked columns for X^T r except for newton (jax.hessian)
        X_, y_, W_ = _design.sparse(X_, transpose=resolved != "newton"), jnp.asarray(y_), jnp.asarray(W_)
    elif mesh is None:
        X_, y_, W_ = jnp.asarray(X_), jnp.asarray(y_), jnp.asarray(W_)
    else:
        X_, y_, W_ = _sharding.pad_rows(X_, y_, W_, n_row_dev)
        X_ = _sharding.put(X_, mesh, _sharding.spec(mesh, "data", None))
        y_ = _sharding.put(y_, mesh, _sharding.spec(mesh, "data"))
        W_ = _sharding.put(W_, mesh, _sharding.spec(mesh, None, "data"))
        params0 = _sharding.replicate(params0, mesh)
        place = lambda chunk: _sharding.put_tree(chunk, mesh, _sharding.spec(mesh, "models"))  # noqa: E731
    raw = run_lanes(X_, y_, W_, lanes, params0, static,
                    chunk_size=chunk_size, progress=progress, progress_every=progress_every,
                    checkpoint=checkpoint, place=place)
    config = dict(
        solver=resolved if isinstance(resolved, str) else repr(resolved), tol=tol, steps=int(steps),
        fit_intercept=bool(fit_intercept), batch_size=batch_size, chunk_size=chunk_size,
    )
    return SweepResult(raw.params.coef, raw.params.intercept, raw.loss_history, raw.n_iter, raw.status,
                       raw.objective, raw.residual, fold_weights=None if fold_weights is None else W,
                       grid=tuple(FrozenDict(g) for g in grid), classes=tuple(ds.classes.tolist()),
                       config=FrozenDict(config))


def sweep(
    X,
    y,
    *,
    seeds: Sequence[int] | int = (0,),
    learning_rate=0.01,
    l2=0.0,
    l1=0.0,
    solver="auto",
    steps: int = 1000,
    tol="auto",
    fit_intercept: bool = True,
    sample_weight=None,
    class_weight=None,
    batch_size: int | None = None,
    folds=None,
    init=None,
    chunk_size: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int | None = None,
    checkpoint: Checkpoint | None = None,
    mesh=None,
) -> SweepResult:
    """Train the cartesian grid ``seeds x learning_rate x l2 x l1 (x folds)`` in one compiled,
    ``vmap``ped program. Each of ``learning_rate``, ``l2``, ``l1`` is a number or a sequence;
    ``seeds`` an int (that many seeds, 0..n-1) or a sequence. The other options are ``fit``'s.

    ``folds``: an int K (stratified K-fold, fixed shuffle) or ``(train_idx, test_idx)`` pairs;
    each fold trains on its training rows through a 0/1 weight mask.
    Model ``k`` equals ``fit`` with the settings in ``grid[k]``. Lanes are processed in chunks
    of ``chunk_size`` (default: as many as fit in ``memory_budget`` bytes of temporaries).

    ``mesh``: a ``jax.sharding.Mesh`` with axes "models" and/or "data" (see
    ``jaxlr.sharding``): lanes are split over "models", rows over "data", and the result
    arrays stay sharded over "models" (replicated when the number of models is not a
    multiple of that axis: JAX arrays cannot be split unevenly). ``memory_budget`` is then
    per device.
    """
    X = _data.check_features(X)
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seeds = tuple(range(_data.check_scalar("seeds", seeds, minimum=1, integer=True)))
    seeds = tuple(check_seed(f"seeds[{k}]", s) for k, s in enumerate(_data.as_values("seeds", seeds, integer=True)))
    learning_rates = _data.as_values("learning_rate", learning_rate, minimum=0.0, strict=True)
    l2s = _data.as_values("l2", l2, minimum=0.0)
    l1s = _data.as_values("l1", l1, minimum=0.0)
    masks, fold_ids = None, (None,)
    if folds is not None:
        codes, _ = _data.check_labels(y, X.shape[0])
        masks = fold_masks(folds, X.shape[0], codes)
        fold_ids = tuple(range(masks.shape[0]))
    grid = []
    for s, lr, l2v, l1v, f in itertools.product(seeds, learning_rates, l2s, l1s, fold_ids):
        grid.append({"seed": s, "learning_rate": lr, "l2": l2v, "l1": l1v, **({} if f is None else {"fold": f})})

    def column(name):
        return [g[name] for g in grid]

    result = fit_many(
        X, y, l2=column("l2"), l1=column("l1"), learning_rate=column("learning_rate"), seed=column("seed"),
        fold=None if folds is None else column("fold"), fold_weights=masks, solver=solver, steps=steps,
        tol=tol, fit_intercept=fit_intercept, sample_weight=sample_weight, class_weight=class_weight,
        batch_size=batch_size, init=init, grid=grid, chunk_size=chunk_size, memory_budget=memory_budget,
        progress=progress, progress_every=progress_every, checkpoint=checkpoint, mesh=mesh,
    )
    warn_if_unfinished(result.status, result.residual, result.config["tol"], steps, label="sweep: ")
    return result
