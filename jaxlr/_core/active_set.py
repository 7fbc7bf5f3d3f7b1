"""Newton's system on the active set, for every lane: what FISTA's polishing steps and the
implicit derivative of ``jaxlr.solve`` both solve.

At a minimiser of ``f + l1 ||coef||_1`` the coefficients that are exactly zero stay there, so
the smooth conditions hold on the *free* coordinates only: the non-zero coefficients (all of
them without L1) and the fitted intercepts. Softmax models add directions the objective cannot
see (the same constant added to every class's intercept, and without L1 to every class's
coefficients of a feature); the class-mean projector ``Q`` fixes them. The system matrix is

    A = P (H + Q) P + (I - P)

with ``H`` the Hessian of the smooth objective and ``P`` the free coordinates: symmetric, and
positive definite at a strict minimiser. It is formed and Cholesky-factored per lane up to
``DENSE_MAX_PARAMS`` parameters; above, it is solved matrix-free by conjugate gradients on
Hessian-vector products (``jax.jvp`` of the gradient; the lanes' systems are block diagonal).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .newton import NEWTON_MAX_PARAMS

DENSE_MAX_PARAMS = NEWTON_MAX_PARAMS


def class_mean_projector(problem):
    """``Q u``: per feature (where the lane's ``l1 == 0``) and for the intercepts, the mean over
    the classes, broadcast back: the projector onto the directions a softmax model cannot see.
    ``u`` is (P, K), or (P, P) for one lane's matrix (``l1`` then that lane's value)."""
    C, n = problem.C, problem.n

    def apply(u, l1):
        if C == 1:
            return jnp.zeros_like(u)
        coef = u[: n * C].reshape(n, C, -1)
        coef = jnp.broadcast_to(jnp.mean(coef, axis=1, keepdims=True), coef.shape).reshape(n * C, -1)
        coef = jnp.where(l1 == 0, coef, 0.0)
        icpt = u[n * C:]
        icpt = jnp.broadcast_to(jnp.mean(icpt, axis=0, keepdims=True), icpt.shape)
        icpt = jnp.where(problem.fit_intercept, icpt, 0.0)
        return jnp.concatenate([coef, icpt], axis=0)

    return apply


def free_coordinates(problem, theta):
    """(P, K) mask of the coordinates the solution moves in: the fitted parameters, less those
    an L1 penalty holds at zero (all coefficients without L1; the intercepts when fitted)."""
    fitted = problem.coef_rows | problem.fit_intercept
    held = (problem.penalty_weight > 0)[:, None] & (problem.l1 > 0) & (theta == 0)
    return fitted[:, None] & ~held


def newton_system(problem, theta, dense: bool | None = None):
    """``(free, matvec, solve)`` for ``A`` at ``theta`` (see the module docstring); ``solve(mv, b)``
    has the signature ``lax.custom_linear_solve`` wants. ``dense``: factor ``A`` (default: up to
    ``DENSE_MAX_PARAMS`` parameters) or use conjugate gradients."""
    free = free_coordinates(problem, theta)
    q = class_mean_projector(problem)

    def grad_fn(t):
        return problem.value_and_grad(t)[1]

    def matvec(u):
        pu = jnp.where(free, u, 0.0)
        hu = jax.jvp(grad_fn, (theta,), (pu,))[1] + q(pu, problem.l1)
        return jnp.where(free, hu, u)

    P = theta.shape[0]
    if (P <= DENSE_MAX_PARAMS) if dense is None else dense:
        _, _, hessian = problem.value_grad_hessian(theta)  # (K, P, P)
        eye = jnp.eye(P, dtype=theta.dtype)
        projector = jax.vmap(lambda l1: q(eye, l1))(problem.l1)  # (K, P, P)
        f = free.T  # (K, P)
        A = jnp.where(f[:, :, None] & f[:, None, :], hessian + projector, 0.0)
        chol = jnp.linalg.cholesky(A + jax.vmap(jnp.diag)(jnp.where(f, 0.0, 1.0)))

        def solve(_, b):
            return jax.vmap(lambda c, v: jax.scipy.linalg.cho_solve((c, True), v), in_axes=(0, 1), out_axes=1)(chol, b)
    else:
        cg_tol = 1e-10 if theta.dtype == jnp.float64 else 1e-5

        def solve(mv, b):
            return jax.scipy.sparse.linalg.cg(mv, b, tol=cg_tol, maxiter=10 * b.size)[0]

    return free, matvec, solve


__all__ = ["newton_system", "free_coordinates", "class_mean_projector", "DENSE_MAX_PARAMS"]
