"""FISTA: accelerated proximal gradient for L1 / elastic net, per lane, with an optional
Newton polish on the active set."""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from .active_set import newton_system
from .steps import Solver, StepInfo, l1_norm, lane_dot, optimality_residual, select, soft_threshold


class FistaState(NamedTuple):
    extrapolated: jax.Array  # (P, K) the point y_k the next gradient step starts from
    momentum: jax.Array  # (K,) t_k
    lipschitz: jax.Array  # (K,) current estimate L of the Lipschitz constant of grad f
    polish_below: jax.Array  # (K,) with ``polish``: try a Newton step below this residual


@dataclasses.dataclass(frozen=True)
class Fista(Solver):
    """Accelerated proximal gradient (Beck & Teboulle) for ``f + l1 ||coef||_1``, per lane.

    ``x+ = prox_{l1/L}(y - grad f(y) / L)`` with ``L`` doubled until the quadratic upper bound
    holds; momentum ``y = x+ + (t-1)/t+ (x+ - x)``; a step that would raise ``F`` is rejected and
    the momentum restarted, so ``F`` never increases.

    ``polish=True`` (what ``jaxlr.solve`` uses): proximal steps compare objective values, which
    stop resolving progress at a residual of about ``sqrt(eps)`` (float64: ~1e-9), while a
    derivative wants a tight solution. Below a residual of ``sqrt(tol)`` a lane's step is instead
    a Newton step on its active set (``active_set.newton_system``),
    ``theta_F -= A^{-1} (grad f + l1 sign(theta))_F``, kept only when no coefficient changes sign
    and the residual falls (otherwise proximal steps resume, polishing again ten times lower):
    once the support is found it converges quadratically.
    """

    max_backtracks: int = 40
    polish: bool = False
    handles_l1: ClassVar[bool] = True
    line_search: ClassVar[bool] = True
    expected_steps: ClassVar[int] = 100

    @property
    def forms_gram(self) -> bool:  # its polishing Newton steps (``newton_system``) read X's rows
        return self.polish

    def lane_arrays(self, n_outputs):
        return 14

    def init(self, theta, problem):
        ones = jnp.ones((theta.shape[1],), theta.dtype)
        return FistaState(theta, ones, ones, jnp.sqrt(problem.tol).astype(theta.dtype) * ones)

    def step(self, theta, state, problem, active):
        l1, weight = problem.l1, problem.penalty_weight
        f_x, grad_x = problem.value_and_grad(theta)
        value = f_x + l1 * l1_norm(theta, weight)
        residual = optimality_residual(theta, grad_x, l1, weight)
        proximal = lambda: self._proximal(theta, state, problem, active, value)  # noqa: E731
        if not self.polish:
            new, new_state = proximal()
        else:
            want = active & (residual <= state.polish_below)
            new, new_state = jax.lax.cond(
                jnp.any(want), lambda: self._polished(theta, state, problem, want, residual, grad_x, proximal),
                proximal)
        return new, new_state, StepInfo(value, residual)

    def _proximal(self, theta, state, problem, active, value):
        """One proximal gradient step from the extrapolated point, backtracking on ``L``."""
        l1, weight = problem.l1, problem.penalty_weight
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
            x_try = soft_threshold(y - grad_y / lipschitz, l1 / lipschitz, weight)
            f_try = problem.value(x_try)
            return lipschitz, jnp.where(retry, x_try, x_new), jnp.where(retry, f_try, f_new), k + 1

        start = 0.9 * state.lipschitz  # let the estimate shrink again over time
        lipschitz, x_new, f_new, _ = jax.lax.while_loop(
            lambda c: (c[3] == 0) | (jnp.any(active & ~bound_holds(c[0], c[1], c[2])) & (c[3] <= self.max_backtracks)),
            body, (start, y, jnp.full_like(f_y, jnp.inf), 0))
        value_new = f_new + l1 * l1_norm(x_new, weight)
        # an increase within rounding is none: sparse X sums in another order in value_and_grad
        # and value, and rejecting such a step re-runs the same step forever (a stall at ~1e-9)
        restart = ~(value_new <= value + 10 * jnp.finfo(value.dtype).eps * jnp.abs(value))
        t_new = 0.5 * (1 + jnp.sqrt(1 + 4 * state.momentum**2))
        beta = (state.momentum - 1) / t_new
        y_new = x_new + beta * (x_new - theta)
        next_theta = jnp.where(restart, theta, x_new)
        next_state = FistaState(jnp.where(restart, theta, y_new), jnp.where(restart, 1.0, t_new), lipschitz,
                                state.polish_below)
        return next_theta, next_state

    def _polished(self, theta, state, problem, want, residual, grad, proximal):
        """Lanes in ``want`` take a Newton step on their active set when it keeps every sign and
        lowers the residual; the others (and those whose Newton step fails) a proximal step."""
        l1, weight = problem.l1, problem.penalty_weight
        free, matvec, solve = newton_system(problem, theta)
        g = jnp.where(free, grad + l1 * jnp.sign(theta) * weight[:, None], 0.0)
        new = jnp.where(free, theta - solve(matvec, g), theta)
        kept_sign = jnp.all(~(free & (weight[:, None] > 0)) | (jnp.sign(new) == jnp.sign(theta)), axis=0)
        new_residual = optimality_residual(new, problem.value_and_grad(new)[1], l1, weight)
        ok = want & kept_sign & jnp.isfinite(new_residual) & (new_residual < residual)
        prox_theta, prox_state = proximal()
        fresh = self.init(new, problem)._replace(polish_below=state.polish_below)
        polish_below = jnp.where(want & ~ok, residual / 10, state.polish_below)
        next_theta = jnp.where(ok, new, prox_theta)
        next_state = select(ok, fresh, prox_state)._replace(polish_below=polish_below)
        return next_theta, next_state


__all__ = ["Fista", "FistaState"]
