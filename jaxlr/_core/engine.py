"""The one loop driver: K models ("lanes") advanced together by one compiled loop.

Everything here is pure JAX and traceable. ``run`` serves every caller: the training programs
(``programs``, for ``fit``, ``sweep``, the estimators and the command line) and ``jaxlr.solve``
(one lane, inside the caller's ``jit``/``vmap``). The step budget, the tolerance,
``fit_intercept``, the hyperparameters and where the loop starts and stops are traced values,
so changing them never compiles again; the host calls it once for a whole fit, or in rounds
(progress, time limits, interrupts, checkpoints) passing the loop state back in.

Every lane carries a ``Status``. A converged or diverged lane is frozen: its parameters stop
changing, so it never disturbs the others. A step whose objective is not finite reverts the lane
to its last finite parameters and marks it diverged.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .problem import Hyper, Problem, full_objective
from .resample import multipliers
from .status import HISTORY_HEAD, HISTORY_SIZE, Status
from .steps import Solver, l1_norm, optimality_residual

RUNNING, CONVERGED, MAX_ITER, DIVERGED, DONE = (int(s) for s in (
    Status.RUNNING, Status.CONVERGED, Status.MAX_ITER, Status.DIVERGED, Status.DONE))


class Lanes(NamedTuple):
    """Per-lane inputs, each (K,)."""

    hyper: Hyper
    seed: jax.Array  # uint32: the lane's PRNG key is jax.random.key(seed)
    fold: jax.Array  # int32: the row of the (F, m) training-weight matrix the lane trains on
    # (with ``Static.resample``: the lane's resampling mode, see ``resample``)


class Static(NamedTuple):
    """Compile-time choices: changing one of these compiles a new program."""

    solver: Solver
    batch_size: int | None
    n_outputs: int  # C: 1 for binary models, the number of classes otherwise
    resample: Any = None  # a ``resample.Resample``: lanes train on W[0] times weights drawn in-program


class Control(NamedTuple):
    """Traced scalars of one call."""

    steps: jax.Array  # int32 budget
    stop_at: jax.Array  # int32: this call ends the loop at this global step (rounds)
    to_tolerance: jax.Array  # bool: stop lanes whose residual reaches tol
    fit_intercept: jax.Array  # bool
    n_rows: jax.Array  # int32: real rows (the rest is zero-weight padding)
    fresh: jax.Array  # bool: start from ``theta0`` (else continue ``state``)
    stride: jax.Array  # int32: loss-history stride after the first HISTORY_HEAD steps
    intercept_weight: jax.Array  # float: the intercept's share of the penalties (0: unpenalized)
    carry: jax.Array  # bool (with ``fresh`` False): ``state`` is a path's previous point: ``carry_state``


class LoopState(NamedTuple):
    theta: jax.Array  # (P, K)
    prev_theta: jax.Array  # last parameters with a finite objective, to revert to
    solver_state: Any
    n_iter: jax.Array  # (K,) steps actually taken (a frozen lane takes none)
    status: jax.Array  # (K,)
    value: jax.Array  # (K,) last finite objective seen
    initial_value: jax.Array  # (K,) objective at the starting parameters, on all data
    history: jax.Array  # (HISTORY_SIZE, K) objective before recorded steps
    t: jax.Array  # () global step reached
    order: jax.Array  # (m, K) minibatch permutation of the current epoch ((0, K) for full batch)
    l2: jax.Array  # (K,) the L2 strength the solver state was made for (``carry_state`` moves it)


class Summary(NamedTuple):
    """Objective and residual at the current parameters on all data, and the status each lane
    has if the run ends now (budget spent: max_iter or done; above its start: diverged)."""

    objective: jax.Array
    residual: jax.Array
    status: jax.Array


def _history_index(t, stride):
    """Where step ``t`` goes in the history, and whether it is recorded at all."""
    late = t - HISTORY_HEAD
    index = jnp.where(late < 0, t, HISTORY_HEAD + late // stride)
    return index, (late < 0) | ((late % stride == 0) & (index < HISTORY_SIZE))


def _epoch_order(seed, epoch, n_rows, m):
    """A permutation of the ``n_rows`` real rows first (padding rows last), new each epoch."""
    key = jax.random.fold_in(jax.random.key(seed), epoch)
    u = jax.random.uniform(key, (m,))
    return jnp.argsort(jnp.where(jnp.arange(m) < n_rows, u, 2.0)).astype(jnp.int32)


def _lane_weights(W, lanes, y, control, static):
    """(m, K) training weights: each lane's row of the (F, m) fold matrix. With one fold the row
    is broadcast, so lanes share it instead of gathering K copies. With ``static.resample``, the
    data's weights (row 0) times each lane's multipliers, drawn from its seed (``resample``)."""
    fold = lanes.fold
    if static.resample is not None:
        return W[0][:, None] * multipliers(static.resample, lanes.seed, fold, y, control.n_rows, W.shape[1], W.dtype)
    return jnp.broadcast_to(W[0][:, None], (W.shape[1], fold.shape[0])) if W.shape[0] == 1 else W[fold].T


def _problem(design, y, S, hyper, control, static):
    return Problem(design, y, S, hyper, control.fit_intercept, static.n_outputs, design.shape[1],
                   intercept_weight=control.intercept_weight)


def _minibatch_problem(order, t, design, y, S, hyper, control, static):
    """The problem on each lane's minibatch of step ``t`` (``order``: the epoch's permutation)."""
    B = static.batch_size
    n_batches = jnp.maximum(control.n_rows // B, 1)
    idx = jax.lax.dynamic_slice_in_dim(order, (t % n_batches) * B, B, axis=0)  # (B, K)
    rows = jax.vmap(design.rows, in_axes=1)(idx)  # lane k's rows: a (K, B, n) design
    y_b = jnp.take(y, idx.T, axis=0)  # (K, B)
    S_b = jnp.take_along_axis(S, idx, axis=0)  # (B, K)
    return Problem(rows, y_b, S_b, hyper, control.fit_intercept, static.n_outputs, design.shape[1],
                   per_lane_rows=True, intercept_weight=control.intercept_weight)


def init_state(design, y, W, lanes: Lanes, theta0, control: Control, static: Static) -> LoopState:
    problem = _problem(design, y, _lane_weights(W, lanes, y, control, static), lanes.hyper, control, static)
    solver_state = static.solver.init(theta0, problem)
    known = static.solver.known_info(theta0, solver_state)
    value0 = full_objective(problem, theta0) if known is None else known.value
    K = theta0.shape[1]
    if static.batch_size:
        order = jax.vmap(lambda s: _epoch_order(s, 0, control.n_rows, design.shape[0]), out_axes=1)(lanes.seed)
    else:
        order = jnp.zeros((0, K), jnp.int32)
    return LoopState(
        theta=theta0, prev_theta=theta0, solver_state=solver_state,
        n_iter=jnp.zeros((K,), jnp.int32), status=jnp.full((K,), RUNNING, jnp.int32),
        value=value0, initial_value=value0, history=jnp.full((HISTORY_SIZE, K), jnp.nan, theta0.dtype),
        t=jnp.zeros((), jnp.int32), order=order, l2=lanes.hyper.l2,
    )


def carries(static: Static) -> bool:
    """Whether a path's next point can continue the previous point's state (``carry_state``)."""
    return static.solver.reprices and not static.batch_size and static.resample is None


def carry_state(state: LoopState, design, y, W, lanes: Lanes, control: Control, static: Static) -> LoopState:
    """The next point of a regularization path, started where ``state`` (the previous point's
    end, at its own L2 strengths) stopped: the solver's state repriced to the lanes' L2 strengths
    (``Solver.reprice``: no evaluation; L-BFGS keeps its curvature pairs), a fresh loop otherwise.
    A lane already at tolerance for its new objective then stops before any work."""
    problem = _problem(design, y, _lane_weights(W, lanes, y, control, static), lanes.hyper, control, static)
    delta = problem.l2_weight[:, None] * (lanes.hyper.l2 - state.l2)[None, :]
    solver_state = static.solver.reprice(state.solver_state, state.theta, delta)
    value0 = static.solver.known_info(state.theta, solver_state).value
    K = state.theta.shape[1]
    return LoopState(
        theta=state.theta, prev_theta=state.theta, solver_state=solver_state,
        n_iter=jnp.zeros((K,), jnp.int32), status=jnp.full((K,), RUNNING, jnp.int32),
        value=value0, initial_value=value0, history=jnp.full_like(state.history, jnp.nan),
        t=jnp.zeros((), jnp.int32), order=state.order, l2=lanes.hyper.l2,
    )


def _step_problem(state, design, y, S, lanes, control, static):
    """The problem of step ``state.t`` and the minibatch order (refreshed at each epoch)."""
    if not static.batch_size:
        return _problem(design, y, S, lanes.hyper, control, static), state.order
    n_batches = jnp.maximum(control.n_rows // static.batch_size, 1)
    epoch, batch = state.t // n_batches, state.t % n_batches
    order = jax.lax.cond(
        (batch == 0) & (state.t > 0),
        lambda: jax.vmap(lambda s: _epoch_order(s, epoch, control.n_rows, design.shape[0]), out_axes=1)(lanes.seed),
        lambda: state.order,
    )
    return _minibatch_problem(order, state.t, design, y, S, lanes.hyper, control, static), order


def _step(state: LoopState, design, y, S, lanes: Lanes, control: Control, static: Static) -> LoopState:
    """One iteration at global step ``state.t``: a solver step for every running lane; a lane
    that reached ``tol`` (at the parameters the step started from) converges there, one whose
    objective is not finite reverts to its last finite parameters and diverges."""
    problem, order = _step_problem(state, design, y, S, lanes, control, static)
    running = state.status == RUNNING
    known = static.solver.known_info(state.theta, state.solver_state)
    if known is None:
        new_theta, new_solver_state, info = static.solver.step(state.theta, state.solver_state, problem, running)
    else:
        # a lane known to be at tolerance takes no part in the step's work (its line search), and
        # when no lane is left the step is skipped (a Newton step's Hessian, for one)
        working = running & ~(control.to_tolerance & (known.residual <= lanes.hyper.tol))
        new_theta, new_solver_state, info = jax.lax.cond(
            jnp.any(working),
            lambda: static.solver.step(state.theta, state.solver_state, problem, working),
            lambda: (state.theta, state.solver_state, known))
    finite = jnp.isfinite(info.value) & jnp.isfinite(info.residual)
    converged = control.to_tolerance & (info.residual <= lanes.hyper.tol)
    move = running & finite & ~converged
    diverge = running & ~finite

    def pick(mask, a, b):  # per-lane leaves by lane; leaves shared by all lanes (counters) advance
        return jax.tree_util.tree_map(lambda x, z: jnp.where(mask, x, z) if jnp.ndim(x) else x, a, b)

    # with ``known``, the lanes that do not move are those not working (as they were, for such a
    # solver) and those whose known objective is not finite, which diverge and never step again
    selects_state = known is None or not static.solver.leaves_inactive_lanes

    status = jnp.where(running & finite & converged, CONVERGED, state.status)
    recorded = jnp.where(running, info.value, state.value)
    index, record = _history_index(state.t, control.stride)
    row = jax.lax.dynamic_index_in_dim(state.history, index, keepdims=False)
    return LoopState(
        theta=jnp.where(move, new_theta, jnp.where(diverge, state.prev_theta, state.theta)),
        prev_theta=jnp.where(move, state.theta, state.prev_theta),
        solver_state=pick(move, new_solver_state, state.solver_state) if selects_state else new_solver_state,
        n_iter=state.n_iter + move.astype(jnp.int32) - (diverge & (state.n_iter > 0)).astype(jnp.int32),
        status=jnp.where(diverge, DIVERGED, status),
        value=jnp.where(running & finite, info.value, state.value),
        initial_value=state.initial_value,
        history=jax.lax.dynamic_update_index_in_dim(state.history, jnp.where(record, recorded, row), index, 0),
        t=state.t + 1,
        order=order,
        l2=state.l2,
    )


def summarize(state: LoopState, design, y, S, lanes: Lanes, control: Control, static: Static) -> Summary:
    """Objective and residual at the current parameters (on all data), the status if ending now."""
    known = None if static.batch_size else static.solver.known_info(state.theta, state.solver_state)
    if known is not None:  # the solver's state holds them: no evaluation
        objective, residual = known
    else:
        problem = _problem(design, y, S, lanes.hyper, control, static)
        smooth, grad = problem.value_and_grad(state.theta)
        objective = smooth + problem.l1 * l1_norm(state.theta, problem.penalty_weight)
        residual = optimality_residual(state.theta, grad, problem.l1, problem.penalty_weight)
    ended = state.t >= control.steps
    spent = jnp.where(control.to_tolerance, MAX_ITER, DONE)
    status = jnp.where((state.status == RUNNING) & ended, spent, state.status)
    # above its start by more than rounding: a lane warm-started at its optimum may end an ulp
    # above where it began (steps below rounding are taken, see ``backtracking``) and has not diverged
    rounding = 100 * jnp.finfo(objective.dtype).eps * jnp.maximum(jnp.abs(state.initial_value), 1.0)
    diverged = ~jnp.isfinite(objective) | (objective > state.initial_value + rounding)
    status = jnp.where(diverged & (status != RUNNING), DIVERGED, status)
    return Summary(objective, residual, status)


def iterate(state: LoopState, design, y, W, lanes: Lanes, control: Control, static: Static):
    """Advance ``state`` until ``control.stop_at`` (or the budget, or every lane stopping), and
    summarize; a budget of 0 steps summarizes the starting parameters (status max_iter, or done
    without tol)."""
    S = _lane_weights(W, lanes, y, control, static)
    end = jnp.minimum(control.stop_at, control.steps)

    def cond(s):
        return (s.t < end) & jnp.any(s.status == RUNNING)

    state = jax.lax.while_loop(cond, lambda s: _step(s, design, y, S, lanes, control, static), state)
    return state, summarize(state, design, y, S, lanes, control, static)


def run(state: LoopState, design, y, W, lanes: Lanes, theta0, control: Control, static: Static):
    """Start (``control.fresh``: from ``theta0``), carry a path's previous point on
    (``control.carry``, solvers that reprice) or continue ``state``, then ``iterate``: the
    training programs' body, one compiled program for all of it."""
    if carries(static):
        def going_on():
            return jax.lax.cond(control.carry, lambda: carry_state(state, design, y, W, lanes, control, static),
                                lambda: state)
    else:
        def going_on():
            return state
    state = jax.lax.cond(control.fresh, lambda: init_state(design, y, W, lanes, theta0, control, static), going_on)
    return iterate(state, design, y, W, lanes, control, static)


__all__ = ["Lanes", "Static", "Control", "LoopState", "Summary", "run", "iterate", "init_state", "carry_state",
           "carries", "summarize"]
