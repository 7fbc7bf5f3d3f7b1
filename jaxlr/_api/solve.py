"""``solve``: the fitted parameters as a pure, differentiable function of the data and penalties.

    params = jaxlr.solve(X, y, l2=0.1)                        # Params(coef, intercept)
    jax.grad(lambda l2: val_loss(jaxlr.solve(X, y, l2=l2)))   # d validation loss / d l2
    jax.vmap(lambda l2: jaxlr.solve(X, y, l2=l2))(l2s)        # many penalties at once

The forward pass runs the engine's loop (``jaxlr._core.engine.iterate``, one lane) in a
``lax.while_loop`` to ``tol``: nothing runs on the host, so ``solve`` works under ``jit`` and
``vmap``. Derivatives are not taken through the iterations: the minimiser ``theta*`` satisfies the
optimality condition ``G(theta*, p) = grad_theta f(theta*; p) + l1 sign(theta*) = 0`` (on the free
coordinates), so by the implicit function theorem

    d theta* = -A^{-1} (d_p G) dp,    A = d_theta G = the Hessian of the smooth objective

restricted to the free coordinates. ``p`` is everything ``solve`` takes as an array: ``X``,
``y`` (float labels), ``sample_weight``, ``l2``, ``l1``. The rule is a ``custom_jvp`` whose
tangent is a ``lax.custom_linear_solve`` with the (symmetric) Hessian, so forward mode
(``jax.jvp``, ``jax.jacfwd``), reverse mode (``jax.grad``: the transposed solve is the same
solve) and ``vmap`` all work, at the cost of one linear solve per derivative. The Hessian is
formed and Cholesky-factored when there are at most ``DENSE_MAX_PARAMS`` parameters; above
that the system is solved matrix-free by conjugate gradients with Hessian-vector products
(``jax.jvp`` of the gradient).

Non-smooth and degenerate points:

- **L1 at zero.** A coefficient that is exactly 0 at the solution is held at 0: the solution map
  is differentiated on the active set (the non-zero coefficients and the intercept). This is the
  derivative whenever the subgradient condition holds strictly (``|d f / d w_j| < l1`` for every
  zero coefficient), i.e. everywhere except on the measure-zero set of penalties where a
  coefficient enters or leaves the active set; there the one-sided derivatives differ and the
  active-set one is returned. ``d / d l1`` is ``-A^{-1} sign(w)`` on the active set.
- **Multinomial.** Softmax logits are unchanged when the same constant is added to every class's
  intercept (and, without a penalty, to every class's coefficients of a feature), so the Hessian
  is singular along those directions. ``solve`` returns the representative with intercepts (and,
  when ``l1 = 0``, each feature's coefficients) summing to zero over the classes, and
  differentiates that one (the singular directions are fixed by adding their projector to A).
  With ``l1 > 0`` and ``l2 = 0`` the Hessian may still be singular on the active set; the
  derivative is then not defined (NaN or large values).
- **No unique minimiser.** Without a penalty on separable data the minimiser does not exist; the
  Hessian at the returned point is nearly singular and the derivatives meaningless.
- **Without convergence.** When the loop stops at ``steps`` before ``tol``, ``solve`` returns the
  last iterate and differentiates as if it were the minimiser: the error of the derivative is of
  the order of the residual divided by the smallest curvature. ``return_info=True`` also returns
  a ``SolveInfo`` (status, iterations, residual, objective) to check; like every status in
  jaxlr it is data, never an exception, so it can be inspected under ``jit`` and ``vmap``.

Validation: shapes, dtypes and the static options are checked on every call (they are known
while tracing). Values (finiteness, non-negative penalties and weights, label range) are
checked only when they are concrete; traced values are trusted (a negative traced ``l2`` gives
NaN or a meaningless solution, never an exception).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._core import active_set
from .._core.design import DenseDesign
from .._core.engine import Control, Lanes, Static, init_state, iterate
from .._core.fista import Fista
from .._core.model import Params
from .._core.problem import Hyper, Problem
from .._core.programs import OPTIONS, program_kind
from .._core.solvers import NEWTON_MAX_PARAMS, SOLVERS
from .._core.status import Status
from .._core.steps import Solver, l1_norm, optimality_residual
from .._train import data as _data
from .._train.checks import check_scalar

# the solvers that reach tight tolerances (FISTA polishes on its active set: see ``Fista``)
LINE_SEARCH = {name: Fista(name, polish=True) if name == "fista" else s
               for name, s in SOLVERS.items() if s.line_search}
NAMES = ("auto", *LINE_SEARCH)
AUTO_TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}
CONVERGED, MAX_ITER, DIVERGED = (int(s) for s in (Status.CONVERGED, Status.MAX_ITER, Status.DIVERGED))


class SolveInfo(NamedTuple):
    """How the forward solve ended (arrays, so they survive ``jit`` and stack under ``vmap``).

    ``status`` is a ``jaxlr.Status`` code (converged, max_iter or diverged), ``n_iter`` the
    solver steps taken, ``residual`` the optimality residual at the returned parameters (the
    max-norm of the gradient; with L1 of the proximal-gradient step), ``objective`` the
    objective there."""

    status: jax.Array
    n_iter: jax.Array
    residual: jax.Array
    objective: jax.Array


class _Static(NamedTuple):
    solver: Solver
    n_outputs: int  # C: 1 binary, else the number of classes
    fit_intercept: bool
    dense: bool  # the derivative's system formed and factored (else conjugate gradients)


def _problem(static: _Static, X, y, s, l2, l1, tol=0.0) -> Problem:
    """The engine's problem for one lane (theta (P, 1)), on a plain dense design (no transposed
    copy: ``design.linear`` then differentiates in X too)."""
    one = jnp.ones((1,), X.dtype)
    hyper = Hyper(learning_rate=one, l1=jnp.reshape(l1, (1,)), l2=jnp.reshape(l2, (1,)), tol=tol * one)
    return Problem(DenseDesign(X), y, s[:, None], hyper, static.fit_intercept, static.n_outputs, X.shape[1])


def _forward(static: _Static, X, y, s, l2, l1, tol, steps):
    """Minimise from zero to ``tol`` (or ``steps``) with the engine's loop, one lane: theta (P, 1)
    and ``SolveInfo``. The returned multinomial parameters are the class-centred representative."""
    m, n = X.shape
    C = static.n_outputs
    dtype = X.dtype
    theta0 = jnp.zeros((n * C + C, 1), dtype)
    hyper = Hyper(jnp.ones((1,), dtype), jnp.reshape(l1, (1,)), jnp.reshape(l2, (1,)), jnp.reshape(tol, (1,)))
    lanes = Lanes(hyper, jnp.zeros((1,), jnp.uint32), jnp.zeros((1,), jnp.int32))
    control = Control(steps, steps, jnp.bool_(True), jnp.bool_(static.fit_intercept), jnp.int32(m), jnp.bool_(True),
                      jnp.int32(1), jnp.zeros((), dtype), jnp.bool_(False))
    engine = Static(static.solver, None, C)
    args = (DenseDesign(X), y, s[None, :], lanes)
    state, summary = iterate(init_state(*args, theta0, control, engine), *args, control, engine)
    problem = _problem(static, X, y, s, l2, l1)
    theta = state.theta
    if C > 1:  # same logits up to a per-row constant, so the same loss
        theta = theta - active_set.class_mean_projector(problem)(theta, problem.l1)
    smooth, grad = problem.value_and_grad(theta)
    residual = optimality_residual(theta, grad, problem.l1, problem.penalty_weight)[0]
    objective = smooth[0] + l1 * l1_norm(theta, problem.penalty_weight)[0]
    status = jnp.where((summary.status[0] == MAX_ITER) & (residual <= tol), CONVERGED, summary.status[0])
    status = jnp.where(jnp.isfinite(objective), status, DIVERGED)
    return theta, SolveInfo(status.astype(jnp.int32), state.n_iter[0], residual, objective)


# ----------------------------------------------------------------------------- implicit derivative


def _optimality(static: _Static, theta, n, X, y, s, l2, l1):
    """``G = grad f(theta) + l1 sign(theta)`` (coefficients), the condition the minimiser zeroes
    on the free coordinates; a function of the data and penalties at fixed ``theta``."""
    problem = _problem(static, X, y, s, l2, l1)
    _, grad = problem.value_and_grad(theta)
    return grad + l1 * jnp.sign(theta) * problem.penalty_weight[:, None]


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _argmin(static: _Static, X, y, s, l2, l1, tol, steps):
    return _forward(static, X, y, s, l2, l1, tol, steps)


@_argmin.defjvp
def _argmin_jvp(static: _Static, primals, tangents):
    X, y, s, l2, l1, tol, steps = primals
    dX, dy, ds, dl2, dl1, _, _ = tangents
    theta, info = _argmin(static, *primals)
    n = X.shape[1]
    free, matvec, linear_solve = active_set.newton_system(_problem(static, X, y, s, l2, l1), theta, dense=static.dense)

    # right-hand side: d_p G . dp at fixed theta (y only when it is a float: soft labels)
    if jnp.issubdtype(y.dtype, jnp.floating):
        def G(X, y, s, l2, l1):
            return _optimality(static, theta, n, X, y, s, l2, l1)
        _, rhs = jax.jvp(G, (X, y, s, l2, l1), (dX, dy, ds, dl2, dl1))
    else:
        def G(X, s, l2, l1):
            return _optimality(static, theta, n, X, y, s, l2, l1)
        _, rhs = jax.jvp(G, (X, s, l2, l1), (dX, ds, dl2, dl1))
    rhs = jnp.where(free, rhs, 0.0)
    dtheta = -jax.lax.custom_linear_solve(matvec, rhs, linear_solve, symmetric=True)
    zero_info = SolveInfo(*(np.zeros(np.shape(a), jax.dtypes.float0) if not jnp.issubdtype(a.dtype, jnp.floating)
                            else jnp.zeros_like(a) for a in info))
    return (theta, info), (dtheta, zero_info)


def _solve_params(static: _Static, X, y, s, l2, l1, tol, steps):
    theta, info = _argmin(static, X, y, s, l2, l1, tol, steps)
    n, C = X.shape[1], static.n_outputs
    coef, intercept = theta[: n * C, 0], theta[n * C:, 0]
    if C == 1:
        return Params(coef.reshape(n), intercept.reshape(())), info
    return Params(coef.reshape(n, C), intercept), info


# the engine's XLA:CPU options (compile 2-5x faster); nested in a caller's jit, the caller's apply
_PROGRAMS = {kind: jax.jit(_solve_params, static_argnums=(0,), compiler_options=options)
             for kind, options in OPTIONS.items()}


# ----------------------------------------------------------------------------- the entry point


def _concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _as_array(x, dtype=None):
    """Host data to the device without compiling anything; jax arrays and tracers as they are."""
    if isinstance(x, jax.Array):  # tracers included
        return x if dtype is None or x.dtype == dtype else x.astype(dtype)
    arr = np.asarray(x)
    return jax.device_put(arr if dtype is None else arr.astype(dtype))


def _check_penalty(name, value, dtype):
    """A scalar penalty: concrete ones checked (finite, >= 0), tracers trusted."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got a bool")
    if not hasattr(value, "dtype"):
        try:
            value = np.asarray(value)
        except Exception:
            raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if value.ndim != 0:
        raise ValueError(f"{name} must be a scalar (vmap over an array of values), got shape {value.shape}")
    if not jnp.issubdtype(value.dtype, jnp.integer) and not jnp.issubdtype(value.dtype, jnp.floating):
        raise TypeError(f"{name} must be a real number, got dtype {value.dtype}")
    if _concrete(value):
        check_scalar(name, float(value), minimum=0.0)
    return _as_array(value, dtype)


def solve(X, y, *, l2=0.0, l1=0.0, sample_weight=None, fit_intercept: bool = True, solver: str = "auto",
          tol="auto", steps: int = 1000, n_classes: int | None = None, return_info: bool = False):
    """The minimiser of ``sum_i s_i loss_i / sum_i s_i + l1 ||w||_1 + 0.5 l2 ||w||^2`` (intercept
    unpenalized) as a pure function: ``Params(coef, intercept)``, differentiable in ``X``, ``y``
    (float labels), ``sample_weight``, ``l2`` and ``l1`` by implicit differentiation.

    Works under ``jax.jit``, ``jax.vmap``, ``jax.grad`` / ``jax.jvp``; see the module docstring
    for the derivative at non-smooth points (L1 at zero: the active set), for the multinomial
    representative, and what happens without convergence.

    ``y``: binary labels in [0, 1] (floats, soft labels allowed) or integer class codes
    ``0 .. C-1`` (C > 2: multinomial, ``coef`` (n, C), ``intercept`` (C,)). Labels are not
    re-encoded (``jaxlr.fit`` maps arbitrary labels; ``solve`` is a function of numbers).
    ``n_classes``: needed for integer labels under tracing (otherwise read off concrete labels);
    float labels are binary. ``sample_weight`` (m,): non-negative, positive sum.

    ``l2``, ``l1``: scalars (arrays or tracers: ``vmap`` over them). ``solver``: ``"newton"``
    (exact Hessian), ``"lbfgs"``, ``"fista"`` (handles L1) or ``"auto"``: ``"fista"`` when ``l1``
    may be non-zero (a traced ``l1``, or a concrete one > 0), else ``"newton"`` up to
    ``NEWTON_MAX_PARAMS`` parameters and ``"lbfgs"`` above. ``tol``: the optimality residual to
    reach (``"auto"``: 1e-10 in float64, 1e-5 in float32, tight because the derivative's error is
    of the order of the residual); ``steps``: the iteration budget. The dtype follows ``X``.

    ``return_info=True`` returns ``(params, SolveInfo)``. Each call shape / dtype / static option
    set compiles one program (``jit`` inside; nested in your own ``jit`` it is inlined).
    """
    # shapes and static options: always known, checked before anything is traced or compiled
    X, dtype = _check_X(X)
    m, n = X.shape
    for name, value in (("fit_intercept", fit_intercept), ("return_info", return_info)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {value!r}")
    if not isinstance(solver, str) or solver not in NAMES:
        raise ValueError(f"solver must be one of {', '.join(NAMES)}, got {solver!r}")
    y, C = _labels(y, m, n_classes, dtype)
    s = _weights(sample_weight, m, dtype)
    l2 = _check_penalty("l2", l2, dtype)
    l1_zero = _concrete(l1) and np.ndim(l1) == 0 and float(np.asarray(l1)) == 0.0  # only then may a
    l1 = _check_penalty("l1", l1, dtype)  # smooth solver ignore the L1 term
    n_params = (n + int(fit_intercept)) * C
    if solver == "auto":
        solver = "fista" if not l1_zero else ("newton" if n_params <= NEWTON_MAX_PARAMS else "lbfgs")
    elif not LINE_SEARCH[solver].handles_l1 and not l1_zero:
        raise ValueError(f"solver={solver!r} ignores l1; with l1 > 0 or a traced l1 use solver='fista' or 'auto'")
    tol, steps, budget = _budget(tol, steps, dtype)

    static = _Static(LINE_SEARCH[solver], C, bool(fit_intercept), n_params <= active_set.DENSE_MAX_PARAMS)
    args = (_as_array(X, dtype), y, s, l2, l1, tol, steps)
    # host data became device arrays above (tracers inside a caller's jit): a top-level call
    # gets the engine's compiler options, a traced one (jit, grad, vmap) plain jit, inlined
    traced = any(not _concrete(a) for a in args)
    kind = "default" if traced else program_kind(m, n, 1, C, static.solver, budget)
    program = _PROGRAMS.get(kind, _PROGRAMS["cpu"])
    params, info = program(static, *args)
    return (params, info) if return_info else params


def _check_X(X):
    """X's shape and dtype (always known), its values when concrete; (X, compute dtype)."""
    if not hasattr(X, "shape"):
        X = _data.check_features(X)
    if len(X.shape) != 2 or 0 in X.shape:
        raise ValueError(f"X must be a non-empty 2-D array (n_samples, n_features), got shape {tuple(X.shape)}")
    if not (jnp.issubdtype(X.dtype, jnp.number) or X.dtype == np.bool_) or jnp.iscomplexobj(X):
        raise ValueError(f"X must be real numbers, got dtype {X.dtype}")
    dtype = _data.float_dtype(X.dtype)
    if _concrete(X):
        X = _data.check_features(X).astype(dtype, copy=False)
    return X, dtype


def _labels(y, m: int, n_classes, dtype):
    """(labels on the device, C): binary labels in [0, 1] as floats, else integer codes."""
    if not hasattr(y, "shape"):
        y = np.asarray(y)
    if len(y.shape) != 1 or y.shape[0] != m:
        raise ValueError(f"y must have shape ({m},) (one label per row of X), got {tuple(y.shape)}")
    n_classes = _check_classes(y, n_classes)
    if n_classes > 2:
        return _as_array(y, np.int32), n_classes
    y = _as_array(y, dtype)
    if _concrete(y) and not bool(np.all((np.asarray(y) >= 0) & (np.asarray(y) <= 1))):
        raise ValueError("y: binary labels must lie in [0, 1]")
    return y, 1


def _weights(sample_weight, m: int, dtype):
    if sample_weight is None:
        return jax.device_put(np.ones(m, dtype))
    if not hasattr(sample_weight, "shape"):
        sample_weight = np.asarray(sample_weight)
    if tuple(sample_weight.shape) != (m,):
        raise ValueError(f"sample_weight must have shape ({m},), got {tuple(sample_weight.shape)}")
    if _concrete(sample_weight):
        sample_weight = _data.check_sample_weight(np.asarray(sample_weight), m, dtype)
    return _as_array(sample_weight, dtype)


def _budget(tol, steps, dtype):
    """(tol, steps) on the device and the budget the compiler options are chosen for."""
    if isinstance(tol, str):
        if tol != "auto":
            raise ValueError(f"tol must be a non-negative number or 'auto', got {tol!r}")
        tol = AUTO_TOL.get(np.dtype(dtype), 1e-5)
    if np.ndim(tol) != 0:
        raise ValueError(f"tol must be a scalar, got shape {np.shape(tol)}")
    if _concrete(tol):
        tol = check_scalar("tol", tol, minimum=0.0)
    if _concrete(steps):
        steps = check_scalar("steps", steps, minimum=0, maximum=2**31 - 1, integer=True)
    budget = steps if isinstance(steps, int) else 1000  # for the choice of compiler options only
    return _as_array(tol, dtype), _as_array(steps, np.int32), budget


def _check_classes(y, n_classes) -> int:
    """The number of classes: given, read off concrete integer codes, or 2 for float labels."""
    integer = jnp.issubdtype(y.dtype, jnp.integer) or y.dtype == np.bool_
    if n_classes is not None:
        n_classes = check_scalar("n_classes", n_classes, minimum=2, integer=True)
        if n_classes > 2 and not integer:
            raise TypeError(f"y: {n_classes} classes need integer class codes, got dtype {y.dtype}")
    elif not integer:
        if not jnp.issubdtype(y.dtype, jnp.floating):
            raise TypeError(f"y must be numbers (class codes or binary labels), got dtype {y.dtype}")
        n_classes = 2
    elif not _concrete(y):
        raise ValueError("n_classes: y holds traced integer codes; pass n_classes (2 for binary)")
    else:
        n_classes = max(2, int(np.max(np.asarray(y))) + 1)
    if integer and _concrete(y):
        codes = np.asarray(y)
        if codes.min() < 0 or codes.max() >= n_classes:
            raise ValueError(f"y: class codes must lie in 0 .. {n_classes - 1}, got {codes.min()} .. {codes.max()}")
    return n_classes


__all__ = ["solve", "SolveInfo"]
