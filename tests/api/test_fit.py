"""fit: the compiled loop equals the textbook loop, compiles once, and reports honestly."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlr
from jaxlr.losses import binary_cross_entropy, objective
from jaxlr import Params

from conftest import make_problem, traces


def seed_loop(X, y, lr, steps):
    """The seed's NumPy gradient descent, verbatim, on a bias column + X."""
    Xb = np.hstack([np.ones((len(X), 1)), X])
    theta = np.zeros(Xb.shape[1])
    for _ in range(steps):
        h = 1 / (1 + np.exp(-Xb @ theta))
        theta -= lr * Xb.T @ (h - y) / len(y)
    return theta


def test_demo_reproduces_the_seed_test_loss(seed_problem):
    d = seed_problem
    result = jaxlr.fit(d.X_train, d.y_train, solver="gd", learning_rate=0.01, steps=1000, tol=None)
    test_loss = float(binary_cross_entropy(d.X_test @ result.coef + result.intercept, d.y_test))
    assert abs(test_loss - 0.27879988486425317) < 1e-6
    theta = seed_loop(d.X_train, d.y_train.astype(float), 0.01, 1000)
    np.testing.assert_allclose(result.coef, theta[1:], rtol=1e-12)
    assert float(result.intercept) == pytest.approx(theta[0], rel=1e-12)


def test_the_demo_prints_the_seed_test_loss_bit_for_bit():
    """The README and ``jaxlr demo`` promise the seed's test loss bit for bit (float64): a mean
    computed as a sum and then a division was 1 ulp away (5.6e-17) for two days unnoticed, under
    the tolerance above."""
    from jaxlr._api.demo import SEED_TEST_LOSS, seed_fit

    test_loss, result = seed_fit()
    assert np.asarray(result.coef).dtype == np.float64
    assert test_loss == SEED_TEST_LOSS


def test_seed_split_equals_scikit_learn(seed_problem):
    from sklearn.model_selection import train_test_split

    np.random.seed(42)
    X = np.random.randn(100, 2)
    X = np.hstack((np.ones((100, 1)), X))
    y = (X.dot(np.array([1, 2, 3])) + np.random.randn(100) * 0.2) > 0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    np.testing.assert_array_equal(seed_problem.X_train, X_train[:, 1:])
    np.testing.assert_array_equal(seed_problem.X_test, X_test[:, 1:])
    np.testing.assert_array_equal(seed_problem.y_train, y_train)
    np.testing.assert_array_equal(seed_problem.y_test, y_test)


@pytest.mark.parametrize("solver", ["gd", "adam", "momentum"])
def test_scan_equals_python_loop(solver):
    X, y = make_problem()
    steps, lr, l2 = 25, 0.1, 0.05
    result = jaxlr.fit(X, y, solver=solver, learning_rate=lr, steps=steps, l2=l2, tol=None)
    tx = {"gd": optax.sgd(lr), "adam": optax.adam(lr), "momentum": optax.sgd(lr, momentum=0.9)}[solver]
    params = Params(jnp.zeros(X.shape[1]), jnp.zeros(()))
    state = tx.init(params)
    history = []
    for _ in range(steps):
        value, grad = jax.value_and_grad(objective)(params, X, y, None, 0.0, l2)
        history.append(float(value))
        updates, state = tx.update(grad, state, params)
        params = optax.apply_updates(params, updates)
    np.testing.assert_allclose(result.coef, params.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.intercept, params.intercept, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.loss_history, history, rtol=1e-12)
    assert result.status_name == "done" and int(result.n_iter) == steps


def test_same_shapes_do_not_recompile():
    X, y = make_problem(m=40, n=3, seed=1)
    jaxlr.fit(X, y, solver="gd", steps=30, tol=1e-3)
    before = traces()
    jaxlr.fit(X + 0.5, y, solver="gd", steps=30, tol=1e-3)
    jaxlr.fit(X, 1 - y, solver="gd", steps=30, tol=1e-6, l2=0.3, learning_rate=0.2, seed=4)
    assert traces() == before
    jaxlr.fit(X, y, solver="gd", steps=31, tol=1e-3)  # the budget is traced: the same program
    jaxlr.fit(X, y, solver="gd", steps=3000, tol=None, fit_intercept=False)
    jaxlr.fit(X[:35, :2], y[:35], solver="gd", steps=30, tol=1e-3)  # a smaller shape in the same bucket
    assert traces() == before


def test_minibatch_orders_depend_on_the_seed():
    X, y = make_problem(m=64, n=3)
    a = jaxlr.fit(X, y, solver="gd", batch_size=8, steps=40, seed=0, learning_rate=0.5)
    b = jaxlr.fit(X, y, solver="gd", batch_size=8, steps=40, seed=1, learning_rate=0.5)
    c = jaxlr.fit(X, y, solver="gd", batch_size=8, steps=40, seed=0, learning_rate=0.5)
    assert np.abs(np.asarray(a.coef) - np.asarray(b.coef)).max() > 1e-4
    np.testing.assert_array_equal(a.coef, c.coef)
    assert a.status_name == "done"


def test_full_size_minibatch_equals_full_batch():
    """batch_size = m only reorders the rows each epoch: the same steps up to rounding."""
    X, y = make_problem(m=32, n=3)
    a = jaxlr.fit(X, y, solver="gd", batch_size=32, steps=50, learning_rate=0.3)
    b = jaxlr.fit(X, y, solver="gd", steps=50, learning_rate=0.3, tol=None)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-12)


def test_float32_stays_float32():
    X, y = make_problem(dtype=np.float32)
    result = jaxlr.fit(X, y, solver="gd", steps=10, tol=None)
    assert result.coef.dtype == np.float32 and result.loss_history.dtype == np.float32


def test_history_starts_at_log2_and_has_one_value_per_step():
    X, y = make_problem()
    result = jaxlr.fit(X, y, solver="gd", steps=17, tol=None, learning_rate=0.1)
    assert result.loss_history.shape == (17,)
    assert float(result.loss_history[0]) == pytest.approx(np.log(2), rel=1e-14)
    assert np.all(np.diff(np.asarray(result.loss_history)) < 0)


def test_converged_model_stops_and_is_frozen():
    X, y = make_problem()
    result = jaxlr.fit(X, y, solver="newton", l2=0.1, steps=50, tol=1e-10)
    n = int(result.n_iter)
    assert result.converged and 0 < n < 50
    history = np.asarray(result.loss_history)
    np.testing.assert_array_equal(history[n:], history[n])  # frozen after convergence
    assert float(result.residual) <= 1e-10


def test_diverging_gradient_descent_is_marked_and_never_nan():
    X, y = make_problem()
    with pytest.warns(jaxlr.ConvergenceWarning, match="diverged"):
        result = jaxlr.fit(X * 1e3, y, solver="gd", learning_rate=1e6, steps=200, tol=None)
    assert result.status_name == "diverged"
    assert np.isfinite(np.asarray(result.coef)).all() and np.isfinite(float(result.objective))


def test_budget_warning_says_what_to_try():
    X, y = make_problem()
    with pytest.warns(jaxlr.ConvergenceWarning, match="steps=5") as caught:
        result = jaxlr.fit(X, y, solver="gd", steps=5, tol=1e-8)
    assert result.status_name == "max_iter" and not result.converged
    assert "try solver='newton' (few features) or solver='lbfgs'" in str(caught[0].message)
    # the advice names other solvers, not the one that stopped
    for solver, other in (("lbfgs", "solver='newton'"), ("newton", "solver='lbfgs'")):
        with pytest.warns(jaxlr.ConvergenceWarning, match="steps=1") as caught:
            jaxlr.fit(X, y, solver=solver, steps=1, tol=1e-12)
        text = str(caught[0].message)
        assert other in text and f"solver='{solver}'" not in text, text


def test_no_intercept_keeps_it_at_zero():
    X, y = make_problem()
    result = jaxlr.fit(X, y, solver="lbfgs", fit_intercept=False, l2=0.01, tol=1e-8)
    assert float(result.intercept) == 0.0 and result.converged


def test_custom_optax_transformation_and_factory():
    X, y = make_problem()
    a = jaxlr.fit(X, y, solver=optax.adam(0.05), steps=30, tol=None)
    b = jaxlr.fit(X, y, solver=optax.adam, learning_rate=0.05, steps=30, tol=None)
    c = jaxlr.fit(X, y, solver="adam", learning_rate=0.05, steps=30, tol=None)
    np.testing.assert_allclose(a.coef, c.coef, rtol=1e-12)
    np.testing.assert_allclose(b.coef, c.coef, rtol=1e-12)


def test_progress_chunks_give_the_same_result():
    X, y = make_problem()
    seen = []
    a = jaxlr.fit(X, y, solver="gd", steps=40, tol=None, progress=lambda d, t: seen.append((d, t)),
                  progress_every=15)
    b = jaxlr.fit(X, y, solver="gd", steps=40, tol=None)
    assert seen == [(15, 40), (30, 40), (40, 40)]
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-13)
    np.testing.assert_allclose(a.loss_history, b.loss_history, rtol=1e-13)


def test_warm_start_from_a_previous_result():
    X, y = make_problem()
    first = jaxlr.fit(X, y, solver="lbfgs", l2=0.1, tol=1e-10)
    again = jaxlr.fit(X, y, solver="lbfgs", l2=0.1, tol=1e-8, init=first)
    assert int(again.n_iter) == 0 and again.converged


def test_predictions_map_back_to_labels():
    X, y = make_problem()
    labels = np.where(y > 0, "yes", "no")
    result = jaxlr.fit(X, labels, l2=0.1)
    assert list(result.classes) == ["no", "yes"]
    proba = jaxlr.predict_proba(result, X)
    np.testing.assert_array_equal(jaxlr.predict(result, X), np.where(np.asarray(proba) > 0.5, "yes", "no"))


def test_perfect_separation_is_reported():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    with pytest.warns(jaxlr.PerfectSeparationWarning, match="does not exist"):
        jaxlr.fit(X, y, solver="newton", steps=30)
    with warnings.catch_warnings():
        warnings.simplefilter("error", jaxlr.PerfectSeparationWarning)
        jaxlr.fit(X, y, solver="newton", l2=0.1)  # penalized: the optimum exists


@pytest.mark.parametrize("m", [200, 3 * (1 << 12) + 7])  # all rows, and evenly spaced rows of many
def test_scale_warning_names_the_extreme_column(m):
    from jaxlr._api.diagnostics import SCALE_CHECK_ROWS, ScaleWarning, warn_on_scale

    assert m < SCALE_CHECK_ROWS or m // SCALE_CHECK_ROWS > 1
    rng = np.random.default_rng(0)
    X = rng.standard_normal((m, 4))
    X[:, 3] = 5.0  # constant: no scale to compare
    weights = np.ones(m)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_on_scale(X, weights)  # nothing extreme
    X[:, 1] *= 1e5
    with pytest.warns(ScaleWarning, match=r"X: column 1 has a scale 5 orders of magnitude"):
        warn_on_scale(X, weights)


def test_a_budget_of_zero_steps_is_the_starting_model():
    """``steps=0`` is a budget like any other: the starting parameters, status max_iter (done
    without tol), the objective and residual there, in every entry point."""
    X, y = make_problem(m=40, n=3, seed=2)
    with pytest.warns(jaxlr.ConvergenceWarning, match="steps=0"):
        r = jaxlr.fit(X, y, steps=0, l2=0.1)
    assert r.status_name == "max_iter" and int(r.n_iter) == 0
    assert not np.asarray(r.coef).any() and float(r.intercept) == 0.0
    assert float(r.objective) == pytest.approx(np.log(2)) and r.loss_history.shape == (0,)
    start = jaxlr.fit(X, y, l2=0.1)
    again = jaxlr.fit(X, y, steps=0, tol=None, l2=0.1, init=start)
    assert again.status_name == "done" and float(again.objective) == float(start.objective)
    grid = jaxlr.sweep(X, y, steps=0, tol=None, l2=[0.1, 1.0])
    assert grid.status_name == ("done", "done") and not np.asarray(grid.coef).any()

