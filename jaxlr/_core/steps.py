"""What every solver shares: the ``Solver`` interface with its facts, per-lane vector helpers and
the batched Armijo line search.

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


def backtracking(evaluate, theta, value, slope, direction, active, t0, max_trials: int = 30,
                 c: float = 1e-4, directional=None):
    """Batched Armijo backtracking: per lane the first trial ``t`` (from ``t0``, decreasing) with
    ``f(x + t d) <= f(x) + c t g.d``; every trial of every lane in one evaluation.

    ``evaluate(theta)`` returns ``(f, extra)`` for all lanes (``extra``: e.g. the gradient, kept
    for the accepted trial, so a caller that needs it pays no extra evaluation). With
    ``directional(extra) -> g(x + t d).d`` per lane, a failed trial is followed by the minimiser
    of the cubic that matches f and its slope at 0 and at ``t`` (safeguarded to ``[0.1 t, 0.9 t]``);
    without it, by ``t / 2``. A while loop whose body evaluates the trial carried in and chooses
    the next one at its end: the objective appears once in the compiled program, and the
    evaluation reads a step size already computed. When the predicted decrease ``-g.d`` is below
    what floating point can measure in ``f`` (at the optimum), the full step is taken if ``f``
    does not rise by more than rounding: the gradient, not ``f``, can still tell the step helped.
    A lane where nothing qualifies stays (``t = 0``). Returns ``(t, f, extra)`` at the accepted
    trial (``f``/``extra`` of the last trial where ``t = 0``; ``t = 0`` and ``f = inf`` for lanes
    not ``active``).
    """
    rounding = 100 * jnp.finfo(theta.dtype).eps * jnp.maximum(jnp.abs(value), 1.0)

    def body(carry):
        t, ft, extra, done, j = carry
        # t arrives finished: a test of the previous trial here would be fused into the
        # evaluation's m x outputs x lanes elementwise work and recomputed per element
        # (a third of an L-BFGS step on digits' 6-lane CV paths, bench/README.md)
        f_new, extra_new = evaluate(theta + t * direction)
        trying = ~done
        accepted = (f_new <= value + c * t * slope) | (
            (j == 0) & (-slope <= rounding) & (f_new <= value + rounding))  # unmeasurable decrease
        done = done | accepted
        following = t / 2 if directional is None else _cubic_backtrack(t, value, slope, f_new, directional(extra_new))
        return (jnp.where(done, t, following), jnp.where(trying, f_new, ft), select(trying, extra_new, extra), done,
                j + 1)

    extra0 = jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype),
                                    jax.eval_shape(lambda: evaluate(theta)[1]))
    t, ft, extra, done, _ = jax.lax.while_loop(
        lambda carry: jnp.any(~carry[3]) & (carry[4] < max_trials), body,
        (t0, jnp.full_like(value, jnp.inf), extra0, ~active, jnp.zeros((), jnp.int32)))
    return jnp.where(done & active, t, 0.0), ft, extra


__all__ = ["Solver", "StepInfo", "lane_dot", "lane_max_abs", "soft_threshold", "l1_norm", "optimality_residual",
           "select", "backtracking"]
