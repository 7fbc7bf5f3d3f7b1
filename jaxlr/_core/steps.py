"""What every solver shares: the ``Solver`` interface with its facts, per-lane vector helpers and
the batched line search (Armijo backtracking, and Moré-Thuente's search for L-BFGS's first step).

Parameters are one matrix ``theta`` of shape (P, K): column ``k`` is model ``k`` (its
coefficients, then its intercept). A solver minimises, for every lane at once,
``F_k(theta_k) = f_k(theta_k) + l1_k * ||coef_k||_1`` where ``f`` (``problem.Problem``) is the
weighted mean log-loss plus the L2 term. Its heavy work is the problem's: one evaluation is one
matrix-matrix product ``X @ W`` for all lanes (and ``X^T R`` for gradients); everything a solver
adds is O(P K). Per-lane scalars (step sizes, line-search trials, Lipschitz estimates) are
vectors of length K, so lanes never wait for one another inside a step, and line searches
evaluate every lane's trial point with one batched product.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp


class StepInfo(NamedTuple):
    value: jax.Array  # (K,) F at the parameters the step started from
    residual: jax.Array  # (K,) optimality residual there (see ``optimality_residual``)


@dataclasses.dataclass(frozen=True)
class Solver:
    """A solver as a value (optimistix's solver classes, optax's transformation factories): a
    pure ``init``/``step`` pair and the facts the host plans with, so that nothing elsewhere
    switches on solver names.

    ``init(theta, problem) -> state``; ``step(theta, state, problem, active) -> (theta, state,
    StepInfo)``, where ``StepInfo`` holds the objective and the optimality residual *at the
    parameters the step started from* (the loop stops a lane before moving it) and ``active``
    (K,) marks the lanes still running (inner loops wait only for those). Instances are frozen
    and hashable: a solver is a compile-time choice.
    """

    name: str
    takes_learning_rate: ClassVar[bool] = False  # learning_rate changes what it does
    handles_l1: ClassVar[bool] = False  # minimises f + l1 ||coef||_1
    minibatch: ClassVar[bool] = False  # works on minibatches (batch_size)
    line_search: ClassVar[bool] = False  # monotone, reaches tight tolerances (jaxlr.solve)
    reads_transpose: ClassVar[bool] = True  # many gradient passes: a row-major X^T copy pays
    forms_gram: ClassVar[bool] = False  # builds X^T D X (Hessians): reads X's rows, even for one lane
    expected_steps: ClassVar[int | None] = None  # typical steps to tolerance (None: the budget)
    path_iterations: ClassVar[tuple[int, int] | None] = None  # (from zero, warm-started on a path)
    serializable: ClassVar[bool] = True  # its program can be kept across processes (jax.export)
    reprices: ClassVar[bool] = False  # ``reprice`` moves its state to another L2 strength (paths)
    # ``step`` returns the state of lanes not ``active`` as it was (shared counters aside), so the
    # loop keeps its result without selecting every lane's state: L-BFGS's (M, P, K) pair memory,
    # where the selects cost more than the step's own update of one slot (bench/README.md)
    leaves_inactive_lanes: ClassVar[bool] = False

    def lane_arrays(self, n_outputs: int) -> float:
        """Upper bound on the (m, outputs)-sized temporaries one lane holds at once (read off
        XLA's ``memory_analysis().temp_size_in_bytes`` on CPU; tests check it stays a bound)."""
        return 10

    def state_floats(self, n_params: int) -> int:
        """Parameter-sized floats of solver state one lane holds."""
        return 40 * n_params

    def step_cost(self, n_rows: int, n_params: int) -> float:
        """Multiply-adds of one lane's step (the two products of a gradient)."""
        return 4.0 * n_rows * n_params

    def init(self, theta: jax.Array, problem) -> Any:
        raise NotImplementedError

    def known_info(self, theta: jax.Array, state) -> StepInfo | None:
        """The objective ``F`` and the optimality residual at ``theta`` when ``state`` already
        holds them (no evaluation), else None. With them the loop stops lanes at tolerance before
        their step does any work, and its summary evaluates nothing."""
        return None

    def step(self, theta: jax.Array, state, problem, active: jax.Array):
        raise NotImplementedError

    def reprice(self, state, theta: jax.Array, delta: jax.Array):
        """``state`` (made at ``theta`` for the objective ``f``) for ``f + 0.5 sum_p delta_p
        theta_p^2`` in every lane (``delta`` (P, K): the change of the L2 term's weights), with
        no evaluation: what the next point of a regularization path starts from (``reprices``
        solvers only)."""
        raise NotImplementedError


# ----------------------------------------------------------------------------- per-lane vectors


def lane_dot(a: jax.Array, b: jax.Array) -> jax.Array:
    """Per-lane inner products of (P, K) matrices: (K,)."""
    if a.shape[-1] == 1:  # one lane: XLA:CPU's dot of two vectors is ~2x its column reduction
        return jnp.einsum("pk,pk->k", a, b)
    return jnp.sum(a * b, axis=0)


def repriced(value: jax.Array, grad: jax.Array, theta: jax.Array, delta: jax.Array):
    """f (K,) and its gradient (P, K) at ``theta`` after the L2 term's weights change by
    ``delta`` (P, K): ``f + 0.5 sum_p delta_p theta_p^2`` and ``grad + delta theta``, exactly."""
    step = delta * theta
    return value + 0.5 * lane_dot(step, theta), grad + step


def lane_max_abs(a: jax.Array) -> jax.Array:
    return jnp.max(jnp.abs(a), axis=0)


def soft_threshold(theta: jax.Array, threshold: jax.Array, weight: jax.Array) -> jax.Array:
    """Prox of ``threshold * sum_j weight_j |theta_j|``: ``sign(w) max(|w| - t weight, 0)``;
    ``weight`` (P,) is each row's share of the penalty (1 for coefficients, 0 for an unpenalized
    intercept, whose rows are untouched)."""
    shrunk = jnp.sign(theta) * jnp.maximum(jnp.abs(theta) - threshold * weight[:, None], 0.0)
    return jnp.where(weight[:, None] > 0, shrunk, theta)


def l1_norm(theta: jax.Array, weight: jax.Array) -> jax.Array:
    """``sum_j weight_j |theta_j|`` per lane."""
    return jnp.sum(jnp.abs(theta) * weight[:, None], axis=0)


def optimality_residual(theta: jax.Array, grad: jax.Array, l1: jax.Array, weight: jax.Array) -> jax.Array:
    """``max |p - prox_{l1}(p - grad f(p))|`` per lane: zero exactly at a minimiser of ``F``.

    Without L1 this is ``max |grad f(p)|`` (computed as such, to avoid rounding).
    """
    step = theta - soft_threshold(theta - grad, l1, weight)
    return lane_max_abs(jnp.where(l1 > 0, step, grad))


def select(cond, a, b):
    """``a`` where the lane's ``cond`` (K,) holds, else ``b``, for every leaf (lanes last)."""
    return jax.tree_util.tree_map(lambda x, y: jnp.where(cond, x, y), a, b)


# ----------------------------------------------------------------------------- line search


def _cubic_backtrack(t, f0, slope, ft, dt):
    """The next trial after ``t`` failed Armijo: the minimiser of the cubic through
    ``(0, f0, slope)`` and ``(t, ft, dt)`` (Nocedal & Wright eq. 3.59), kept when it lies in
    ``[0.1 t, 0.9 t]``, else ``t / 2`` (also when the values are not finite)."""
    z = 3.0 * (f0 - ft) / t + slope + dt
    disc = z * z - slope * dt
    w = jnp.sqrt(jnp.where(disc > 0, disc, 0.0))
    denom = dt - slope + 2.0 * w
    trial = t - t * (dt + w - z) / jnp.where(denom != 0, denom, 1.0)
    usable = (disc > 0) & (denom != 0) & (trial >= 0.1 * t) & (trial <= 0.9 * t)
    return jnp.where(usable, trial, t / 2)


class _Bracket(NamedTuple):
    """Moré-Thuente's search state per lane (scipy's ``dcsrch``): the best step ``stx`` and the
    interval's other end ``sty`` with f and its slope at both, whether a minimiser is bracketed,
    the stage (1 until a trial has ``f <= f0 + ftol t g0`` and a non-negative slope), the interval
    widths of the last two rounds and the bounds for the next trial."""

    stx: jax.Array
    fx: jax.Array
    gx: jax.Array
    sty: jax.Array
    fy: jax.Array
    gy: jax.Array
    bracketed: jax.Array
    stage1: jax.Array
    width: jax.Array
    width1: jax.Array
    stmin: jax.Array
    stmax: jax.Array


WOLFE_FTOL, WOLFE_GTOL, WOLFE_XTOL, WOLFE_STPMAX = 1e-3, 0.9, 0.1, 1e10  # L-BFGS-B's line search


def _bracket_start(t, value, slope) -> _Bracket:
    zero = jnp.zeros_like(t)
    return _Bracket(zero, value, slope, zero, value, slope, jnp.zeros(t.shape, bool), jnp.ones(t.shape, bool),
                    jnp.full_like(t, WOLFE_STPMAX), jnp.full_like(t, 2 * WOLFE_STPMAX), zero, 5.0 * t)


def _safe_cubic(a, fa, da, b, fb, db):
    """``theta`` and ``gamma`` of Moré-Thuente's ``dcstep`` for the cubic through ``(a, fa, da)``
    and ``(b, fb, db)``: the pieces its minimiser is formed from (scaled against overflow; a
    negative radicand counts as 0, which only the ``abs(dp) < abs(dx)`` case meets)."""
    theta = 3.0 * (fa - fb) / (b - a) + da + db
    scale = jnp.maximum(jnp.maximum(jnp.abs(theta), jnp.abs(da)), jnp.abs(db))
    scale = jnp.where(scale > 0, scale, 1.0)
    gamma = scale * jnp.sqrt(jnp.maximum((theta / scale) ** 2 - (da / scale) * (db / scale), 0.0))
    return theta, gamma


def _dcstep(stx, fx, dx, sty, fy, dy, stp, fp, dp, bracketed, stpmin, stpmax):
    """Moré & Thuente's safeguarded step (MINPACK-2 ``dcstep``, as scipy's ``_dcsrch``), for every
    lane: the next trial and the updated interval ``(stx, sty)`` from the trial ``(stp, fp, dp)``.
    Four cases: a higher f (a minimiser lies between, cubic or quadratic), slopes of opposite
    signs (bracketed, the step nearer the secant), a slope falling in magnitude (extrapolate,
    safeguarded), a slope not falling (the cubic through ``sty`` once bracketed, else a bound)."""
    sgnd = jnp.sign(dp) * jnp.sign(dx)
    ratio = lambda p, q: p / jnp.where(q != 0, q, 1.0)  # noqa: E731
    # case 1: fp > fx
    theta, gamma = _safe_cubic(stx, fx, dx, stp, fp, dp)
    gamma1 = jnp.where(stp < stx, -gamma, gamma)
    stpc1 = stx + ratio((gamma1 - dx) + theta, ((gamma1 - dx) + gamma1) + dp) * (stp - stx)
    stpq1 = stx + (ratio(dx, (fx - fp) / (stp - stx) + dx) / 2.0) * (stp - stx)
    f1 = jnp.where(jnp.abs(stpc1 - stx) <= jnp.abs(stpq1 - stx), stpc1, stpc1 + (stpq1 - stpc1) / 2.0)
    # case 2: slopes of opposite signs
    gamma2 = jnp.where(stp > stx, -gamma, gamma)
    stpc2 = stp + ratio((gamma2 - dp) + theta, ((gamma2 - dp) + gamma2) + dx) * (stx - stp)
    stpq2 = stp + ratio(dp, dp - dx) * (stx - stp)
    f2 = jnp.where(jnp.abs(stpc2 - stp) > jnp.abs(stpq2 - stp), stpc2, stpq2)
    # case 3: |dp| < |dx|
    r3 = ratio((gamma2 - dp) + theta, (gamma2 + (dx - dp)) + gamma2)
    stpc3 = jnp.where((r3 < 0) & (gamma2 != 0), stp + r3 * (stx - stp), jnp.where(stp > stx, stpmax, stpmin))
    nearer = jnp.where(jnp.abs(stpc3 - stp) < jnp.abs(stpq2 - stp), stpc3, stpq2)
    capped = jnp.where(stp > stx, jnp.minimum(stp + 0.66 * (sty - stp), nearer),
                       jnp.maximum(stp + 0.66 * (sty - stp), nearer))
    farther = jnp.clip(jnp.where(jnp.abs(stpc3 - stp) > jnp.abs(stpq2 - stp), stpc3, stpq2), stpmin, stpmax)
    f3 = jnp.where(bracketed, capped, farther)
    # case 4: |dp| >= |dx|
    theta4, gamma4 = _safe_cubic(stp, fp, dp, sty, fy, dy)
    gamma4 = jnp.where(stp > sty, -gamma4, gamma4)
    stpc4 = stp + ratio((gamma4 - dp) + theta4, ((gamma4 - dp) + gamma4) + dy) * (sty - stp)
    f4 = jnp.where(bracketed, stpc4, jnp.where(stp > stx, stpmax, stpmin))

    higher, opposite, falling = fp > fx, sgnd < 0, jnp.abs(dp) < jnp.abs(dx)
    stpf = jnp.where(higher, f1, jnp.where(opposite, f2, jnp.where(falling, f3, f4)))
    bracketed = bracketed | higher | (~higher & opposite)
    y_is_trial, y_is_x = higher, ~higher & opposite
    new_sty = jnp.where(y_is_trial, stp, jnp.where(y_is_x, stx, sty))
    new_fy = jnp.where(y_is_trial, fp, jnp.where(y_is_x, fx, fy))
    new_dy = jnp.where(y_is_trial, dp, jnp.where(y_is_x, dx, dy))
    moved = ~higher  # the trial is the new best step
    return (jnp.where(moved, stp, stx), jnp.where(moved, fp, fx), jnp.where(moved, dp, dx),
            new_sty, new_fy, new_dy, stpf, bracketed, moved)


def _wolfe_round(b: _Bracket, t, f, g, value, slope):
    """One round of Moré-Thuente's search (scipy's ``dcsrch``, ``ftol`` 1e-3, ``gtol`` 0.9,
    ``xtol`` 0.1) for every lane at the trial ``(t, f, g)``: whether the trial satisfies the strong
    Wolfe conditions, whether the search must stop at its best step ``stx`` instead (rounding,
    the interval too narrow), the updated state, and the next trial."""
    gtest = WOLFE_FTOL * slope
    ftest = value + t * gtest
    stage1 = b.stage1 & ~((f <= ftest) & (g >= 0))
    converged = (f <= ftest) & (jnp.abs(g) <= WOLFE_GTOL * -slope)
    stuck = (b.bracketed & ((t <= b.stmin) | (t >= b.stmax) | (b.stmax - b.stmin <= WOLFE_XTOL * b.stmax))) | \
        ((t >= WOLFE_STPMAX) & (f <= ftest) & (g <= gtest)) | ((t <= 0) & ((f > ftest) | (g >= gtest))) | \
        ~jnp.isfinite(f)
    # stage 1 with f above the sufficient-decrease line but below the best: the modified function
    modified = stage1 & (f <= b.fx) & (f > ftest)
    shift = jnp.where(modified, gtest, 0.0)
    stx, fx, gx, sty, fy, gy, t_next, bracketed, moved = _dcstep(
        b.stx, b.fx - b.stx * shift, b.gx - shift, b.sty, b.fy - b.sty * shift, b.gy - shift,
        t, f - t * shift, g - shift, b.bracketed, b.stmin, b.stmax)
    fx, fy, gx, gy = fx + stx * shift, fy + sty * shift, gx + shift, gy + shift
    halve = bracketed & (jnp.abs(sty - stx) >= 0.66 * b.width1)
    t_next = jnp.where(halve, stx + 0.5 * (sty - stx), t_next)
    width1 = jnp.where(bracketed, b.width, b.width1)
    width = jnp.where(bracketed, jnp.abs(sty - stx), b.width)
    stmin = jnp.where(bracketed, jnp.minimum(stx, sty), t_next + 1.1 * (t_next - stx))
    stmax = jnp.where(bracketed, jnp.maximum(stx, sty), t_next + 4.0 * (t_next - stx))
    t_next = jnp.clip(t_next, 0.0, WOLFE_STPMAX)
    t_next = jnp.where(bracketed & ((t_next <= stmin) | (t_next >= stmax) | (stmax - stmin <= WOLFE_XTOL * stmax)),
                       stx, t_next)
    state = _Bracket(stx, fx, gx, sty, fy, gy, bracketed, stage1, width, width1, stmin, stmax)
    return converged, stuck, state, t_next, moved


def backtracking(evaluate, theta, value, slope, direction, active, t0, max_trials: int = 30,
                 c: float = 1e-4, directional=None, wolfe=None):
    """Batched line search: per lane a trial ``t`` (from ``t0``) with ``f(x + t d) <= f(x) + c t g.d``
    (Armijo); every trial of every lane in one evaluation.

    ``evaluate(theta)`` returns ``(f, extra)`` for all lanes (``extra``: e.g. the gradient, kept
    for the accepted trial, so a caller that needs it pays no extra evaluation). With
    ``directional(extra) -> g(x + t d).d`` per lane, a failed trial is followed by the minimiser
    of the cubic that matches f and its slope at 0 and at ``t`` (safeguarded to ``[0.1 t, 0.9 t]``);
    without it, by ``t / 2``. A while loop whose body evaluates the trial carried in and chooses
    the next one at its end: the objective appears once in the compiled program, and the
    evaluation reads a step size already computed. When the predicted decrease ``-g.d`` is below
    what floating point can measure in ``f`` (at the optimum), the full step is taken if ``f``
    does not rise by more than rounding: the gradient, not ``f``, can still tell the step helped.
    A lane where nothing qualifies stays (``t = 0``).

    Lanes marked in ``wolfe`` (K,) (with ``directional``) search instead as L-BFGS-B's line
    search does (Moré & Thuente, scipy's ``dcsrch``): for a step satisfying the strong Wolfe
    conditions, extrapolating when f still falls steeply and interpolating within a bracket;
    where it stops short of them, at its best step if that lowered f. L-BFGS uses it where a
    lane has no curvature pairs (its first step), whose scale nothing else tells.

    Returns ``(t, f, extra)`` at the accepted trial (``f``/``extra`` of the last trial where
    ``t = 0``; ``t = 0`` and ``f = inf`` for lanes not ``active``).
    """
    rounding = 100 * jnp.finfo(theta.dtype).eps * jnp.maximum(jnp.abs(value), 1.0)
    searches = wolfe is not None and directional is not None

    def body(carry):
        t, ft, extra, done, j, search = carry
        # t arrives finished: a test of the previous trial here would be fused into the
        # evaluation's m x outputs x lanes elementwise work and recomputed per element
        # (a third of an L-BFGS step on digits' 6-lane CV paths, bench/README.md)
        f_new, extra_new = evaluate(theta + t * direction)
        trying = ~done
        accepted = (f_new <= value + c * t * slope) | (
            (j == 0) & (-slope <= rounding) & (f_new <= value + rounding))  # unmeasurable decrease
        slope_new = None if directional is None else directional(extra_new)
        following = t / 2 if directional is None else _cubic_backtrack(t, value, slope, f_new, slope_new)
        if not searches:
            done = done | accepted
            return (jnp.where(done, t, following), jnp.where(trying, f_new, ft), select(trying, extra_new, extra),
                    done, j + 1, search)
        bracket, best_extra = search
        converged, stuck, bracket_new, t_wolfe, moved = _wolfe_round(bracket, t, f_new, slope_new, value, slope)
        best_extra = select(trying & wolfe & moved, extra_new, best_extra)  # this trial is the best step so far
        bracket = select(trying & wolfe, bracket_new, bracket)
        stopping = trying & wolfe & ~converged & (stuck | (j + 1 >= max_trials))
        use_best = stopping & (bracket.fx < value)  # else the lane stays (t = 0)
        finished = jnp.where(wolfe, converged | stopping, accepted)
        t_out = jnp.where(stopping, jnp.where(use_best, bracket.stx, 0.0),
                          jnp.where(done | finished, t, jnp.where(wolfe, t_wolfe, following)))
        f_out = jnp.where(use_best, bracket.fx, jnp.where(trying, f_new, ft))
        extra_out = select(use_best, best_extra, select(trying, extra_new, extra))
        return t_out, f_out, extra_out, done | finished, j + 1, (bracket, best_extra)

    extra0 = jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype),
                                    jax.eval_shape(lambda: evaluate(theta)[1]))
    search0 = (_bracket_start(t0, value, slope), extra0) if searches else ()
    t, ft, extra, done, _, _ = jax.lax.while_loop(
        lambda carry: jnp.any(~carry[3]) & (carry[4] < max_trials), body,
        (t0, jnp.full_like(value, jnp.inf), extra0, ~active, jnp.zeros((), jnp.int32), search0))
    return jnp.where(done & active, t, 0.0), ft, extra


__all__ = ["Solver", "StepInfo", "lane_dot", "lane_max_abs", "soft_threshold", "l1_norm", "optimality_residual",
           "select", "backtracking"]
