"""L-BFGS for all lanes: two-loop recursion per lane, batched Armijo backtracking with cubic
interpolation; the first step of a solve searches as L-BFGS-B's (Moré-Thuente, strong Wolfe).

optax's ``lbfgs`` line search is written for one model (its ``lax.cond`` under ``vmap`` runs both
branches and copies X per lane), so the batched form lives here: every lane's trial point is
evaluated with one product, with a step size per lane.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from .steps import Solver, StepInfo, backtracking, lane_dot, lane_max_abs, repriced

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
    lane with no pairs yet gets ``-g / max(1, ||g||)`` (its step length is the line search's, see
    ``Lbfgs.step``). Skipped pairs have ``rho = 0`` and contribute nothing, so every lane walks
    the same slots."""
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


@dataclasses.dataclass(frozen=True)
class Lbfgs(Solver):
    """L-BFGS for all lanes: two-loop recursion, batched Armijo backtracking from ``t = 1`` whose
    trials after the first are the minimisers of cubics fitted to f and its slope (the gradient
    of every trial is computed anyway; halving alone took up to 1.3x scipy's iterations,
    bench/README.md); the first step of a solve from the unit step ``-g / ||g||`` with
    Moré-Thuente's search for the strong Wolfe conditions, as L-BFGS-B; pairs with ``s.y <= 0``
    are skipped. One evaluation with gradient per step when the full step is accepted (the usual
    case); the line search keeps the accepted trial's gradient, so the objective appears once in
    the step's program."""

    memory: int = 10
    line_search: ClassVar[bool] = True
    expected_steps: ClassVar[int] = 50
    # it restarts its memory at every point of a path: 0.8 of its cold iterations on breast cancer's
    # synthetic grids, 0.3-0.6 on LogisticRegressionCV's log grid of 1e-4..1e4 (bench/README.md)
    path_iterations: ClassVar[tuple[int, int]] = (60, 30)
    reprices: ClassVar[bool] = True
    leaves_inactive_lanes: ClassVar[bool] = True

    def lane_arrays(self, n_outputs):
        return 14  # the line search's trial logits and gradient on top of the step's own

    def init(self, theta, problem):
        memory = self.memory
        P, K = theta.shape
        zeros = jnp.zeros((memory, P, K), theta.dtype)
        value, grad = problem.value_and_grad(theta)
        return LbfgsState(zeros, zeros, jnp.zeros((memory, K), theta.dtype), jnp.zeros((), jnp.int32),
                          jnp.ones((K,), theta.dtype), value, grad)

    def known_info(self, theta, state):
        return StepInfo(state.value, lane_max_abs(state.grad))  # f and its gradient at theta (no L1)

    def reprice(self, state, theta, delta):
        """f and its gradient move exactly (``repriced``); the memory restarts, as a path's point
        from zero would. Kept pairs moved by ``y += delta s`` (the L2 term's Hessian is
        ``diag(delta)``) cost more iterations than they saved: digits' LogisticRegressionCV
        2,665 -> 2,785, the probe 122 -> 158 (bench/README.md)."""
        value, grad = repriced(state.value, state.grad, theta, delta)
        empty = jnp.zeros_like(state.s)
        return LbfgsState(empty, empty, jnp.zeros_like(state.rho), state.offered, jnp.ones_like(state.gamma), value, grad)

    def step(self, theta, state, problem, active):
        memory = self.memory
        value, grad = state.value, state.grad
        direction = _two_loop(grad, state, memory)
        slope = lane_dot(grad, direction)
        bad = ~(slope < 0)  # not a descent direction (rounding): fall back to steepest descent
        direction = jnp.where(bad, -grad, direction)
        slope = jnp.where(bad, -lane_dot(grad, grad), slope)
        # The first step of a solve knows no scale: as L-BFGS-B, it searches from the unit step
        # -g / ||g|| for the strong Wolfe conditions. Backtracking from t = 1 never lengthens a
        # step, and the first step sets the whole run's course: on the bench's 10M-non-zero
        # sparse fit (||g|| = 7.5e-3) it took 25 iterations to tol where scipy takes 9; now the
        # same 9, on scipy's iterates (bench/README.md). A path's point (``reprice``: pairs
        # dropped, warm-started at the previous solution) keeps t = 1 on -g / max(1, ||g||):
        # searching there took 141 path steps against 126 on the 5-class CV set.
        first = state.offered == 0
        norm = jnp.sqrt(lane_dot(grad, grad))
        t0 = jnp.where(first, jnp.maximum(norm, 1.0) / jnp.where(norm > 0, norm, 1.0), jnp.ones_like(value))
        t, f_new, g_new = backtracking(problem.value_and_grad, theta, value, slope, direction, active, t0,
                                       directional=lambda g: lane_dot(g, direction),
                                       wolfe=jnp.broadcast_to(first, value.shape))
        moved = t > 0
        s = t * direction
        yv = g_new - grad
        sy = lane_dot(s, yv)
        keep = moved & (sy > jnp.finfo(theta.dtype).eps * jnp.sqrt(lane_dot(s, s) * lane_dot(yv, yv)))
        slot = state.offered % memory
        yy = lane_dot(yv, yv)

        def offer(history, pair):  # a lane not active keeps its slot (``leaves_inactive_lanes``)
            return history.at[slot].set(jnp.where(keep, pair, jnp.where(active, 0.0, history[slot])))

        new_state = LbfgsState(
            s=offer(state.s, s),
            y=offer(state.y, yv),
            rho=offer(state.rho, 1.0 / jnp.where(keep, sy, 1.0)),
            offered=state.offered + 1,
            gamma=jnp.where(keep & (yy > 0), sy / jnp.where(yy > 0, yy, 1.0), state.gamma),
            value=jnp.where(moved, f_new, value),
            grad=jnp.where(moved, g_new, grad),
        )
        return theta + s, new_state, StepInfo(value, lane_max_abs(grad))


__all__ = ["Lbfgs", "LbfgsState"]


