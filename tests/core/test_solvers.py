"""Solvers reach the optimum scikit-learn and statsmodels report (float64)."""

import warnings

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import jaxlr
from jaxlr.losses import objective, smooth_objective
from jaxlr import Params

from conftest import make_problem


def relative_error(got, ref):
    return np.abs(got - ref).max() / np.abs(ref).max()


def sklearn_fit(X, y, **kwargs):
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # saga at tight tolerance may warn; we compare objectives
        return LogisticRegression(**{"max_iter": 100_000, **kwargs}).fit(X, y)


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_l2_matches_scikit_learn_on_breast_cancer(cancer, C, fit_intercept):
    X, y = cancer
    sk = sklearn_fit(X, y, C=C, tol=1e-12, fit_intercept=fit_intercept)
    ref = np.append(sk.coef_[0], sk.intercept_)
    for solver in ("lbfgs", "newton"):
        r = jaxlr.fit(X, y, solver=solver, l2=1 / (C * len(y)), tol=1e-10, steps=5000,
                      fit_intercept=fit_intercept)
        assert r.converged, solver
        assert relative_error(np.append(r.coef, r.intercept), ref) < 1e-4, solver


@pytest.mark.parametrize("C, l1_ratio", [(0.1, 1.0), (1.0, 0.5)])
def test_l1_and_elastic_net_objective_no_worse_than_saga(cancer, C, l1_ratio):
    X, y = cancer
    m = len(y)
    sk = sklearn_fit(X, y, C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-10, max_iter=20_000)
    l1, l2 = l1_ratio / (C * m), (1 - l1_ratio) / (C * m)
    r = jaxlr.fit(X, y, l1=l1, l2=l2, tol=1e-9, steps=20_000)  # "auto" picks fista
    assert r.config["solver"] == "fista" and r.converged
    ours = float(objective(r.params, X, y.astype(float), None, l1, l2))
    theirs = float(objective(Params(sk.coef_[0], sk.intercept_[0]), X, y.astype(float), None, l1, l2))
    assert ours <= theirs + 1e-12 * abs(theirs)
    np.testing.assert_array_equal(np.asarray(r.coef) != 0, sk.coef_[0] != 0)  # same support


def test_integer_sample_weight_equals_repeated_rows(cancer):
    X, y = cancer[0][:200, :6], cancer[1][:200]
    w = np.random.default_rng(0).integers(0, 4, len(y))
    for solver in ("lbfgs", "newton"):
        a = jaxlr.fit(X, y, sample_weight=w, l2=1e-3, solver=solver, tol=1e-10)
        b = jaxlr.fit(np.repeat(X, w, axis=0), np.repeat(y, w), l2=1e-3, solver=solver, tol=1e-10)
        np.testing.assert_allclose(np.append(a.coef, a.intercept), np.append(b.coef, b.intercept), rtol=1e-6)


def test_class_weight_balanced_matches_scikit_learn(cancer):
    X, y = cancer
    C = 0.5
    sk = sklearn_fit(X, y, C=C, tol=1e-12, class_weight="balanced")
    # "balanced" weights sum to n_samples, so l2 = 1 / (C * m) as without weights
    r = jaxlr.fit(X, y, class_weight="balanced", l2=1 / (C * len(y)), tol=1e-10, solver="newton")
    assert relative_error(np.append(r.coef, r.intercept), np.append(sk.coef_[0], sk.intercept_)) < 1e-4


def test_class_weight_dict_matches_scikit_learn(cancer):
    X, y = cancer
    C, class_weight = 1.0, {0: 3.0, 1: 0.5}
    sk = sklearn_fit(X, y, C=C, tol=1e-12, class_weight=class_weight)
    total = np.where(y == 0, 3.0, 0.5).sum()
    r = jaxlr.fit(X, y, class_weight=class_weight, l2=1 / (C * total), tol=1e-10, solver="lbfgs")
    assert relative_error(np.append(r.coef, r.intercept), np.append(sk.coef_[0], sk.intercept_)) < 1e-4


def test_unpenalized_fit_equals_statsmodels_logit():
    import statsmodels.api as sm

    data = sm.datasets.spector.load_pandas()  # a real dataset whose MLE exists
    X, y = data.exog.to_numpy(float), data.endog.to_numpy(float)
    sm_fit = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-14, maxiter=100)
    ref = np.append(sm_fit.params[1:], sm_fit.params[0])
    for solver in ("newton", "lbfgs"):
        r = jaxlr.fit(X, y, solver=solver, tol=1e-9, steps=2000)
        assert r.converged, solver
        np.testing.assert_allclose(np.append(r.coef, r.intercept), ref, rtol=1e-6, atol=1e-8)


def test_sweep_over_eight_C_values_matches_scikit_learn(cancer):
    X, y = cancer
    Cs = np.logspace(-3, 2, 8)
    result = jaxlr.sweep(X, y, l2=1 / (Cs * len(y)), solver="lbfgs", tol=1e-10, steps=5000)
    assert result.converged.all()
    assert len(set(np.asarray(result.n_iter).tolist())) > 1
    for k, C in enumerate(Cs):
        sk = sklearn_fit(X, y, C=C, tol=1e-12)
        got = np.append(result.coef[k], result.intercept[k])
        assert relative_error(got, np.append(sk.coef_[0], sk.intercept_)) < 1e-4, C


SHAPES = [(30, 3), (50, 5)]


@given(
    shape=st.sampled_from(SHAPES),
    seed=st.integers(0, 2**31 - 1),
    solver=st.sampled_from(["lbfgs", "newton", "fista"]),
    l1=st.sampled_from([0.0, 0.01, 0.05]),
    l2=st.sampled_from([0.0, 0.01, 1.0]),
    fit_intercept=st.booleans(),
)
def test_optimality_holds_at_the_returned_solution(shape, seed, solver, l1, l2, fit_intercept):
    """With tol, the returned point satisfies the optimality conditions to tol, checked here
    independently of the solver's own residual: |g_j| <= l1 + tol for every j, and
    |g_j + l1 sign(w_j)| <= tol where w_j is clearly non-zero (g: gradient of the smooth part)."""
    if l1 > 0 and solver != "fista":
        solver = "fista"
    if l1 == 0 and l2 == 0:
        l2 = 0.001  # unpenalized random problems may be separable: no optimum to check
    X, y = make_problem(*shape, seed=seed % 1000)
    tol = 1e-7
    r = jaxlr.fit(X, y, solver=solver, l1=l1, l2=l2, tol=tol, steps=20_000, fit_intercept=fit_intercept)
    assert r.converged
    g = jax.grad(smooth_objective)(r.params, X, y, None, l2, fit_intercept)
    w, gw = np.asarray(r.coef), np.asarray(g.coef)
    assert np.all(np.abs(gw) <= l1 + tol)
    clear = np.abs(w) > tol
    assert np.all(np.abs(gw[clear] + l1 * np.sign(w[clear])) <= tol)
    assert abs(float(g.intercept)) <= tol
    if not fit_intercept:
        assert float(r.intercept) == 0.0


def test_newton_survives_a_singular_hessian():
    """A duplicated and an all-zero column make the unpenalized Hessian singular: the damped
    Cholesky still finds descent steps and the gradient still reaches tol."""
    X, y = make_problem(m=80, n=3, seed=5)
    reduced = jaxlr.fit(X, y, solver="newton", tol=1e-9, steps=100)
    r = jaxlr.fit(np.hstack([X, X[:, :1], np.zeros((80, 1))]), y, solver="newton", tol=1e-9, steps=100)
    assert r.converged
    assert float(r.coef[4]) == 0.0  # a feature that is always zero never moves
    # only the twins' sum is identified: it equals the weight of the single column
    np.testing.assert_allclose(r.coef[0] + r.coef[3], reduced.coef[0], rtol=1e-7)
    np.testing.assert_allclose(r.coef[1:3], reduced.coef[1:3], rtol=1e-7)


def test_vmapped_newton_does_not_stall_at_rounding_level():
    """A lane whose last Newton decrease is below float resolution must still converge in
    gradient (this grid once left one of its 50 lanes at residual 2.7e-10 for the whole budget,
    accepting ever tinier steps along the unpenalized softmax-intercept direction)."""
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Cs = np.logspace(-2, 2, 10)
    result = jaxlr.sweep(X, y, l2=1 / (Cs * len(y)), solver="newton", tol=1e-10, steps=300, folds=5)
    assert result.converged.all()
    assert int(np.max(result.n_iter)) <= 15  # alone, each of these fits takes at most 12


def test_backtracking_takes_the_largest_armijo_step_per_lane():
    """Lanes of ``f(x) = a x^2`` from ``x = 1`` along ``d = -s``: Armijo asks
    ``(1 - t s)^2 <= 1 - 2 c t s``, so ``s = 1`` takes ``t = 1`` (to the minimum, any ``a``) and
    ``s = 4`` fails at 1 and 1/2 and takes 1/4 (the minimum again). A lane not active stays
    (``t = 0``, ``f = inf``); a lane whose ``f`` is NaN never qualifies (``t = 0``)."""
    import jax.numpy as jnp

    from jaxlr._core.steps import backtracking

    a = jnp.array([1.0, 3.0, 1.0, 1.0, 1.0])
    scale = jnp.array([1.0, 1.0, 4.0, 1.0, 1.0])
    theta = jnp.ones((1, 5))
    direction = -scale[None, :] * theta
    active = jnp.array([True, True, True, False, True])
    broken = jnp.array([False, False, False, False, True])

    def evaluate(p):
        f = jnp.where(broken, jnp.nan, a * p[0] ** 2)
        return f, 2 * a * p

    value, grad = evaluate(theta)
    slope = jnp.sum(grad * direction, axis=0)
    t, f, g = backtracking(evaluate, theta, value, slope, direction, active, jnp.ones(5))
    np.testing.assert_array_equal(np.asarray(t), [1.0, 1.0, 0.25, 0.0, 0.0])
    np.testing.assert_allclose(np.asarray(f)[:3], [0.0, 0.0, 0.0], atol=0)
    np.testing.assert_allclose(np.asarray(g)[0, :3], [0.0, 0.0, 0.0], atol=0)
    assert np.isinf(np.asarray(f)[3])


def _square_lanes(scale):
    """Lanes of ``f = x^2`` from ``x = 1`` along ``d = -s x`` (``s = scale``, one per lane): the
    line search's arguments ``(evaluate, theta, value, slope, direction, directional)``."""
    import jax.numpy as jnp

    theta = jnp.ones((1, len(scale)))
    direction = -jnp.asarray(scale)[None, :] * theta

    def evaluate(p):
        return p[0] ** 2, 2 * p

    value, grad = evaluate(theta)
    slope = jnp.sum(grad * direction, axis=0)
    return evaluate, theta, value, slope, direction, lambda g: jnp.sum(g * direction, axis=0)


def test_backtracking_with_slopes_steps_to_the_cubic_minimum():
    """With the slope at each trial, a failed trial is followed by the minimiser of the cubic
    through ``(0, f, g.d)`` and ``(t, f_t, g_t.d)``; on ``f = x^2`` from ``x = 1`` along ``-s``
    that is the exact minimum ``t = 1/s`` whenever it lies in ``[0.1 t, 0.9 t]``. ``s = 4``: one
    failed trial, then ``t = 1/4``. ``s = 40``: ``1/40`` is below ``0.1 t``, so the trials halve
    until it is not, then land on it. Halving alone accepts ``1/32`` (not the minimum)."""
    import jax.numpy as jnp

    from jaxlr._core.steps import backtracking

    evaluate, theta, value, slope, direction, directional = _square_lanes([1.0, 4.0, 40.0])
    t, f, g = jax.jit(lambda: backtracking(evaluate, theta, value, slope, direction, jnp.ones(3, bool), jnp.ones(3),
                                           directional=directional))()
    np.testing.assert_allclose(np.asarray(t), [1.0, 0.25, 0.025], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(f), 0.0, atol=1e-24)
    np.testing.assert_allclose(np.asarray(g), 0.0, atol=1e-12)
    t_half, _, _ = backtracking(evaluate, theta, value, slope, direction, jnp.ones(3, bool), jnp.ones(3))
    np.testing.assert_array_equal(np.asarray(t_half), [1.0, 0.25, 1 / 32])


def test_wolfe_lanes_search_for_the_strong_wolfe_conditions():
    """Lanes of ``f = x^2`` from ``x = 1`` along ``d = -s x``, every trial from ``t = 1``. Armijo
    lanes take ``t = 1`` however short the step (``s = 1e-4``: f falls by 2e-4 of its way). Lanes
    marked ``wolfe`` search for the strong Wolfe conditions, ``f(t) <= f(0) + 1e-3 t g.d`` and
    ``|g(t).d| <= 0.9 |g.d|``: the short step is lengthened, the far one (``s = 30``, past the
    minimum at ``t = 1/30`` and up the other side) is brought back, and one already there stays."""
    import jax.numpy as jnp

    from jaxlr._core.steps import backtracking

    evaluate, theta, value, slope, direction, directional = _square_lanes([1e-4, 1e-4, 30.0, 0.9])
    wolfe = jnp.array([False, True, True, True])
    t, f, g = jax.jit(lambda: backtracking(evaluate, theta, value, slope, direction, jnp.ones(4, bool), jnp.ones(4),
                                           directional=directional, wolfe=wolfe))()
    t, f, slope_t = np.asarray(t), np.asarray(f), np.asarray(directional(g))
    assert t[0] == 1.0
    searched = np.asarray(wolfe)
    assert np.all(f[searched] <= np.asarray(value)[searched] + 1e-3 * t[searched] * np.asarray(slope)[searched])
    assert np.all(np.abs(slope_t[searched]) <= 0.9 * np.abs(np.asarray(slope)[searched]))
    assert t[1] > 100 and t[2] < 1 / 15 and t[3] == 1.0
    np.testing.assert_allclose(f, np.asarray(evaluate(theta + t * direction)[0]), rtol=1e-12, atol=1e-20)


def test_lbfgs_from_zero_follows_scipys_iterates():
    """From zero, jaxlr's L-BFGS takes L-BFGS-B's steps (memory 10, float64): its first step
    searches as scipy's does (from the unit step, for the strong Wolfe conditions) and the later
    full steps are the same two-loop directions, so the objective after each of the first
    iterations equals scipy's to rounding. Backtracking from the full step ``-g`` (length
    ``||g||``) took other iterates from the first step on."""
    import scipy.sparse as sp
    from scipy.optimize import minimize

    rng = np.random.default_rng(7)
    X = sp.random(3000, 2000, density=0.01, format="csr", random_state=rng)
    X.data = np.ones_like(X.data)
    y = (X @ rng.standard_normal(2000) + 0.3 * rng.standard_normal(3000) > 0.1).astype(float)
    m, l2 = X.shape[0], 1e-4

    def fun(theta):
        w, b = theta[:-1], theta[-1]
        z = X @ w + b
        r = (1.0 / (1.0 + np.exp(-z)) - y) / m
        return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * (w @ w), np.concatenate([X.T @ r + l2 * w, [r.sum()]])

    values = [fun(np.zeros(X.shape[1] + 1))[0]]
    minimize(fun, np.zeros(X.shape[1] + 1), jac=True, method="L-BFGS-B",
             callback=lambda intermediate_result: values.append(intermediate_result.fun),
             options={"maxcor": 10, "maxiter": 8, "gtol": 1e-12, "ftol": 0.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stopped at the budget of steps, as asked
        history = np.asarray(jaxlr.fit(X, y, l2=l2, solver="lbfgs", tol=1e-12, steps=8).loss_history)
    assert len(history) == 8
    np.testing.assert_allclose(history, values[:8], rtol=1e-9)


def test_lbfgs_needs_no_more_iterations_than_scipy():
    """jaxlr's L-BFGS from zero (memory 10, float64) against scipy's L-BFGS-B on the same
    objective (mean log-loss + l2/2 ||w||^2), iterations to an objective gap of 1e-6 on six
    make_classification sets: no more in total, and at most one more on any set. Halving in the
    line search needed 124 in total where scipy needs 114, and five more on one set."""
    from scipy.optimize import minimize
    from sklearn.datasets import make_classification

    ours, theirs = [], []
    for seed in range(6):
        X, y = make_classification(5000, 30, n_informative=15, random_state=seed)
        y = y.astype(float)
        m, l2 = X.shape[0], 1.0 / X.shape[0]

        def fun(theta, X=X, y=y, m=m, l2=l2):
            w, b = theta[:-1], theta[-1]
            z = X @ w + b
            r = (1.0 / (1.0 + np.exp(-z)) - y) / m
            return (np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * (w @ w),
                    np.concatenate([X.T @ r + l2 * w, [r.sum()]]))

        f_star = float(jaxlr.fit(X, y, l2=l2, solver="newton", tol=1e-12, steps=100).objective)
        fit = jaxlr.fit(X, y, l2=l2, solver="lbfgs", tol=1e-10, steps=200)
        history = np.asarray(fit.loss_history)[: int(fit.n_iter) + 1]
        values = [fun(np.zeros(X.shape[1] + 1))[0]]
        minimize(fun, np.zeros(X.shape[1] + 1), jac=True, method="L-BFGS-B",
                 callback=lambda intermediate_result: values.append(intermediate_result.fun),
                 options={"maxcor": 10, "maxiter": 200, "gtol": 1e-10, "ftol": 0.0})
        ours.append(int(np.flatnonzero(history - f_star <= 1e-6)[0]))
        theirs.append(int(np.flatnonzero(np.asarray(values) - f_star <= 1e-6)[0]))
    assert sum(ours) <= sum(theirs), (ours, theirs)
    assert max(a - b for a, b in zip(ours, theirs)) <= 1, (ours, theirs)


def test_softmax_newton_factors_at_once_and_takes_the_minimum_norm_step():
    """Adding one value to a row's class entries leaves a softmax unchanged, so with an
    unpenalized intercept (and, at l2 = 0, unpenalized coefficients) the Hessian is singular.
    Newton's system must still factor on the first try (no damping) for every lane, and its step
    be the minimum-norm solution of ``H d = -g`` for the objective's own Hessian."""
    import jax.numpy as jnp

    from jaxlr._core.design import dense
    from jaxlr._core.newton import damped_newton_direction
    from jaxlr._core.problem import Hyper, Problem

    rng = np.random.default_rng(11)
    m, n, C = 60, 3, 3
    X = np.hstack([rng.standard_normal((m, n)), np.zeros((m, 1))])  # a padding column: no curvature
    y = jnp.asarray(rng.integers(0, C, m))
    l2 = jnp.array([0.1, 0.0])
    K = l2.shape[0]
    hyper = Hyper(jnp.ones(K), jnp.zeros(K), l2, jnp.ones(K))
    problem = Problem(dense(X), y, jnp.full((m, K), 1.0 / m), hyper, True, C, n + 1)
    theta = jnp.asarray(0.3 * rng.standard_normal(((n + 1) * C + C, K))).at[n * C:(n + 1) * C].set(0.0)
    _, grad, hessian = problem.value_grad_hessian(theta)
    live = np.arange(theta.shape[0]) // C != n  # the padding column's rows: Newton's unit diagonal
    assert bool(jnp.all(jnp.isfinite(jnp.linalg.cholesky(hessian[:, live][:, :, live]))))
    direction = damped_newton_direction(hessian, grad, jnp.ones(K, bool))
    for k in range(K):
        exact = np.asarray(jax.hessian(lambda p: problem.value(theta.at[:, k].set(p))[k])(theta[:, k]))
        assert np.linalg.eigvalsh(exact[np.ix_(live, live)])[0] < 1e-12  # singular: the case is real
        expected = -np.linalg.pinv(exact[np.ix_(live, live)], rcond=1e-10) @ np.asarray(grad)[live, k]
        np.testing.assert_allclose(np.asarray(direction)[live, k], expected, rtol=1e-8, atol=1e-12)
        np.testing.assert_array_equal(np.asarray(direction)[~live, k], 0.0)


@pytest.fixture
def count_calls(monkeypatch):
    """``count_calls(method)``: a list that grows by one each time a compiled program runs
    ``Problem.<method>``. JAX's caches are cleared before (programs of the same shape bucket,
    traced by earlier tests, hold no counter) and after (the counting programs go with the patch)."""
    from jaxlr._core.problem import Problem

    def patch(method: str) -> list:
        calls = []
        inner = getattr(Problem, method)

        def counted(self, theta):
            out = inner(self, theta)
            jax.debug.callback(lambda: calls.append(None))
            return out

        monkeypatch.setattr(Problem, method, counted)
        jax.clear_caches()
        return calls

    yield patch
    monkeypatch.undo()
    jax.clear_caches()


def test_lbfgs_at_tolerance_evaluates_nothing_more(count_calls):
    """L-BFGS's state holds f and its gradient at the current parameters, so a lane already at
    tolerance stops before its line search evaluates anything, and the summary at the end
    evaluates nothing: warm-started at its optimum, a fit evaluates the objective once (its start;
    three times before: start, one line-search trial, summary). From zero, the evaluations are the
    start plus the line-search trials of its steps, at most one more than its iterations here."""
    calls = count_calls("value_and_grad")
    rng = np.random.default_rng(11)
    X = rng.standard_normal((211, 7))
    y = (X[:, 0] + rng.standard_normal(211) > 0).astype(float)
    first = jaxlr.fit(X, y, solver="lbfgs", l2=0.1, tol=1e-9)
    from_zero = len(calls)
    assert int(first.n_iter) + 1 <= from_zero <= int(first.n_iter) + 2
    calls.clear()
    again = jaxlr.fit(X, y, solver="lbfgs", l2=0.1, tol=1e-8, init=first)
    assert int(again.n_iter) == 0 and again.converged
    assert len(calls) == 1
    np.testing.assert_allclose(float(again.objective), float(first.objective), rtol=1e-15)


def test_newton_at_tolerance_computes_no_hessian(count_calls):
    """Newton's line search keeps f and its gradient at the accepted trial, so a lane at tolerance
    is known before its step, and a step with no lane left is skipped: from zero, one Hessian per
    iteration (one more before: the step that found the lane converged); warm-started at its
    optimum, none."""
    calls = count_calls("value_grad_hessian")
    rng = np.random.default_rng(12)
    X = rng.standard_normal((203, 6))
    y = (X[:, 1] + rng.standard_normal(203) > 0).astype(float)
    first = jaxlr.fit(X, y, solver="newton", l2=0.1, tol=1e-9)
    assert first.converged and len(calls) == int(first.n_iter) > 0
    calls.clear()
    again = jaxlr.fit(X, y, solver="newton", l2=0.1, tol=1e-8, init=first)
    assert int(again.n_iter) == 0 and again.converged and not calls


@pytest.mark.parametrize("solver", ["lbfgs", "newton"])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_reprice_gives_f_and_its_gradient_at_the_new_l2(solver, n_outputs):
    """A path's next point starts from the previous point's solver state repriced to its own L2
    strength, with no evaluation: f and its gradient must equal a fresh evaluation's, intercept
    penalty (liblinear's intercept_scaling) and class rows included."""
    import jax.numpy as jnp

    from jaxlr._core.design import DenseDesign
    from jaxlr._core.problem import Hyper, Problem
    from jaxlr._core.solvers import get

    rng = np.random.default_rng(5)
    m, n, K = 40, 3, 2
    X = rng.standard_normal((m, n))
    y = rng.integers(0, max(2, n_outputs), m).astype(float if n_outputs == 1 else np.int32)
    theta = jnp.asarray(rng.standard_normal(((n + 1) * n_outputs, K)))
    S = jnp.asarray(rng.random((m, K)) + 0.5)

    def problem(l2):
        hyper = Hyper(*(jnp.asarray(v) for v in (np.ones(K), np.zeros(K), np.asarray(l2), np.full(K, 1e-4))))
        return Problem(DenseDesign(jnp.asarray(X)), jnp.asarray(y), S, hyper, True, n_outputs, n,
                       intercept_weight=0.5)

    old, new = problem([0.3, 1e-3]), problem([0.1, 2e-2])
    s = get(solver)
    delta = new.l2_weight[:, None] * (new.l2 - old.l2)[None, :]
    moved = s.known_info(theta, s.reprice(s.init(theta, old), theta, delta))
    fresh = s.known_info(theta, s.init(theta, new))
    np.testing.assert_allclose(moved.value, fresh.value, rtol=1e-13)
    np.testing.assert_allclose(moved.residual, fresh.residual, rtol=1e-12)
    assert not np.allclose(moved.value, s.known_info(theta, s.init(theta, old)).value)


@pytest.mark.parametrize("solver", ["lbfgs", "newton"])
def test_a_path_point_already_at_tolerance_evaluates_nothing(count_calls, solver):
    """On a path, each point continues its neighbour's state at its own L2 strength: points whose
    start already meets the tolerance stop with no evaluation (before, each point evaluated its
    start), and every point still equals its separate fit."""
    calls = count_calls("value_and_grad")
    rng = np.random.default_rng(13)
    X = rng.standard_normal((157, 5))
    y = (X[:, 0] + rng.standard_normal(157) > 0).astype(float)
    l2 = [0.1, 0.1 * (1 - 1e-12), 0.1 * (1 - 2e-12)]
    first = jaxlr.fit(X, y, solver=solver, l2=l2[0], tol=1e-8)
    alone = len(calls)
    calls.clear()
    swept = jaxlr.fit_many(X, y, l2=l2, solver=solver, tol=1e-8, path=True)
    assert swept.config["path"]
    np.testing.assert_array_equal(swept.n_iter[1:], 0)
    assert len(calls) == alone  # the first point's evaluations only
    assert (swept.status == jaxlr.Status.CONVERGED).all()
    for k in range(3):
        np.testing.assert_allclose(swept.objective[k], float(jaxlr.fit(X, y, solver=solver, l2=l2[k], tol=1e-8).objective),
                                   rtol=1e-12)


def test_solvers_that_leave_inactive_lanes_return_their_state_as_it_was():
    """``leaves_inactive_lanes``: the loop keeps such a solver's new state for every lane without
    selecting it, so a step must leave each lane that is not active exactly as it was (the
    counters every lane shares aside), once L-BFGS's pair memory is full."""
    import jax.numpy as jnp

    from jaxlr._core.design import DenseDesign
    from jaxlr._core.problem import Hyper, Problem
    from jaxlr._core.solvers import SOLVERS

    rng = np.random.default_rng(6)
    m, n, K = 60, 4, 3
    X = rng.standard_normal((m, n))
    y = (X[:, 0] + rng.standard_normal(m) > 0).astype(float)
    hyper = Hyper(*(jnp.asarray(v) for v in (np.ones(K), np.zeros(K), np.array([1e-3, 1e-2, 1e-1]), np.full(K, 1e-8))))
    problem = Problem(DenseDesign(jnp.asarray(X)), jnp.asarray(y), jnp.full((m, K), 1.0 / m), hyper, True, 1, n)
    leaving = [name for name, solver in SOLVERS.items() if solver.leaves_inactive_lanes]
    assert "lbfgs" in leaving
    for name in leaving:
        solver = SOLVERS[name]
        step = jax.jit(lambda theta, state, active: solver.step(theta, state, problem, active))
        theta = jnp.zeros((n + 1, K))
        state = solver.init(theta, problem)
        everyone = jnp.ones(K, bool)
        for _ in range(11):  # past L-BFGS's memory of 10: the next pair replaces a kept one
            theta, state, _ = step(theta, state, everyone)
        if name == "lbfgs":
            assert np.all(np.asarray(state.s)[int(state.offered) % solver.memory, :, 1] != 0)
        active = jnp.array([True, False, True])
        new_theta, new_state, _ = step(theta, state, active)
        np.testing.assert_array_equal(new_theta[:, 1], theta[:, 1])
        for new, old in zip(jax.tree_util.tree_leaves(new_state), jax.tree_util.tree_leaves(state)):
            if jnp.ndim(old):
                np.testing.assert_array_equal(np.asarray(new)[..., 1], np.asarray(old)[..., 1])
        assert not np.array_equal(new_theta[:, 0], theta[:, 0])  # an active lane moved
