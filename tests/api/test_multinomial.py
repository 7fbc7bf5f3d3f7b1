"""Multinomial (softmax) models: parity with scikit-learn's lbfgs, the stable loss, sweeps."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.preprocessing import StandardScaler

import jaxlr
from jaxlr.losses import softmax_log_loss


def _standardized(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def iris():
    return _standardized(load_iris)


def _sklearn_reference(X, y):
    return SkLogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y)


def _rel_err(a, b):
    return np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("loader", [load_iris, load_digits], ids=["iris", "digits"])
def test_fit_matches_sklearn_lbfgs(loader):
    X, y = _standardized(loader)
    ref = _sklearn_reference(X, y)
    result = jaxlr.fit(X, y, l2=1.0 / X.shape[0], tol=1e-10)  # C = 1 <-> l2 = 1 / n
    assert result.status_name == "converged"
    coef = np.asarray(result.coef).T  # (K, n_features) as scikit-learn
    assert _rel_err(coef, ref.coef_) < 1e-4
    # the intercept is identified only up to a common shift: compare centred values
    intercept = np.asarray(result.intercept)
    assert _rel_err(intercept - intercept.mean(), ref.intercept_ - ref.intercept_.mean()) < 1e-4
    # scikit-learn's lbfgs stops on its ftol (max|grad| ~1.7e-8 on digits, jaxlr ~1e-10), so
    # the reference itself is only good to ~1e-6 in probability
    np.testing.assert_allclose(np.asarray(jaxlr.predict_proba(result, X)), ref.predict_proba(X), atol=1e-5)


def test_estimator_matches_sklearn_on_iris(iris):
    X, y = iris
    ref = _sklearn_reference(X, y)
    est = jaxlr.LogisticRegression(tol=1e-10).fit(X, y)
    assert est.coef_.shape == ref.coef_.shape == (3, 4)
    assert _rel_err(est.coef_, ref.coef_) < 1e-4
    assert _rel_err(est.intercept_, ref.intercept_) < 1e-4  # both centred
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(ref.predict_proba(X)), atol=1e-5)
    np.testing.assert_array_equal(est.predict(X), ref.predict(X))


def test_string_labels_multinomial(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    est = jaxlr.LogisticRegression(tol=1e-10).fit(X, names)
    assert list(est.classes_) == ["setosa", "versicolor", "virginica"]
    assert est.score(X, names) > 0.95
    assert set(est.predict(X)) <= set(names)


def test_sweep_multinomial_lanes_equal_single_fits(iris):
    X, y = iris
    l2s = [1.0 / X.shape[0], 10.0 / X.shape[0]]
    grid = jaxlr.sweep(X, y, l2=l2s, tol=1e-9)
    assert grid.coef.shape == (2, 4, 3) and grid.intercept.shape == (2, 3)
    for k, l2 in enumerate(l2s):
        single = jaxlr.fit(X, y, l2=l2, tol=1e-9)
        np.testing.assert_allclose(np.asarray(grid.coef[k]), np.asarray(single.coef), atol=1e-8)
    assert grid.converged.all()
    proba = np.asarray(jaxlr.predict_proba(grid, X))
    assert proba.shape == (2, X.shape[0], 3)
    np.testing.assert_allclose(proba.sum(-1), 1.0, atol=1e-12)


def test_softmax_loss_is_stable_at_extreme_logits():
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [0.0, 0.0, 0.0]])
    labels = np.array([0, 0, 2])
    loss = np.asarray(softmax_log_loss(logits, labels))
    np.testing.assert_allclose(loss, [0.0, 2e4, np.log(3)], rtol=1e-12)
