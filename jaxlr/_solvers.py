"""Solvers for K models at once ("lanes"), each a pure ``init``/``step`` pair as optax has them.

Parameters are one matrix ``theta`` of shape (P, K): column ``k`` is model ``k`` (its
coefficients, then its intercept). A solver minimises, for every lane at once,
``F_k(theta_k) = f_k(theta_k) + l1_k * ||coef_k||_1`` where ``f`` (``Problem``) is the
weighted mean log-loss plus the L2 term. Its heavy work is the problem's: one evaluation is one
matrix-matrix product ``X @ W`` for all lanes (and ``X^T R`` for gradients); everything a solver
adds is O(P K). Per-lane scalars (step sizes, line-search trials, Lipschitz estimates) are
vectors of length K, so lanes never wait for one another inside a step, and line searches
evaluate every lane's trial point with one batched product.

``step`` returns the next parameters and state and ``StepInfo``: the objective and the
optimality residual *at the parameters it started from*, so the loop can stop a lane before
moving it. ``active`` (K,) marks the lanes still running: inner loops (line searches,
damping) wait only for those.

- first-order: any ``optax.GradientTransformation`` (``"gd"`` is the seed's
  ``theta -= lr * grad``), applied lane by lane (``vmap``) to the lanes-native gradient;
  ``GradientTransformationExtraArgs`` (``optax.lbfgs()``) get ``value``, ``grad`` and a per-lane
  ``value_fn``, as optax's contract asks;
- ``"lbfgs"``: L-BFGS (two-loop recursion per lane) with a batched backtracking line search:
  optax's ``lbfgs`` line search is written for one model (its ``lax.cond`` under ``vmap`` runs
  both branches and copies X per lane), so the batched form lives here;
- ``"newton"``: exact Hessian ``J^T (d^2 loss / dz^2) J`` with ``J = X`` (the loss's curvature
  in the logits from ``jax.hessian``, the products from the design), Cholesky per lane, damped
  when not positive definite, batched Armijo backtracking;
- ``"fista"``: accelerated proximal gradient for L1 / elastic net, per-lane backtracking on the
  Lipschitz constant, with function-value restarts (monotone).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _data


class StepInfo(NamedTuple):
    value: jax.Array  # (K,) F at the parameters the step started from
    residual: jax.Array  # (K,) optimality residual there (see ``optimality_residual``)


class Solver(NamedTuple):
    init: Callable[[jax.Array, Any], Any]
    step: Callable[[jax.Array, Any, Any, jax.Array], tuple[jax.Array, Any, StepInfo]]


# ----------------------------------------------------------------------------- helpers


def lane_dot(a: jax.Array, b: jax.Array) -> jax.Array:
    """Per-lane inner products of (P, K) matrices: (K,)."""
    return jnp.sum(a * b, axis=0)


def lane_max_abs(a: jax.Array) -> jax.Array:
    return jnp.max(jnp.abs(a), axis=0)


def soft_threshold(theta: jax.Array, threshold: jax.Array, mask: jax.Array) -> jax.Array:
    """Prox of ``threshold * ||coef||_1`` (``mask`` (P,) marks coefficient rows; the intercept
    rows are untouched): ``sign(w) max(|w| - t, 0)``."""
    shrunk = jnp.sign(theta) * jnp.maximum(jnp.abs(theta) - threshold, 0.0)
    return jnp.where(mask[:, None], shrunk, theta)


def l1_norm(theta: jax.Array, mask: jax.Array) -> jax.Array:
    return jnp.sum(jnp.abs(theta) * mask[:, None], axis=0)


def optimality_residual(theta: jax.Array, grad: jax.Array, l1: jax.Array, mask: jax.Array) -> jax.Array:
    """``max |p - prox_{l1}(p - grad f(p))|`` per lane: zero exactly at a minimiser of ``F``.

    Without L1 this is ``max |grad f(p)|`` (computed as such, to avoid rounding).
    """
    step = theta - soft_threshold(theta - grad, l1, mask)
    return lane_max_abs(jnp.where(l1 > 0, step, grad))


def _where(cond, a, b):
    """``a`` where the lane's ``cond`` (K,) holds, else ``b``, for every leaf (lanes last)."""
    return jax.tree_util.tree_map(lambda x, y: jnp.where(cond, x, y), a, b)


# ----------------------------------------------------------------------------- first order


def _is_extra_args(tx) -> bool:
    return isinstance(tx, optax.GradientTransformationExtraArgs)


def gradient_transformation(make_tx: Callable[[jax.Array], optax.GradientTransformation]) -> Solver:
    """First-order steps: ``make_tx(learning_rate_k)`` per lane (a fixed transformation ignores it),
    updates computed lane by lane from the lanes-native gradient."""

    # optax states are stacked with the lanes axis last, like every other per-lane array
    def init(theta, problem):
        return jax.vmap(lambda p, lr: make_tx(lr).init(p), in_axes=(1, 0), out_axes=-1)(
            theta, problem.learning_rate)

    def step(theta, state, problem, active):
        value, grad = problem.value_and_grad(theta)

        def one(g, s, p, lr, v, k):
            tx = make_tx(lr)
            if _is_extra_args(tx):
                updates, s = tx.update(g, s, p, value=v, grad=g, value_fn=problem.lane_fn(k))
            else:
                updates, s = tx.update(g, s, p)
            return optax.apply_updates(p, updates), s

        lanes = jnp.arange(theta.shape[1])
        new, state = jax.vmap(one, in_axes=(1, -1, 1, 0, 0, 0), out_axes=(1, -1))(
            grad, state, theta, problem.learning_rate, value, lanes)
        return new, state, StepInfo(value, lane_max_abs(grad))

    return Solver(init, step)


# ----------------------------------------------------------------------------- line search


def backtracking(evaluate, theta, value, slope, direction, active, t0, max_halvings: int = 30,
                 c: float = 1e-4):
    """Batched Armijo backtracking: per lane the largest ``t = t0 2^-j`` with
    ``f(x + t d) <= f(x) + c t g.d``; every trial of every lane in one evaluation.

    ``evaluate(theta)`` returns ``(f, extra)`` for all lanes (``extra``: e.g. the gradient, kept
    for the accepted trial, so a caller that needs it pays no extra evaluation). A do-while loop:
    the objective appears once in the compiled program. When the predicted decrease ``-g.d`` is
    below what floating point can measure in ``f`` (at the optimum), the full step is taken if
    ``f`` does not rise by more than rounding: the gradient, not ``f``, can still tell the step
    helped. A lane where nothing qualifies stays (``t = 0``). Returns ``(t, f, extra)`` at the
    accepted trial (``f``/``extra`` of the last trial where ``t = 0``).
    """
    rounding = 100 * jnp.finfo(theta.dtype).eps * jnp.maximum(jnp.abs(value), 1.0)

    def armijo(t, ft):
        return ft <= value + c * t * slope

    def unmeasurable(f_full):
        return (-slope <= rounding) & (f_full <= value + rounding)

    def done(t, ft, f_full, j):
        return ~active | armijo(t, ft) | unmeasurable(f_full) | (j >= max_halvings)

    def body(carry):
        t, ft, f_full, extra, j = carry
        first = j == 0
        retry = first | ~done(t, ft, f_full, j)
        t = jnp.where(first, t0, jnp.where(retry, t / 2, t))
        f_new, extra_new = evaluate(theta + t * direction)
        f_full = jnp.where(first, f_new, f_full)
        return (t, jnp.where(retry, f_new, ft), f_full,
                jax.tree_util.tree_map(lambda a, b: jnp.where(retry, a, b), extra_new, extra), j + 1)

    extra0 = jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype),
                                    jax.eval_shape(lambda: evaluate(theta)[1]))
    inf = jnp.full_like(value, jnp.inf)
    t, ft, f_full, extra, _ = jax.lax.while_loop(
        lambda carry: (carry[4] == 0) | jnp.any(~done(*carry[:3], carry[4])), body,
        (t0, inf, inf, extra0, jnp.zeros((), jnp.int32)))
    ok = armijo(t, ft) | unmeasurable(f_full)
    return jnp.where(ok, t, 0.0), ft, extra


# ----------------------------------------------------------------------------- L-BFGS


class LbfgsState(NamedTuple):
    s: jax.Array  # (M, P, K) parameter differences, ring buffer (slot = pairs offered % M)
    y: jax.Array  # (M, P, K) gradient differences
    rho: jax.Array  # (M, K) 1 / s.y; 0 marks an empty slot or a pair the lane skipped
    offered: jax.Array  # () pairs offered so far (the same slot for every lane)
    gamma: jax.Array  # (K,) initial Hessian scale s.y / y.y of the newest kept pair (1: none yet)
    value: jax.Array  # (K,) f at the current parameters
    grad: jax.Array  # (P, K) its gradient


def _two_loop(grad, state: LbfgsState, memory: int):
    """``-H g`` per lane by the two-loop recursion (newest pair first), scaled by ``gamma``; a
    lane with no pairs yet gets ``-g / max(1, ||g||)``. Skipped pairs have ``rho = 0`` and
    contribute nothing, so every lane walks the same slots."""
    newest = state.offered - 1

    def pair(i):
        slot = (newest - i) % memory
        return state.s[slot], state.y[slot], state.rho[slot]

    def first(i, carry):
        q, alphas = carry
        s, y, rho = pair(i)
        alpha = rho * lane_dot(s, q)
        return q - alpha * y, alphas.at[i].set(alpha)

    q, alphas = jax.lax.fori_loop(0, memory, first, (grad, jnp.zeros((memory,) + grad.shape[1:], grad.dtype)))
    r = state.gamma * q

    def second(i, r):
        j = memory - 1 - i
        s, y, rho = pair(j)
        return r + s * (alphas[j] - rho * lane_dot(y, r))

    r = jax.lax.fori_loop(0, memory, second, r)
    has_pairs = jnp.any(state.rho != 0, axis=0)
    return jnp.where(has_pairs, -r, -grad / jnp.maximum(1.0, jnp.sqrt(lane_dot(grad, grad))))


def lbfgs(memory: int = 10) -> Solver:
    """L-BFGS for all lanes: two-loop recursion, batched Armijo backtracking from ``t = 1``;
    pairs with ``s.y <= 0`` are skipped. One evaluation with gradient per step when the full step
    is accepted (the usual case); the line search keeps the accepted trial's gradient, so the
    objective appears once in the step's program."""

    def init(theta, problem):
        P, K = theta.shape
        zeros = jnp.zeros((memory, P, K), theta.dtype)
        value, grad = problem.value_and_grad(theta)
        return LbfgsState(zeros, zeros, jnp.zeros((memory, K), theta.dtype), jnp.zeros((), jnp.int32),
                          jnp.ones((K,), theta.dtype), value, grad)

    def step(theta, state, problem, active):
        value, grad = state.value, state.grad
        direction = _two_loop(grad, state, memory)
        slope = lane_dot(grad, direction)
        bad = ~(slope < 0)  # not a descent direction (rounding): fall back to steepest descent
        direction = jnp.where(bad, -grad, direction)
        slope = jnp.where(bad, -lane_dot(grad, grad), slope)
        t, f_new, g_new = backtracking(problem.value_and_grad, theta, value, slope, direction, active,
                                       jnp.ones_like(value))
        moved = t > 0
        s = t * direction
        yv = g_new - grad
        sy = lane_dot(s, yv)
        keep = moved & (sy > jnp.finfo(theta.dtype).eps * jnp.sqrt(lane_dot(s, s) * lane_dot(yv, yv)))
        slot = state.offered % memory
        yy = lane_dot(yv, yv)
        new_state = LbfgsState(
            s=state.s.at[slot].set(jnp.where(keep, s, 0.0)),
            y=state.y.at[slot].set(jnp.where(keep, yv, 0.0)),
            rho=state.rho.at[slot].set(jnp.where(keep, 1.0 / jnp.where(keep, sy, 1.0), 0.0)),
            offered=state.offered + 1,
            gamma=jnp.where(keep & (yy > 0), sy / jnp.where(yy > 0, yy, 1.0), state.gamma),
            value=jnp.where(moved, f_new, value),
            grad=jnp.where(moved, g_new, grad),
        )
        return theta + s, new_state, StepInfo(value, lane_max_abs(grad))

    return Solver(init, step)


# ----------------------------------------------------------------------------- Newton


def damped_newton_direction(hessian: jax.Array, grad: jax.Array, active: jax.Array, max_tries: int = 8):
    """Per lane, solve ``(H + lam I) d = -g`` by Cholesky with the smallest ``lam`` in
    ``0, 1e-10 s, 1e-8 s, ...`` (``s`` the largest curvature) that makes it positive definite.

    ``hessian`` (K, P, P), ``grad`` (P, K). Coordinates with no curvature at all (the intercept
    when it is not fitted, padding columns) get a unit diagonal so they do not move. A lane where
    nothing works falls back to ``-g``.
    """
    diag = jnp.diagonal(hessian, axis1=1, axis2=2)  # (K, P)
    eye = jnp.eye(hessian.shape[-1], dtype=hessian.dtype)
    hessian = hessian + jnp.where(diag <= 0, 1.0, 0.0)[:, :, None] * eye
    scale = jnp.maximum(jnp.max(jnp.abs(diag), axis=1), 1.0)
    g = grad.T  # (K, P)

    def solve(lam):
        chol = jnp.linalg.cholesky(hessian + lam[:, None, None] * eye)
        return jax.vmap(lambda c, b: jax.scipy.linalg.cho_solve((c, True), -b))(chol, g)

    def failed(d):
        return ~jnp.all(jnp.isfinite(d), axis=1)

    def body(carry):
        lam, d, k = carry
        retry = failed(d)
        lam = jnp.where(retry, jnp.where(lam == 0, 1e-10 * scale, lam * 100.0), lam)
        return lam, jnp.where(retry[:, None], solve(lam), d), k + 1

    zero = jnp.zeros_like(scale)
    _, direction, _ = jax.lax.while_loop(lambda c: jnp.any(active & failed(c[1])) & (c[2] < max_tries),
                                         body, (zero, solve(zero), 0))
    usable = ~failed(direction) & (jnp.sum(g * direction, axis=1) < 0)
    return jnp.where(usable[:, None], direction, -g).T


def newton() -> Solver:
    """Damped Newton for all lanes: exact Hessian, Cholesky, batched Armijo backtracking."""

    def init(theta, problem):
        return jnp.zeros((theta.shape[1],), jnp.int32)  # stateless

    def step(theta, state, problem, active):
        value, grad, hessian = problem.value_grad_hessian(theta)
        direction = damped_newton_direction(hessian, grad, active)
        t, _, _ = backtracking(lambda th: (problem.value(th), ()), theta, value, lane_dot(grad, direction),
                               direction, active, jnp.ones_like(value))
        return theta + t * direction, state, StepInfo(value, lane_max_abs(grad))

    return Solver(init, step)


# ----------------------------------------------------------------------------- FISTA


class FistaState(NamedTuple):
    extrapolated: jax.Array  # (P, K) the point y_k the next gradient step starts from
    momentum: jax.Array  # (K,) t_k
    lipschitz: jax.Array  # (K,) current estimate L of the Lipschitz constant of grad f


def fista(max_backtracks: int = 40) -> Solver:
    """Accelerated proximal gradient (Beck & Teboulle) for ``f + l1 ||coef||_1``, per lane.

    ``x+ = prox_{l1/L}(y - grad f(y) / L)`` with ``L`` doubled until the quadratic upper bound
    holds; momentum ``y = x+ + (t-1)/t+ (x+ - x)``; a step that would raise ``F`` is rejected and
    the momentum restarted, so ``F`` never increases.
    """

    def init(theta, problem):
        ones = jnp.ones((theta.shape[1],), theta.dtype)
        return FistaState(theta, ones, ones)

    def step(theta, state, problem, active):
        l1, mask = problem.l1, problem.l1_mask
        f_x, grad_x = problem.value_and_grad(theta)
        value = f_x + l1 * l1_norm(theta, mask)
        residual = optimality_residual(theta, grad_x, l1, mask)

        y = state.extrapolated
        f_y, grad_y = problem.value_and_grad(y)
        slack = 10 * jnp.finfo(f_y.dtype).eps * jnp.abs(f_y)

        def bound_holds(lipschitz, x_new, f_new):
            diff = x_new - y
            bound = f_y + lane_dot(grad_y, diff) + 0.5 * lipschitz * lane_dot(diff, diff)
            return f_new <= bound + slack

        def body(carry):  # a do-while loop: the objective appears once in the program
            lipschitz, x_new, f_new, k = carry
            retry = (k == 0) | (active & ~bound_holds(lipschitz, x_new, f_new))
            lipschitz = jnp.where(k == 0, lipschitz, jnp.where(retry, 2 * lipschitz, lipschitz))
            x_try = soft_threshold(y - grad_y / lipschitz, l1 / lipschitz, mask)
            f_try = problem.value(x_try)
            return lipschitz, jnp.where(retry, x_try, x_new), jnp.where(retry, f_try, f_new), k + 1

        start = 0.9 * state.lipschitz  # let the estimate shrink again over time
        lipschitz, x_new, f_new, _ = jax.lax.while_loop(
            lambda c: (c[3] == 0) | (jnp.any(active & ~bound_holds(c[0], c[1], c[2])) & (c[3] <= max_backtracks)),
            body, (start, y, jnp.full_like(f_y, jnp.inf), 0))
        value_new = f_new + l1 * l1_norm(x_new, mask)
        # an increase within rounding is none: sparse X sums in another order in value_and_grad
        # and value, and rejecting such a step re-runs the same step forever (a stall at ~1e-9)
        restart = ~(value_new <= value + 10 * jnp.finfo(value.dtype).eps * jnp.abs(value))
        t_new = 0.5 * (1 + jnp.sqrt(1 + 4 * state.momentum**2))
        beta = (state.momentum - 1) / t_new
        y_new = x_new + beta * (x_new - theta)
        next_theta = jnp.where(restart, theta, x_new)
        next_state = FistaState(jnp.where(restart, theta, y_new), jnp.where(restart, 1.0, t_new), lipschitz)
        return next_theta, next_state, StepInfo(value, residual)

    return Solver(init, step)


# ----------------------------------------------------------------------------- names

FIRST_ORDER: dict[str, Callable[[Any], optax.GradientTransformation]] = {
    "gd": optax.sgd,
    "momentum": lambda lr: optax.sgd(lr, momentum=0.9),
    "nesterov": lambda lr: optax.sgd(lr, momentum=0.9, nesterov=True),
    "adam": optax.adam,
    "adamw": lambda lr: optax.adamw(lr, weight_decay=0.0),
    "adagrad": optax.adagrad,
    "rmsprop": optax.rmsprop,
}
SECOND_ORDER: dict[str, Callable[[], Solver]] = {"lbfgs": lbfgs, "newton": newton, "fista": fista}
L1_SOLVERS = ("fista",)
SOLVER_NAMES = ("auto", *FIRST_ORDER, *SECOND_ORDER)
NEWTON_MAX_PARAMS = 200  # above this many parameters "auto" prefers lbfgs to an exact Hessian
# Newton's step costs ~ m p^2 per model (the Hessian), L-BFGS's ~ 4 m p, and Newton needs ~5x fewer
# steps: "auto" takes Newton while the Hessian is cheap next to the per-step overheads, i.e. while
# m * p^2 * models stays under this many multiply-adds per step (bench/README.md)
NEWTON_MAX_WORK = 2**25


def uses_learning_rate(spec) -> bool:
    return not (isinstance(spec, str) and spec in SECOND_ORDER) and not isinstance(
        spec, optax.GradientTransformation
    )


def resolve_solver(spec, *, uses_l1: bool, minibatch: bool, n_params: int, learning_rate_grid: bool = False,
                   n_samples: int = 0, n_models: int = 1):
    """Check a solver name / transformation on the host and resolve ``"auto"``.

    ``"auto"``: ``"fista"`` with L1, ``"gd"`` with minibatches or a grid of learning rates (the
    only thing a learning rate changes is a first-order solver), else ``"newton"`` up to
    ``NEWTON_MAX_PARAMS`` parameters while its Hessians are cheap (``NEWTON_MAX_WORK``), and
    ``"lbfgs"`` otherwise.
    """
    if isinstance(spec, optax.GradientTransformation) or (callable(spec) and not isinstance(spec, str)):
        if uses_l1:
            raise _data.ArgumentValueError("solver", "is an optax transformation, which cannot handle l1 > 0; use solver='fista'")
        return spec
    if not isinstance(spec, str):
        raise _data.ArgumentTypeError("solver", f"must be a name or an optax.GradientTransformation, got {spec!r}")
    if spec not in SOLVER_NAMES:
        raise _data.ArgumentValueError("solver", f"must be one of {', '.join(SOLVER_NAMES)}, got {spec!r}")
    if spec == "auto":
        if uses_l1:
            return "fista"
        if minibatch or learning_rate_grid:
            return "gd"
        cheap = n_samples * n_params * n_params * n_models <= NEWTON_MAX_WORK
        return "newton" if n_params <= NEWTON_MAX_PARAMS and cheap else "lbfgs"
    if uses_l1 and spec not in L1_SOLVERS:
        raise _data.ArgumentValueError(
            "solver", f"{spec!r} cannot handle an L1 penalty (l1 > 0); use solver='fista' or 'auto'")
    if minibatch and spec in SECOND_ORDER:
        raise _data.ArgumentValueError("solver", f"{spec!r} needs full batches; batch_size works with first-order solvers")
    return spec


def make_solver(spec) -> Solver:
    """The solver for a resolved ``spec`` (a name, a transformation or a factory
    ``learning_rate -> transformation``); learning rates come per lane from the problem."""
    if isinstance(spec, optax.GradientTransformation):
        return gradient_transformation(lambda lr: spec)
    if isinstance(spec, str) and spec in SECOND_ORDER:
        return SECOND_ORDER[spec]()
    return gradient_transformation(FIRST_ORDER[spec] if isinstance(spec, str) else spec)
