"""Damped Newton for all lanes: the exact Hessian ``J^T (d^2 loss / dz^2) J`` with ``J = X`` (the
loss's curvature in the logits from ``jax.hessian``, the products from the design, all lanes'
Hessians as one GEMM), a Cholesky factorisation per lane, damped when not positive definite,
and batched Armijo backtracking."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from .steps import Solver, StepInfo, backtracking, lane_dot, lane_max_abs, repriced


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
        # the Hessians are symmetric by construction: no (H + H^T) / 2 pass
        chol = jax.lax.linalg.cholesky(hessian + lam[:, None, None] * eye, symmetrize_input=False)
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


# above this many parameters "auto" prefers L-BFGS to an exact Hessian
NEWTON_MAX_PARAMS = 200
# Newton's step costs ~ m p^2 per model (the Hessian), L-BFGS's ~ 4 m p, and Newton needs ~5x fewer
# steps: "auto" takes Newton while the Hessian is cheap next to the per-step overheads, i.e. while
# m * p^2 * models stays under this many multiply-adds per step (bench/README.md)
NEWTON_MAX_WORK = 2**25


@dataclasses.dataclass(frozen=True)
class Newton(Solver):
    """Damped Newton for all lanes: exact Hessian, Cholesky, batched Armijo backtracking."""

    line_search: ClassVar[bool] = True
    reads_transpose: ClassVar[bool] = False  # a few steps, dominated by X^T D X
    forms_gram: ClassVar[bool] = True
    expected_steps: ClassVar[int] = 10
    path_iterations: ClassVar[tuple[int, int]] = (8, 4)  # warm starts halve its iterations
    reprices: ClassVar[bool] = True

    def lane_arrays(self, n_outputs):
        # the per-row curvature (its C(C+1)/2 upper entries) and a block of pairs; XLA plans 7.6
        # (binary) and 5.9 (3 classes) per lane at 2,000 x 6 since f and its gradient come from the state
        return 10 + n_outputs

    def state_floats(self, n_params):
        return 40 * n_params + 4 * n_params * n_params  # the Hessian and its factor

    def step_cost(self, n_rows, n_params):
        return float(n_rows) * n_params * n_params  # the Hessian

    def cheap(self, n_samples: int, n_params: int, n_models: int) -> bool:
        """Whether its Hessians are cheap next to a step's fixed costs (``auto`` then takes it)."""
        return n_params <= NEWTON_MAX_PARAMS and n_samples * n_params * n_params * n_models <= NEWTON_MAX_WORK

    def init(self, theta, problem):
        return problem.value_and_grad(theta)  # f and its gradient at theta (see ``known_info``)

    def known_info(self, theta, state):
        value, grad = state
        return StepInfo(value, lane_max_abs(grad))

    def reprice(self, state, theta, delta):
        return repriced(*state, theta, delta)  # the Hessian is formed afresh at every step

    def step(self, theta, state, problem, active):
        value, grad = state  # kept from the accepted trial: only the Hessian is computed here
        _, _, hessian = problem.value_grad_hessian(theta)
        direction = damped_newton_direction(hessian, grad, active)
        # the trials' gradients (one X^T R, next to the Hessian's X^T D X) keep f and its gradient
        # at the new parameters in the state: a lane at tolerance then costs no Hessian
        t, f_new, g_new = backtracking(problem.value_and_grad, theta, value, lane_dot(grad, direction),
                                       direction, active, jnp.ones_like(value))
        moved = t > 0
        new_state = (jnp.where(moved, f_new, value), jnp.where(moved, g_new, grad))
        return theta + t * direction, new_state, StepInfo(value, lane_max_abs(grad))


__all__ = ["Newton", "damped_newton_direction", "NEWTON_MAX_PARAMS", "NEWTON_MAX_WORK"]
