"""K models' objectives on shared data ("lanes"), in the layout the solvers step in.

The parameters of all lanes are one matrix ``theta`` (P, K), model ``k`` in column ``k``: ``n * C``
coefficient rows (feature-major: row ``i * C + c`` is feature ``i``, class ``c``; C = 1 for binary
models) then ``C`` intercept rows. Every per-lane array keeps the lanes on its last axis, so the
logits of all lanes are one product ``X @ W`` with W (n, C K) and the gradients one ``X^T R``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import design as _design
from .losses import binary_log_loss, objective_from_logits
from .steps import l1_norm


class Hyper(NamedTuple):
    """Per-lane tunable values (K,), traced: changing them never compiles again."""

    learning_rate: jax.Array
    l1: jax.Array
    l2: jax.Array
    tol: jax.Array


def augmented_gram(design, D: jax.Array) -> jax.Array:
    """(L, n + 1, n + 1): ``[X, 1]^T diag(D[:, l]) [X, 1]`` for every weight column of D (m, L):
    the Gram blocks every Hessian of a loss of the logits is assembled from (Newton's, and
    ``jaxlr.inference``'s)."""
    if isinstance(design, _design.DenseDesign) and D.shape[1] >= _design.PAIRWISE_MIN_WEIGHTS:
        return _design.pairwise_gram(design.row_major, D, ones=True)
    G = design.gram(D)  # (L, n, n)
    cross = design.rmatmul(D).T  # (L, n): X^T d
    total = jnp.sum(D, axis=0)
    top = jnp.concatenate([G, cross[:, :, None]], axis=2)
    bottom = jnp.concatenate([cross[:, None, :], total[:, None, None]], axis=2)
    return jnp.concatenate([top, bottom], axis=1)


class Problem:
    """K lanes' objectives on shared data: ``value``, ``value_and_grad`` (one product each way
    for all lanes), ``value_grad_hessian`` (Newton) and ``lane_fn`` (one lane, for optax's
    ``value_fn``). Minibatch problems hold per-lane rows and evaluate lane by lane."""

    def __init__(self, design, y, S, hyper: Hyper, fit_intercept, n_outputs: int, n_features: int,
                 per_lane_rows: bool = False, intercept_weight=0.0):
        self.design, self.y, self.S = design, y, S  # S (m, K) training weights per lane
        self.l1, self.l2, self.learning_rate, self.tol = hyper.l1, hyper.l2, hyper.learning_rate, hyper.tol
        self.fit_intercept = fit_intercept
        self.C, self.n = n_outputs, n_features
        self.per_lane_rows = per_lane_rows  # design (K, B, n) rows, y (K, B), S (B, K)
        P = n_features * n_outputs + n_outputs
        self.coef_rows = jnp.arange(P) < n_features * n_outputs
        # how much of each penalty a row carries: 1 for coefficients; for the intercept 0, or with
        # liblinear's objective 1/intercept_scaling (its intercept is the weight of a constant
        # feature of that value, penalized like the others: ``w_b = b / intercept_scaling``)
        self.intercept_weight = intercept_weight * fit_intercept
        self.penalty_weight = jnp.where(self.coef_rows, 1.0, self.intercept_weight).astype(hyper.l2.dtype)
        # and of the L2 term ``0.5 l2 sum_p l2_weight_p theta_p^2`` (the intercept's: its weight squared)
        self.l2_weight = jnp.where(self.coef_rows, 1.0, self.intercept_weight**2).astype(hyper.l2.dtype)

    def _intercept_penalty(self, intercept):
        """``0.5 l2 (b / intercept_scaling)^2`` per lane (exactly 0 for an unpenalized intercept)."""
        return 0.5 * self.l2 * self.intercept_weight**2 * jnp.sum(intercept * intercept, axis=0)

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
        coef, intercept = self._split(theta)
        return objective_from_logits(Z, self._labels(), self.S, coef, 0.0, self.l2,
                                     class_axis=None if self.C == 1 else 1, coef_axis=0) + self._intercept_penalty(intercept)

    def value_and_grad(self, theta):
        (_, values), grad = jax.value_and_grad(lambda th: (lambda v: (jnp.sum(v), v))(self.value(th)),
                                               has_aux=True)(theta)
        return values, grad

    def value_grad_hessian(self, theta):
        """Values, gradients and Hessians (K, P, P): ``J^T D J + l2`` with ``J`` the linear map
        to the logits and ``D`` the loss's curvature in the logits (autodiff for the binary loss,
        ``diag(p) - p p^T`` for the softmax)."""
        value, grad = self.value_and_grad(theta)
        Z = self.logits(theta)
        weight = self.S / jnp.sum(self.S, axis=0)  # (m, K)
        n, C, K = self.n, self.C, theta.shape[1]
        if C == 1:
            y = self.y[:, None]
            dz = jax.grad(lambda z: jnp.sum(binary_log_loss(z, y)))
            curvature = jax.jvp(dz, (Z,), (jnp.ones_like(Z),))[1]  # elementwise second derivative
            D = weight * curvature  # (m, K)
            A = augmented_gram(self.design, D).reshape(K, 1, 1, n + 1, n + 1)
        else:
            # the softmax cross-entropy's curvature in the logits, diag(p) - p p^T for every label,
            # is symmetric: only its C(C+1)/2 upper entries go through the Gram product
            upper_c, upper_d, entry = _design.packed_triangle(C)
            p = jax.nn.softmax(Z, axis=1)  # (m, C, K)
            h = p[:, upper_c] * ((upper_c == upper_d)[:, None] - p[:, upper_d])  # (m, Q, K)
            D = jnp.swapaxes(weight[:, None, :] * h, 1, 2)  # (m, K, Q)
            Q = len(upper_c)
            A = augmented_gram(self.design, D.reshape(D.shape[0], K * Q)).reshape(K, Q, n + 1, n + 1)
            A = A[:, entry]  # (K, C, C, n + 1, n + 1)
        P = (n + 1) * C  # row i * C + c: feature i (n: the intercept), class c, as in theta
        hessian = A.transpose(0, 3, 1, 4, 2).reshape(K, P, P)
        kept = jnp.where(self.coef_rows, 1.0, self.fit_intercept).astype(theta.dtype)  # an intercept not fitted: 0
        penalty = self.l2[:, None] * jnp.where(self.coef_rows, 1.0, self.intercept_weight**2).astype(theta.dtype)
        hessian = hessian * (kept[:, None] * kept[None, :]) + penalty[:, :, None] * jnp.eye(P, dtype=theta.dtype)
        return value, grad, hessian if C == 1 else hessian + self._curvature_where_flat(hessian)

    def _curvature_where_flat(self, hessian):
        """(K, P, P): ``max|diag H| 1 1^T / C`` on the C x C block of every row the objective is
        flat along. Adding one value to a row's C class entries leaves every softmax unchanged, so
        for an unpenalized row (the intercept, unless penalized; the coefficients when l2 = 0) the
        Hessian is singular along ``(1, ..., 1)`` in its block, and Cholesky failed on about half
        the lanes of a step (a second batched factorisation). The gradient has no component along
        those directions, so the Newton step is unchanged: its minimum-norm solution."""
        C, n = self.C, self.n
        group = jnp.arange(hessian.shape[-1]) // C  # row -> its feature, n for the intercept
        same_group = (group[:, None] == group[None, :]) / C
        flat_coef = self.l2 == 0
        flat_intercept = (self.fit_intercept != 0) & (self.l2 * self.intercept_weight**2 == 0)
        diag = jnp.diagonal(hessian, axis1=1, axis2=2)
        # rows with no curvature at all (padding, a constant-zero feature) keep Newton's unit diagonal
        flat = jnp.where(group < n, flat_coef[:, None], flat_intercept[:, None]) & (diag > 0)
        scale = jnp.max(jnp.abs(diag), axis=1)
        return scale[:, None, None] * (flat[:, :, None] & flat[:, None, :]) * same_group

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
            return (objective_from_logits(z, y, s, coef[:, 0], 0.0, self.l2[k], class_axis=None if self.C == 1 else 1)
                    + self._intercept_penalty(intercept)[k])
        return f


def full_objective(problem: Problem, theta):
    """``F = f + l1 ||coef||_1`` per lane."""
    return problem.value(theta) + problem.l1 * l1_norm(theta, problem.penalty_weight)


__all__ = ["Hyper", "Problem", "full_objective", "augmented_gram"]
