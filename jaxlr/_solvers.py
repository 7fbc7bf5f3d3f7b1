"""Solvers: each is a pure ``init``/``step`` pair, as optax does it.

A solver minimises ``F(p) = f(p) + l1 * ||coef||_1`` where ``f`` (``Problem.smooth``) is the
weighted mean log-loss plus the L2 term. ``step`` takes the current parameters and solver
state and returns the next ones together with ``StepInfo``: the objective and the optimality
residual *at the parameters it started from*, so the training loop can stop a model before
moving it. Tunable values (learning rate, l1, l2) are traced arrays; the algorithm is static.

- first-order: any ``optax.GradientTransformation`` (``"gd"`` is the seed's ``theta -= lr * grad``);
- ``"lbfgs"``: ``optax.lbfgs`` with its zoom line search;
- ``"newton"``: exact Hessian from ``jax.hessian``, Cholesky solve, damped when not positive
  definite, Armijo backtracking;
- ``"fista"``: accelerated proximal gradient for L1 / elastic net, backtracking on the
  Lipschitz constant, with function-value restarts (monotone).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from ._model import Params


class Problem(NamedTuple):
    """What a solver sees: the smooth part ``f`` and the L1 weight (a traced scalar)."""

    smooth: Callable[[Params], jax.Array]
    l1: jax.Array


class StepInfo(NamedTuple):
    value: jax.Array  # F at the parameters the step started from
    residual: jax.Array  # optimality residual there (see ``optimality_residual``)


class Solver(NamedTuple):
    init: Callable[[Params, Problem], Any]
    step: Callable[[Params, Any, Problem], tuple[Params, Any, StepInfo]]


# ----------------------------------------------------------------------------- helpers


def max_abs(tree) -> jax.Array:
    """Largest absolute entry over all leaves."""
    return jnp.max(jnp.stack([jnp.max(jnp.abs(x)) for x in jax.tree_util.tree_leaves(tree)]))


def tree_vdot(a, b) -> jax.Array:
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def tree_where(cond, a, b):
    """``a`` where ``cond`` else ``b``, leaf by leaf (``cond`` a scalar)."""
    return jax.tree_util.tree_map(lambda x, y: jnp.where(cond, x, y), a, b)


def soft_threshold(params: Params, threshold) -> Params:
    """Prox of ``threshold * ||coef||_1``: ``sign(w) max(|w| - t, 0)``; intercept untouched."""
    coef = jnp.sign(params.coef) * jnp.maximum(jnp.abs(params.coef) - threshold, 0.0)
    return Params(coef, params.intercept)


def l1_norm(params: Params) -> jax.Array:
    return jnp.sum(jnp.abs(params.coef))


def optimality_residual(params: Params, grad: Params, l1) -> jax.Array:
    """``max |p - prox_{l1}(p - grad f(p))|``: zero exactly at a minimiser of ``F``.

    Without L1 this is ``max |grad f(p)|`` (computed as such, to avoid rounding).
    """
    coef_step = params.coef - soft_threshold(Params(params.coef - grad.coef, params.intercept), l1).coef
    coef_res = jnp.where(l1 > 0, coef_step, grad.coef)
    return jnp.maximum(jnp.max(jnp.abs(coef_res)), jnp.max(jnp.abs(grad.intercept)))


# ----------------------------------------------------------------------------- solvers


def gradient_transformation(tx: optax.GradientTransformation) -> Solver:
    """Plain first-order steps with an optax transformation (smooth problems only)."""

    def init(params, problem):
        return tx.init(params)

    def step(params, state, problem):
        value, grad = jax.value_and_grad(problem.smooth)(params)
        updates, state = tx.update(grad, state, params)
        return optax.apply_updates(params, updates), state, StepInfo(value, max_abs(grad))

    return Solver(init, step)


def lbfgs(memory_size: int = 10) -> Solver:
    """optax's L-BFGS with its zoom line search; one function evaluation saved per step
    through ``optax.value_and_grad_from_state``."""
    tx = optax.lbfgs(memory_size=memory_size)

    def init(params, problem):
        return tx.init(params)

    def step(params, state, problem):
        value, grad = optax.value_and_grad_from_state(problem.smooth)(params, state=state)
        updates, state = tx.update(
            grad, state, params, value=value, grad=grad, value_fn=problem.smooth
        )
        return optax.apply_updates(params, updates), state, StepInfo(value, max_abs(grad))

    return Solver(init, step)


def _damped_newton_direction(hessian: jax.Array, grad: jax.Array, max_tries: int = 8) -> jax.Array:
    """Solve ``(H + lam I) d = -g`` by Cholesky with the smallest ``lam`` in
    ``0, 1e-10 s, 1e-8 s, ...`` (``s`` the largest curvature) that makes it positive definite.

    Coordinates with no curvature at all (e.g. the intercept when it is not fitted) get a
    unit diagonal so they simply do not move. Falls back to ``-g`` if nothing works.
    """
    diag = jnp.diag(hessian)
    hessian = hessian + jnp.diag(jnp.where(diag <= 0, 1.0, 0.0).astype(hessian.dtype))
    scale = jnp.maximum(jnp.max(jnp.abs(diag)), 1.0)
    eye = jnp.eye(hessian.shape[0], dtype=hessian.dtype)

    def solve(lam):
        chol = jnp.linalg.cholesky(hessian + lam * eye)
        return jax.scipy.linalg.cho_solve((chol, True), -grad)

    def failed(d):
        return ~jnp.all(jnp.isfinite(d))

    def body(carry):
        lam, _, k = carry
        lam = jnp.where(lam == 0, 1e-10 * scale, lam * 100.0)
        return lam, solve(lam), k + 1

    zero = jnp.zeros((), hessian.dtype)
    _, direction, _ = jax.lax.while_loop(
        lambda c: failed(c[1]) & (c[2] < max_tries), body, (zero, solve(zero), 0)
    )
    usable = ~failed(direction) & (jnp.vdot(grad, direction) < 0)
    return jnp.where(usable, direction, -grad)


def _backtracking(fun, x, fx, grad, direction, max_halvings: int = 30, c: float = 1e-4):
    """Armijo backtracking: the largest ``t = 2^-k`` with ``f(x + t d) <= f(x) + c t g.d``.

    When the predicted decrease ``-g.d`` is below what floating point can measure in ``f``
    (at the optimum), take the full step if ``f`` does not rise by more than rounding: the
    gradient, not ``f``, can still tell the step helped. If nothing qualifies, stay (``t = 0``).
    """
    slope = jnp.vdot(grad, direction)

    def armijo(t, ft):
        return ft <= fx + c * t * slope

    def body(carry):
        t, _, k = carry
        t = t / 2
        return t, fun(x + t * direction), k + 1

    one = jnp.ones((), x.dtype)
    f_full = fun(x + direction)
    t, ft, _ = jax.lax.while_loop(
        lambda c_: ~armijo(c_[0], c_[1]) & (c_[2] < max_halvings), body, (one, f_full, 0)
    )
    rounding = 100 * jnp.finfo(x.dtype).eps * jnp.maximum(jnp.abs(fx), 1.0)
    unmeasurable = (-slope <= rounding) & (f_full <= fx + rounding)
    # checked first: below rounding, "Armijo holds" only means f(x + t d) rounds to f(x), which
    # a tiny t always achieves, and the model would crawl
    return jnp.where(unmeasurable, one, jnp.where(armijo(t, ft), t, 0.0 * one))


def newton() -> Solver:
    """Damped Newton: exact Hessian of ``f`` by autodiff, Cholesky, Armijo backtracking."""

    def init(params, problem):
        return jnp.zeros((), jnp.int32)  # stateless

    def step(params, state, problem):
        flat, unravel = ravel_pytree(params)

        def fun(v):
            return problem.smooth(unravel(v))

        value, grad = jax.value_and_grad(fun)(flat)
        direction = _damped_newton_direction(jax.hessian(fun)(flat), grad)
        t = _backtracking(fun, flat, value, grad, direction)
        return unravel(flat + t * direction), state, StepInfo(value, max_abs(grad))

    return Solver(init, step)


class FistaState(NamedTuple):
    extrapolated: Params  # the point y_k the next gradient step starts from
    momentum: jax.Array  # t_k
    lipschitz: jax.Array  # current estimate L of the Lipschitz constant of grad f


def fista(max_backtracks: int = 40) -> Solver:
    """Accelerated proximal gradient (Beck & Teboulle) for ``f + l1 ||coef||_1``.

    ``x+ = prox_{l1/L}(y - grad f(y) / L)`` with ``L`` doubled until the quadratic upper
    bound holds; momentum ``y = x+ + (t-1)/t+ (x+ - x)``; a step that would raise ``F`` is
    rejected and the momentum restarted, so ``F`` never increases.
    """

    def init(params, problem):
        one = jnp.ones((), params.coef.dtype)
        return FistaState(params, one, one)

    def step(params, state, problem):
        smooth, l1 = problem.smooth, problem.l1
        f_x, grad_x = jax.value_and_grad(smooth)(params)
        value = f_x + l1 * l1_norm(params)
        residual = optimality_residual(params, grad_x, l1)

        y = state.extrapolated
        f_y, grad_y = jax.value_and_grad(smooth)(y)
        slack = 10 * jnp.finfo(f_y.dtype).eps * jnp.abs(f_y)

        def candidate(lipschitz):
            moved = jax.tree_util.tree_map(lambda p, g: p - g / lipschitz, y, grad_y)
            x_new = soft_threshold(moved, l1 / lipschitz)
            return x_new, smooth(x_new)

        def upper_bound_holds(lipschitz, x_new, f_new):
            diff = jax.tree_util.tree_map(jnp.subtract, x_new, y)
            bound = f_y + tree_vdot(grad_y, diff) + 0.5 * lipschitz * tree_vdot(diff, diff)
            return f_new <= bound + slack

        def body(carry):
            lipschitz, _, _, k = carry
            lipschitz = 2 * lipschitz
            return (lipschitz, *candidate(lipschitz), k + 1)

        start = 0.9 * state.lipschitz  # let the estimate shrink again over time
        lipschitz, x_new, f_new, _ = jax.lax.while_loop(
            lambda c: ~upper_bound_holds(c[0], c[1], c[2]) & (c[3] < max_backtracks),
            body,
            (start, *candidate(start), 0),
        )
        value_new = f_new + l1 * l1_norm(x_new)
        restart = ~(value_new <= value)
        t_new = 0.5 * (1 + jnp.sqrt(1 + 4 * state.momentum**2))
        beta = (state.momentum - 1) / t_new
        y_new = jax.tree_util.tree_map(lambda a, b: a + beta * (a - b), x_new, params)
        next_params = tree_where(restart, params, x_new)
        next_state = FistaState(
            tree_where(restart, params, y_new),
            jnp.where(restart, jnp.ones_like(t_new), t_new),
            lipschitz,
        )
        return next_params, next_state, StepInfo(value, residual)

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


def uses_learning_rate(spec) -> bool:
    return not (isinstance(spec, str) and spec in SECOND_ORDER) and not isinstance(
        spec, optax.GradientTransformation
    )


def resolve_solver(spec, *, uses_l1: bool, minibatch: bool, n_params: int):
    """Check a solver name / transformation on the host and resolve ``"auto"``.

    ``"auto"``: ``"fista"`` with L1, ``"gd"`` with minibatches, else ``"newton"`` up to
    ``NEWTON_MAX_PARAMS`` parameters and ``"lbfgs"`` above.
    """
    if isinstance(spec, optax.GradientTransformation) or (callable(spec) and not isinstance(spec, str)):
        if uses_l1:
            raise ValueError("solver: an optax transformation cannot handle l1 > 0; use solver='fista'")
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"solver must be a name or an optax.GradientTransformation, got {spec!r}")
    if spec not in SOLVER_NAMES:
        raise ValueError(f"solver must be one of {', '.join(SOLVER_NAMES)}, got {spec!r}")
    if spec == "auto":
        if uses_l1:
            return "fista"
        if minibatch:
            return "gd"
        return "newton" if n_params <= NEWTON_MAX_PARAMS else "lbfgs"
    if uses_l1 and spec not in L1_SOLVERS:
        raise ValueError(
            f"solver={spec!r} cannot handle an L1 penalty (l1 > 0); use solver='fista' or 'auto'"
        )
    if minibatch and spec in SECOND_ORDER:
        raise ValueError(f"solver={spec!r} needs full batches; batch_size works with first-order solvers")
    return spec


def make_solver(spec, learning_rate) -> Solver:
    """Build the solver for a resolved ``spec``; ``learning_rate`` may be a traced array."""
    if isinstance(spec, optax.GradientTransformation):
        return gradient_transformation(spec)
    if isinstance(spec, str) and spec in SECOND_ORDER:
        return SECOND_ORDER[spec]()
    factory = FIRST_ORDER[spec] if isinstance(spec, str) else spec
    return gradient_transformation(factory(learning_rate))
