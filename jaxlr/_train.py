"""Training one model: a compiled loop over a solver's ``step``.

The loop is split into three pure functions so that sweeps can ``vmap`` them and long
runs can be cut into chunks on the host without changing the program:

- ``init_state``: parameters, solver state, the objective at the start;
- ``advance``: ``n_steps`` steps, a ``lax.scan`` for a fixed budget (``tol=None``) or a
  ``lax.while_loop`` that ends once the model stops (converged or diverged);
- ``finalize``: final objective and residual, status, the filled loss history.

Every model carries a status. A converged or diverged model is frozen: its parameters
stop changing, so under ``vmap`` it never disturbs the others. A step whose objective is
not finite reverts the model to its last finite parameters and marks it ``diverged``.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _data
from . import _design
from . import sharding as _sharding
from .losses import smooth_objective
from ._model import Params, init_params, with_transpose
from ._results import ConvergenceWarning, FitResult, FrozenDict, PerfectSeparationWarning, Status
from ._solvers import (
    Problem, l1_norm, make_solver, optimality_residual, resolve_solver, tree_where,
)

RUNNING, CONVERGED, MAX_ITER, DIVERGED, DONE = (int(s) for s in (
    Status.RUNNING, Status.CONVERGED, Status.MAX_ITER, Status.DIVERGED, Status.DONE))
DEFAULT_TOL = 1e-4


class Hyper(NamedTuple):
    """Per-model tunable values, traced (so a sweep can ``vmap`` them)."""

    learning_rate: jax.Array
    l1: jax.Array
    l2: jax.Array
    tol: jax.Array


class Static(NamedTuple):
    """Compile-time choices: changing one of these compiles a new program."""

    solver: Any
    steps: int
    to_tolerance: bool
    batch_size: int | None
    fit_intercept: bool


class LoopState(NamedTuple):
    params: Params
    prev_params: Params  # last parameters with a finite objective, to revert to
    solver_state: Any
    n_iter: jax.Array  # steps actually taken (a frozen model takes none)
    status: jax.Array
    value: jax.Array  # last finite objective seen
    initial_value: jax.Array  # objective at the starting parameters, on all data
    history: jax.Array  # (steps,) objective before each step; frozen value once stopped
    steps_done: jax.Array  # loop iterations run (frozen or not)
    order: jax.Array  # minibatch permutation of the current epoch (unused for full batch)


class RawResult(NamedTuple):
    params: Params
    n_iter: jax.Array
    status: jax.Array
    loss_history: jax.Array
    objective: jax.Array
    residual: jax.Array


def _problem(X, y, w, hyper: Hyper, fit_intercept: bool) -> Problem:
    def smooth(params):
        return smooth_objective(params, X, y, w, hyper.l2, fit_intercept)

    return Problem(smooth, hyper.l1)


def _full_objective(problem: Problem, params: Params) -> jax.Array:
    return problem.smooth(params) + problem.l1 * l1_norm(params)


def _epoch_order(key, epoch, n_samples):
    return jax.random.permutation(jax.random.fold_in(key, epoch), n_samples).astype(jnp.int32)


def init_state(X, y, w, hyper: Hyper, key, params0: Params, static: Static) -> LoopState:
    problem = _problem(X, y, w, hyper, static.fit_intercept)
    solver = make_solver(static.solver, hyper.learning_rate)
    value0 = _full_objective(problem, params0)
    n_samples = X.shape[0]
    order = (
        _epoch_order(key, 0, n_samples) if static.batch_size else jnp.zeros((0,), jnp.int32)
    )
    return LoopState(
        params=params0,
        prev_params=params0,
        solver_state=solver.init(params0, problem),
        n_iter=jnp.zeros((), jnp.int32),
        status=jnp.full((), RUNNING, jnp.int32),
        value=value0,
        initial_value=value0,
        history=jnp.full((static.steps,), jnp.nan, value0.dtype),
        steps_done=jnp.zeros((), jnp.int32),
        order=order,
    )


def _step(state: LoopState, t, X, y, w, hyper: Hyper, key, static: Static) -> LoopState:
    """One iteration at global step ``t``: a solver step unless the model is frozen."""
    solver = make_solver(static.solver, hyper.learning_rate)
    order = state.order
    if static.batch_size:
        n_batches = X.shape[0] // static.batch_size
        epoch, batch = t // n_batches, t % n_batches
        order = jax.lax.cond(
            (batch == 0) & (t > 0),
            lambda: _epoch_order(key, epoch, X.shape[0]),
            lambda: state.order,
        )
        idx = jax.lax.dynamic_slice(order, (batch * static.batch_size,), (static.batch_size,))
        problem = _problem(X[idx], y[idx], w[idx], hyper, static.fit_intercept)
    else:
        problem = _problem(X, y, w, hyper, static.fit_intercept)

    new_params, new_solver_state, info = solver.step(state.params, state.solver_state, problem)

    running = (state.status == RUNNING) & (t < static.steps)
    finite = jnp.isfinite(info.value) & jnp.isfinite(info.residual)
    converged = (info.residual <= hyper.tol) if static.to_tolerance else jnp.zeros((), bool)
    move = running & finite & ~converged
    diverge = running & ~finite

    params = tree_where(move, new_params, tree_where(diverge, state.prev_params, state.params))
    status = jnp.where(running & finite & converged, CONVERGED, state.status)
    status = jnp.where(diverge, DIVERGED, status)
    recorded = jnp.where(running, info.value, state.value)
    return LoopState(
        params=params,
        prev_params=tree_where(move, state.params, state.prev_params),
        solver_state=tree_where(move, new_solver_state, state.solver_state),
        n_iter=state.n_iter + move.astype(jnp.int32) - (diverge & (state.n_iter > 0)).astype(jnp.int32),
        status=status,
        value=jnp.where(running & finite, info.value, state.value),
        initial_value=state.initial_value,
        history=state.history.at[t].set(recorded, mode="drop"),
        steps_done=jnp.where(t < static.steps, t + 1, state.steps_done),
        order=order,
    )


def advance(state: LoopState, start, X, y, w, hyper: Hyper, key, static: Static,
            n_steps: int) -> LoopState:
    """Run global steps ``start .. start + n_steps - 1`` (steps past the budget do nothing)."""
    if static.to_tolerance:
        def cond(carry):
            t, s = carry
            return (t < start + n_steps) & (t < static.steps) & (s.status == RUNNING)

        def body(carry):
            t, s = carry
            return t + 1, _step(s, t, X, y, w, hyper, key, static)

        _, state = jax.lax.while_loop(cond, body, (jnp.asarray(start, jnp.int32), state))
        return state

    def scan_body(s, t):
        return _step(s, t, X, y, w, hyper, key, static), None

    ts = jnp.asarray(start, jnp.int32) + jnp.arange(n_steps, dtype=jnp.int32)
    state, _ = jax.lax.scan(scan_body, state, ts)
    return state


def finalize(state: LoopState, X, y, w, hyper: Hyper, static: Static) -> RawResult:
    """Objective and residual at the final parameters (on all data), the final status."""
    problem = _problem(X, y, w, hyper, static.fit_intercept)
    smooth_value, grad = jax.value_and_grad(problem.smooth)(state.params)
    objective = smooth_value + problem.l1 * l1_norm(state.params)
    residual = optimality_residual(state.params, grad, problem.l1)
    status = jnp.where(state.status == RUNNING, MAX_ITER if static.to_tolerance else DONE, state.status)
    diverged = ~jnp.isfinite(objective) | (objective > state.initial_value)
    status = jnp.where(diverged, DIVERGED, status)
    history = jnp.where(jnp.arange(static.steps) < state.steps_done, state.history, state.value)
    return RawResult(state.params, state.n_iter, status, history, objective, residual)


def train(X, y, w, hyper: Hyper, key, params0: Params, static: Static) -> RawResult:
    """The whole fit as one traceable function: init, all steps, finalize."""
    _TRACES[0] += 1  # runs only while tracing: counts compilations
    state = init_state(X, y, w, hyper, key, params0, static)
    state = advance(state, 0, X, y, w, hyper, key, static, static.steps)
    return finalize(state, X, y, w, hyper, static)


_TRACES = [0]


def trace_count() -> int:
    """How many times a training program has been traced (i.e. compiled) in this process."""
    return _TRACES[0]


_train_jit = jax.jit(train, static_argnames=("static",))
_init_jit = jax.jit(init_state, static_argnames=("static",))
_advance_jit = jax.jit(advance, static_argnames=("static", "n_steps"), donate_argnums=(0,))
_finalize_jit = jax.jit(finalize, static_argnames=("static",))


# ----------------------------------------------------------------------------- results


# ----------------------------------------------------------------------------- the shell


def check_options(*, solver, steps, tol, batch_size, fit_intercept, n_samples, n_features,
                  n_classes, uses_l1) -> tuple[Any, float | None]:
    """Host-side checks shared by ``fit`` and ``sweep``; returns (resolved solver, tol)."""
    steps = _data.check_scalar("steps", steps, minimum=1, integer=True)
    if batch_size is not None:
        batch_size = _data.check_scalar("batch_size", batch_size, minimum=1, integer=True)
        if batch_size > n_samples:
            raise ValueError(f"batch_size must be <= n_samples ({n_samples}), got {batch_size}")
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise TypeError(f"fit_intercept must be a bool, got {fit_intercept!r}")
    if isinstance(tol, str):
        if tol != "auto":
            raise ValueError(f"tol must be a non-negative number, None or 'auto', got {tol!r}")
        tol = None if batch_size else DEFAULT_TOL
    elif tol is not None:
        tol = _data.check_scalar("tol", tol, minimum=0.0)
        if batch_size:
            raise ValueError(
                "tol must be None (or 'auto') with batch_size: minibatch gradients cannot certify convergence"
            )
    n_params = _n_params(n_features, n_classes, bool(fit_intercept))
    resolved = resolve_solver(solver, uses_l1=uses_l1, minibatch=batch_size is not None, n_params=n_params)
    return resolved, tol


def _n_params(n_features: int, n_classes: int, fit_intercept: bool) -> int:
    width = 1 if n_classes == 2 else n_classes
    return (n_features + int(fit_intercept)) * width


def check_init_params(init, n_features, n_classes, dtype) -> Params:
    """Starting parameters: zeros, or a user's ``Params``/``FitResult`` of the right shape."""
    zeros = init_params(n_features, n_classes, dtype)
    if init is None:
        return zeros
    coef = np.asarray(getattr(init, "coef", None) if not isinstance(init, tuple) else init[0])
    intercept = np.asarray(getattr(init, "intercept", None) if not isinstance(init, tuple) else init[1])
    if coef.shape != zeros.coef.shape or intercept.shape != zeros.intercept.shape:
        raise ValueError(
            f"init must have coef {zeros.coef.shape} and intercept {zeros.intercept.shape}, "
            f"got {coef.shape} and {intercept.shape}"
        )
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ValueError("init contains NaN or inf")
    return Params(jnp.asarray(coef, dtype), jnp.asarray(intercept, dtype))


def warn_if_unfinished(status, residual, tol, steps, label: str = "") -> None:
    """``ConvergenceWarning`` for models that stopped at the budget (the Python API's diagnostic)."""
    status = np.atleast_1d(_sharding.to_host(status))  # with several hosts, gathers their shards
    stuck = int(np.sum(status == MAX_ITER))
    diverged = int(np.sum(status == DIVERGED))
    if stuck:
        worst = float(np.max(np.atleast_1d(_sharding.to_host(residual))[status == MAX_ITER]))
        warnings.warn(
            f"{label}{stuck} model(s) stopped at the budget of steps={steps} with max|grad| = "
            f"{worst:.3g} > tol = {tol}. Increase steps, standardize X, or try solver='newton' "
            "(few features) or 'lbfgs'.",
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


def separates(params: Params, X, y, sample_weight, fit_intercept: bool) -> bool:
    """True when the parameters classify every weighted sample strictly correctly.

    If an unpenalized fit finds such a hyperplane, scaling it up lowers the loss forever:
    the maximum-likelihood estimate does not exist.
    """
    z = np.asarray(X @ np.asarray(params.coef) + (np.asarray(params.intercept) if fit_intercept else 0))
    used = np.asarray(sample_weight) > 0
    if z.ndim == 1:
        margin = np.where(np.asarray(y) > 0.5, z, -z)
    else:
        codes = np.asarray(y).astype(int)
        true = np.take_along_axis(z, codes[:, None], axis=1)[:, 0]
        others = np.where(np.arange(z.shape[1])[None, :] == codes[:, None], -np.inf, z).max(axis=1)
        margin = true - others
    return bool(np.all(margin[used] > 0))


def fit(
    X,
    y,
    *,
    solver="auto",
    learning_rate=0.01,
    steps: int = 1000,
    tol="auto",
    l2=0.0,
    l1=0.0,
    fit_intercept: bool = True,
    sample_weight=None,
    class_weight=None,
    batch_size: int | None = None,
    seed: int = 0,
    init=None,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int | None = None,
    mesh=None,
) -> FitResult:
    """Fit one logistic-regression model.

    Minimises ``sum_i s_i loss_i / sum_i s_i + l1 ||w||_1 + 0.5 l2 ||w||^2`` (intercept
    unpenalized); scikit-learn's ``C`` is ``l2 = 1 / (C * sum(s))``.

    ``solver``: ``"auto"`` (newton / lbfgs, fista with L1), ``"gd"`` (the seed's gradient
    descent), ``"momentum"``, ``"nesterov"``, ``"adam"``, ``"adamw"``, ``"adagrad"``,
    ``"rmsprop"``, ``"lbfgs"``, ``"newton"``, ``"fista"``, an ``optax.GradientTransformation``
    or a factory ``learning_rate -> GradientTransformation`` (e.g. ``optax.adam``).
    ``steps`` is the iteration budget; with ``tol`` (default ``1e-4``; ``"auto"`` means 1e-4
    for full batches and None for minibatches) a model stops once its residual is
    ``<= tol``; ``tol=None`` runs exactly ``steps`` steps as one ``lax.scan``.
    ``batch_size``: minibatches reshuffled every epoch from ``seed`` (remainder dropped).
    ``progress(steps_done, steps)`` is called on the host between chunks of
    ``progress_every`` steps.
    ``mesh``: a ``jax.sharding.Mesh`` (axes "models" and/or "data"); one model has no
    models axis to split, so the rows are split over every axis of the mesh (padded with
    zero-weight rows) and XLA reduces the gradients; the parameters are replicated.
    """
    ds = _data.check_dataset(X, y, sample_weight, class_weight)
    n_samples, n_features = ds.X.shape
    l2 = _data.check_scalar("l2", l2, minimum=0.0)
    l1 = _data.check_scalar("l1", l1, minimum=0.0)
    learning_rate = _data.check_scalar("learning_rate", learning_rate, minimum=0.0, strict=True)
    seed = _data.check_scalar("seed", seed, integer=True)
    resolved, tol = check_options(
        solver=solver, steps=steps, tol=tol, batch_size=batch_size, fit_intercept=fit_intercept,
        n_samples=n_samples, n_features=n_features, n_classes=ds.n_classes, uses_l1=l1 > 0,
    )
    params0 = check_init_params(init, n_features, ds.n_classes, ds.X.dtype)
    static = Static(resolved, int(steps), tol is not None, batch_size, bool(fit_intercept))
    dtype = ds.X.dtype
    hyper = Hyper(*(jnp.asarray(v, dtype) for v in (learning_rate, l1, l2, 0.0 if tol is None else tol)))
    key = jax.random.key(seed)
    if _design.is_sparse(ds.X):
        if mesh is not None:
            raise ValueError("mesh: sparse X cannot be placed on a mesh yet; pass mesh=None or a dense X")
        # chunked columns for X^T r except for newton, whose jax.hessian needs forward mode
        Xj = _design.sparse(ds.X, transpose=resolved != "newton")
        yj, wj = jnp.asarray(ds.y), jnp.asarray(ds.sample_weight)
    elif mesh is None:
        Xj, yj, wj = jnp.asarray(ds.X), jnp.asarray(ds.y), jnp.asarray(ds.sample_weight)
        if batch_size is None and resolved != "newton":  # reverse-mode only solvers: faster X^T r
            Xj = with_transpose(Xj)
    else:  # no whole copy of X on one device first: each device receives only its rows
        Xj, yj, wj, hyper, key, params0 = _place_fit(mesh, ds, hyper, key, params0, batch_size)

    if progress is None:
        raw = _train_jit(Xj, yj, wj, hyper, key, params0, static)
    else:
        raw = run_in_chunks(Xj, yj, wj, hyper, key, params0, static, progress, progress_every)

    config = dict(
        solver=resolved if isinstance(resolved, str) else repr(resolved),
        learning_rate=learning_rate, l1=l1, l2=l2, tol=tol, steps=int(steps),
        fit_intercept=bool(fit_intercept), batch_size=batch_size, seed=seed,
    )
    result = FitResult(raw.params.coef, raw.params.intercept, raw.loss_history, raw.n_iter,
                       raw.status, raw.objective, raw.residual, tuple(ds.classes.tolist()), FrozenDict(config))
    warn_if_unfinished(raw.status, raw.residual, tol, steps)
    if l1 == 0 and l2 == 0 and separates(raw.params, ds.X, ds.y, ds.sample_weight, fit_intercept):
        warnings.warn(
            "The classes are perfectly separated by the fitted model and the fit is unpenalized: "
            "the maximum-likelihood estimate does not exist (coefficients grow without bound "
            "as the solver runs). Add a penalty (l2 > 0) or remove the separating feature(s).",
            PerfectSeparationWarning,
            stacklevel=2,
        )
    return result


def _place_fit(mesh, ds, hyper, key, params0, batch_size):
    """Rows split over all mesh axes (padded with zero weight), everything else replicated."""
    mesh = _sharding.check_mesh(mesh)
    n_dev = int(mesh.devices.size)
    if batch_size and ds.X.shape[0] % n_dev:
        raise ValueError(f"mesh: with batch_size, n_samples ({ds.X.shape[0]}) must be a multiple of the "
                         f"mesh size ({n_dev}); padding rows would change the minibatches")
    X, y, w = _sharding.pad_rows(ds.X, ds.y, ds.sample_weight, n_dev)
    rows = tuple(mesh.axis_names)
    placed = (_sharding.put(a, mesh, _sharding.spec(mesh, rows, *[None] * (a.ndim - 1))) for a in (X, y, w))
    return (*placed, *_sharding.replicate((hyper, key, params0), mesh))


def run_in_chunks(X, y, w, hyper, key, params0, static: Static, progress, every=None) -> RawResult:
    """The same fit as ``train``, cut into host-side chunks so ``progress`` can be reported."""
    every = int(every or max(1, static.steps // 50))
    state = _init_jit(X, y, w, hyper, key, params0, static)
    done = 0
    while done < static.steps:
        state = _advance_jit(state, done, X, y, w, hyper, key, static, every)
        done = min(done + every, static.steps)
        progress(done, static.steps)
        if static.to_tolerance and int(state.status) != RUNNING:
            break
    return _finalize_jit(state, X, y, w, hyper, static)
