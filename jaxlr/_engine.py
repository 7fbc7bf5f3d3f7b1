"""The training program: K models ("lanes") advanced together by one compiled loop.

Everything here is pure JAX and traceable. One program (``run``) serves every call with the same
solver, dtype and padded shapes (rows, features, lanes, folds): the step budget, the tolerance,
``fit_intercept``, the hyperparameters and where the loop starts and stops are traced values, so
changing them never compiles again. The host (``_lanes``) calls it once for a whole fit, or in
rounds (progress reports, checkpoints) passing the loop state back in.

Layout: the parameters of all lanes are one matrix ``theta`` (P, K), model ``k`` in column ``k``:
``n * C`` coefficient rows (feature-major: row ``i * C + c`` is feature ``i``, class ``c``; C = 1
for binary models) then ``C`` intercept rows. Every per-lane array keeps the lanes on its last
axis, so the logits of all lanes are one product ``X @ W`` with W (n, C K), the gradients one
``X^T R``, and a lane's state is selected with a (K,) mask.

Every lane carries a ``Status``. A converged or diverged lane is frozen: its parameters stop
changing, so it never disturbs the others. A step whose objective is not finite reverts the lane
to its last finite parameters and marks it diverged.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from . import _design
from .losses import binary_log_loss, objective_from_logits, penalty, softmax_log_loss
from ._results import HISTORY_HEAD, HISTORY_SIZE, Status
from ._solvers import StepInfo, l1_norm, make_solver, optimality_residual

RUNNING, CONVERGED, MAX_ITER, DIVERGED, DONE = (int(s) for s in (
    Status.RUNNING, Status.CONVERGED, Status.MAX_ITER, Status.DIVERGED, Status.DONE))


class Hyper(NamedTuple):
    """Per-lane tunable values (K,), traced."""

    learning_rate: jax.Array
    l1: jax.Array
    l2: jax.Array
    tol: jax.Array


class Lanes(NamedTuple):
    """Per-lane inputs, each (K,)."""

    hyper: Hyper
    seed: jax.Array  # uint32: the lane's PRNG key is jax.random.key(seed)
    fold: jax.Array  # int32: the row of the (F, m) training-weight matrix the lane trains on


class Static(NamedTuple):
    """Compile-time choices: changing one of these compiles a new program."""

    solver: Any
    batch_size: int | None
    n_outputs: int  # C: 1 for binary models, the number of classes otherwise


class Control(NamedTuple):
    """Traced scalars of one call."""

    steps: jax.Array  # int32 budget
    stop_at: jax.Array  # int32: this call ends the loop at this global step (rounds)
    to_tolerance: jax.Array  # bool: stop lanes whose residual reaches tol
    fit_intercept: jax.Array  # bool
    n_rows: jax.Array  # int32: real rows (the rest is zero-weight padding)
    fresh: jax.Array  # bool: start from ``theta0`` (else continue ``state``)
    stride: jax.Array  # int32: loss-history stride after the first HISTORY_HEAD steps


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


class Summary(NamedTuple):
    """Objective and residual at the current parameters on all data, and the status each lane
    has if the run ends now (budget spent: max_iter or done; above its start: diverged)."""

    objective: jax.Array
    residual: jax.Array
    status: jax.Array


# ----------------------------------------------------------------------------- the objective


class Problem:
    """K lanes' objectives on shared data: ``value``, ``value_and_grad`` (one product each way
    for all lanes), ``value_grad_hessian`` (Newton) and ``lane_fn`` (one lane, for optax's
    ``value_fn``). Minibatch problems hold per-lane rows and evaluate lane by lane."""

    def __init__(self, design, y, S, hyper: Hyper, fit_intercept, n_outputs: int, n_features: int,
                 per_lane_rows: bool = False):
        self.design, self.y, self.S = design, y, S  # S (m, K) training weights per lane
        self.l1, self.l2, self.learning_rate = hyper.l1, hyper.l2, hyper.learning_rate
        self.fit_intercept = fit_intercept
        self.C, self.n = n_outputs, n_features
        self.per_lane_rows = per_lane_rows  # design (K, B, n) rows, y (K, B), S (B, K)
        P = n_features * n_outputs + n_outputs
        self.l1_mask = jnp.arange(P) < n_features * n_outputs

    def _split(self, theta):
        nC = self.n * self.C
        return theta[:nC], theta[nC:] * self.fit_intercept

    def logits(self, theta):
        """(m, K) binary, (m, C, K) multinomial."""
        coef, intercept = self._split(theta)
        K = theta.shape[1]
        if self.per_lane_rows:
            W = coef.reshape(self.n, self.C, K)
            Z = jax.vmap(lambda d, w: _design.linear(d, w), in_axes=(0, 2), out_axes=2)(self.design, W)
        else:
            Z = _design.linear(self.design, coef.reshape(self.n, self.C * K)).reshape(-1, self.C, K)
        Z = Z + intercept[None]
        return Z[:, 0, :] if self.C == 1 else Z

    def _labels(self):
        return self.y.T if self.per_lane_rows else self.y

    def value(self, theta):
        """Smooth objective (K,): weighted mean log-loss + 0.5 l2 ||w||^2."""
        Z = self.logits(theta)
        return objective_from_logits(Z, self._labels(), self.S, self._split(theta)[0], 0.0, self.l2,
                                     class_axis=None if self.C == 1 else 1, coef_axis=0)

    def value_and_grad(self, theta):
        (_, values), grad = jax.value_and_grad(lambda th: (lambda v: (jnp.sum(v), v))(self.value(th)),
                                               has_aux=True)(theta)
        return values, grad

    def value_grad_hessian(self, theta):
        """Values, gradients and Hessians (K, P, P): ``J^T D J + l2`` with ``J`` the linear map
        to the logits and ``D`` the loss's curvature in the logits (``jax.hessian`` per row)."""
        value, grad = self.value_and_grad(theta)
        Z = self.logits(theta)
        weight = self.S / jnp.sum(self.S, axis=0)  # (m, K)
        n, C, K = self.n, self.C, theta.shape[1]
        if C == 1:
            y = self.y[:, None]
            dz = jax.grad(lambda z: jnp.sum(binary_log_loss(z, y)))
            curvature = jax.jvp(dz, (Z,), (jnp.ones_like(Z),))[1]  # elementwise second derivative
            D = (weight * curvature)[:, :, None, None]  # (m, K, 1, 1)
        else:
            per_row = jax.hessian(lambda z, label: softmax_log_loss(z[None], label[None])[0])
            h = jax.vmap(jax.vmap(per_row, in_axes=(1, None)), in_axes=(0, 0))(Z, self.y)  # (m, K, C, C)
            D = weight[:, :, None, None] * h
        flat = D.reshape(D.shape[0], K * C * C)
        H_ww = self.design.gram(flat).reshape(K, C, C, n, n).transpose(0, 3, 1, 4, 2).reshape(K, n * C, n * C)
        H_wb = self.design.rmatmul(flat).reshape(n, K, C, C).transpose(1, 0, 2, 3).reshape(K, n * C, C)
        H_bb = jnp.sum(D, axis=0) * self.fit_intercept  # (K, C, C)
        H_wb = H_wb * self.fit_intercept
        ridge = self.l2[:, None, None] * jnp.eye(n * C, dtype=theta.dtype)
        top = jnp.concatenate([H_ww + ridge, H_wb], axis=2)
        bottom = jnp.concatenate([jnp.swapaxes(H_wb, 1, 2), H_bb], axis=2)
        return value, grad, jnp.concatenate([top, bottom], axis=1)

    def lane_fn(self, k):
        """Lane ``k``'s smooth objective as a function of its parameters (P,) (traced ``k``)."""
        def f(p):
            coef, intercept = self._split(p[:, None])
            if self.per_lane_rows:
                design, y, s = jax.tree_util.tree_map(lambda a: a[k], self.design), self.y[k], self.S[:, k]
            else:
                design, y, s = self.design, self.y, self.S[:, k]
            z = _design.linear(design, coef.reshape(self.n, self.C)) + intercept[:, 0]
            z = z[:, 0] if self.C == 1 else z
            return objective_from_logits(z, y, s, coef[:, 0], 0.0, self.l2[k],
                                         class_axis=None if self.C == 1 else 1)
        return f


def full_objective(problem: Problem, theta):
    """``F = f + l1 ||coef||_1`` per lane."""
    return problem.value(theta) + penalty(theta * problem.l1_mask[:, None], problem.l1, 0.0, axis=0)


# ----------------------------------------------------------------------------- the loop


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


def _lane_weights(W, fold):
    """(m, K) training weights: each lane's row of the (F, m) fold matrix. With one fold the row
    is broadcast, so lanes share it instead of gathering K copies."""
    return jnp.broadcast_to(W[0][:, None], (W.shape[1], fold.shape[0])) if W.shape[0] == 1 else W[fold].T


def _problem(design, y, S, hyper, control, static):
    n_features = design.shape[1]
    return Problem(design, y, S, hyper, control.fit_intercept, static.n_outputs, n_features)


def _minibatch_problem(state, design, y, S, hyper, control, static):
    """The problem on each lane's minibatch of step ``state.t`` (order refreshed per epoch)."""
    B = static.batch_size
    n_batches = jnp.maximum(control.n_rows // B, 1)
    batch = state.t % n_batches
    idx = jax.lax.dynamic_slice_in_dim(state.order, batch * B, B, axis=0)  # (B, K)
    rows = jax.vmap(design.rows, in_axes=1)(idx)  # lane k's rows: a (K, B, n) design
    y_b = jnp.take(y, idx.T, axis=0)  # (K, B)
    S_b = jnp.take_along_axis(S, idx, axis=0)  # (B, K)
    problem = Problem(rows, y_b, S_b, hyper, control.fit_intercept, static.n_outputs, design.shape[1],
                      per_lane_rows=True)
    return problem


def init_state(design, y, W, lanes: Lanes, theta0, control: Control, static: Static) -> LoopState:
    S = _lane_weights(W, lanes.fold)
    problem = _problem(design, y, S, lanes.hyper, control, static)
    solver = make_solver(static.solver)
    value0 = full_objective(problem, theta0)
    K = theta0.shape[1]
    m = design.shape[0]
    if static.batch_size:
        order = jax.vmap(lambda s: _epoch_order(s, 0, control.n_rows, m), out_axes=1)(lanes.seed)
    else:
        order = jnp.zeros((0, K), jnp.int32)
    return LoopState(
        theta=theta0, prev_theta=theta0, solver_state=solver.init(theta0, problem),
        n_iter=jnp.zeros((K,), jnp.int32), status=jnp.full((K,), RUNNING, jnp.int32),
        value=value0, initial_value=value0, history=jnp.full((HISTORY_SIZE, K), jnp.nan, theta0.dtype),
        t=jnp.zeros((), jnp.int32), order=order,
    )


def _step(state: LoopState, design, y, S, lanes: Lanes, control: Control, static: Static) -> LoopState:
    """One iteration at global step ``state.t``: a solver step for every running lane."""
    solver = make_solver(static.solver)
    hyper = lanes.hyper
    order = state.order
    if static.batch_size:
        n_batches = jnp.maximum(control.n_rows // static.batch_size, 1)
        epoch, batch = state.t // n_batches, state.t % n_batches
        order = jax.lax.cond(
            (batch == 0) & (state.t > 0),
            lambda: jax.vmap(lambda s: _epoch_order(s, epoch, control.n_rows, design.shape[0]),
                             out_axes=1)(lanes.seed),
            lambda: state.order,
        )
        problem = _minibatch_problem(state._replace(order=order), design, y, S, hyper, control, static)
    else:
        problem = _problem(design, y, S, hyper, control, static)

    running = state.status == RUNNING
    new_theta, new_solver_state, info = solver.step(state.theta, state.solver_state, problem, running)
    finite = jnp.isfinite(info.value) & jnp.isfinite(info.residual)
    converged = control.to_tolerance & (info.residual <= hyper.tol)
    move = running & finite & ~converged
    diverge = running & ~finite

    def pick(mask, a, b):  # per-lane leaves by lane; leaves shared by all lanes (counters) advance
        return jax.tree_util.tree_map(lambda x, z: jnp.where(mask, x, z) if jnp.ndim(x) else x, a, b)

    theta = jnp.where(move, new_theta, jnp.where(diverge, state.prev_theta, state.theta))
    status = jnp.where(running & finite & converged, CONVERGED, state.status)
    status = jnp.where(diverge, DIVERGED, status)
    recorded = jnp.where(running, info.value, state.value)
    index, record = _history_index(state.t, control.stride)
    row = jax.lax.dynamic_index_in_dim(state.history, index, keepdims=False)
    history = jax.lax.dynamic_update_index_in_dim(state.history, jnp.where(record, recorded, row), index, 0)
    return LoopState(
        theta=theta,
        prev_theta=jnp.where(move, state.theta, state.prev_theta),
        solver_state=pick(move, new_solver_state, state.solver_state),
        n_iter=state.n_iter + move.astype(jnp.int32) - (diverge & (state.n_iter > 0)).astype(jnp.int32),
        status=status,
        value=jnp.where(running & finite, info.value, state.value),
        initial_value=state.initial_value,
        history=history,
        t=state.t + 1,
        order=order,
    )


def summarize(state: LoopState, design, y, S, lanes: Lanes, control: Control, static: Static) -> Summary:
    """Objective and residual at the current parameters (on all data), the status if ending now."""
    problem = _problem(design, y, S, lanes.hyper, control, static)
    smooth, grad = problem.value_and_grad(state.theta)
    objective = smooth + problem.l1 * l1_norm(state.theta, problem.l1_mask)
    residual = optimality_residual(state.theta, grad, problem.l1, problem.l1_mask)
    ended = state.t >= control.steps
    spent = jnp.where(control.to_tolerance, MAX_ITER, DONE)
    status = jnp.where((state.status == RUNNING) & ended, spent, state.status)
    diverged = ~jnp.isfinite(objective) | (objective > state.initial_value)
    status = jnp.where(diverged & (status != RUNNING), DIVERGED, status)
    return Summary(objective, residual, status)


def run(state: LoopState, design, y, W, lanes: Lanes, theta0, control: Control, static: Static):
    """Start (``control.fresh``) or continue the lanes' loop until ``control.stop_at`` (or the
    budget, or every lane stopping), and summarize. One compiled program for all of it."""
    _TRACES[0] += 1  # runs only while tracing: counts compilations
    state = jax.lax.cond(control.fresh,
                         lambda: init_state(design, y, W, lanes, theta0, control, static),
                         lambda: state)
    S = _lane_weights(W, lanes.fold)
    end = jnp.minimum(control.stop_at, control.steps)

    def cond(s):
        return (s.t < end) & jnp.any(s.status == RUNNING)

    state = jax.lax.while_loop(cond, lambda s: _step(s, design, y, S, lanes, control, static), state)
    return state, summarize(state, design, y, S, lanes, control, static)


_TRACES = [0]


def trace_count() -> int:
    """How many times a training program has been traced (i.e. compiled) in this process."""
    return _TRACES[0]


__all__ = ["Hyper", "Lanes", "Static", "Control", "LoopState", "Summary", "Problem", "run", "init_state",
           "trace_count", "StepInfo"]
