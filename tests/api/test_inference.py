"""Wald inference: parity with statsmodels, the sandwich, penalized fits, sweeps."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.datasets import load_breast_cancer, load_wine

import jaxlr
from jaxlr._api.inference import COLUMNS

FEATURES = ["mean radius", "mean texture", "mean smoothness", "mean symmetry"]


@pytest.fixture(scope="module")
def cancer():
    """A few standardized breast-cancer features: not separable, so the MLE exists."""
    data = load_breast_cancer(as_frame=True)
    X = data.data[FEATURES]
    return (X - X.mean()) / X.std(), data.target.to_numpy()


@pytest.fixture(scope="module")
def fitted(cancer):
    X, y = cancer
    return jaxlr.fit(X.to_numpy(), y, tol=1e-10)


def _statsmodels(X, y, cov_type="nonrobust", intercept=True):
    design = sm.add_constant(X, prepend=False) if intercept else X
    return sm.Logit(y, design).fit(disp=0, method="newton", tol=1e-12, cov_type=cov_type)


@pytest.mark.parametrize("robust", [False, True])
def test_matches_statsmodels_logit(cancer, fitted, robust):
    X, y = cancer
    table = jaxlr.inference(fitted, X, y, robust=robust)
    ref = _statsmodels(X.to_numpy(), y, "HC0" if robust else "nonrobust")
    assert table.names == FEATURES + ["intercept"]
    np.testing.assert_allclose(table.coef, ref.params, rtol=1e-6)
    np.testing.assert_allclose(table.std_err, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(table.z, ref.tvalues, rtol=1e-6)
    np.testing.assert_allclose(table.p_value, ref.pvalues, rtol=1e-5, atol=1e-300)
    np.testing.assert_allclose(np.column_stack([table.ci_low, table.ci_high]), ref.conf_int(0.05),
                               rtol=1e-6)
    np.testing.assert_allclose(table.covariance, ref.cov_params(), rtol=1e-6)
    assert table.kind == ("MLE, robust HC0" if robust else "MLE")


def test_without_intercept_and_other_alpha(cancer):
    X, y = cancer
    result = jaxlr.fit(X.to_numpy(), y, tol=1e-10, fit_intercept=False)
    table = jaxlr.inference(result, X.to_numpy(), y, alpha=0.1)
    ref = _statsmodels(X.to_numpy(), y, intercept=False)
    assert table.names == ["x0", "x1", "x2", "x3"]
    np.testing.assert_allclose(table.std_err, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(table.ci_low, ref.conf_int(0.1)[:, 0], rtol=1e-6)


def test_integer_weights_are_repetitions(cancer):
    X, y = cancer[0].to_numpy()[:200], cancer[1][:200]
    counts = np.random.default_rng(0).integers(1, 4, size=200)
    weighted = jaxlr.inference(jaxlr.fit(X, y, sample_weight=counts, tol=1e-10), X, y, sample_weight=counts)
    Xr, yr = np.repeat(X, counts, axis=0), np.repeat(y, counts)
    repeated = jaxlr.inference(jaxlr.fit(Xr, yr, tol=1e-10), Xr, yr)
    for col in COLUMNS:
        np.testing.assert_allclose(getattr(weighted, col), getattr(repeated, col), rtol=1e-6)


def test_l2_penalty_gives_the_laplace_posterior(cancer):
    X, y = cancer[0].to_numpy(), cancer[1]
    l2 = 0.01
    result = jaxlr.fit(X, y, l2=l2, tol=1e-10)
    table = jaxlr.inference(result, X, y)
    # closed form: H = A' diag(p(1-p)) A + n * l2 * diag(1, .., 1, 0), A = [X, 1]
    A = np.column_stack([X, np.ones(len(y))])
    p = np.asarray(jaxlr.predict_proba(result, X))
    H = A.T @ (A * (p * (1 - p))[:, None]) + len(y) * l2 * np.diag([1.0] * X.shape[1] + [0.0])
    np.testing.assert_allclose(table.std_err, np.sqrt(np.diag(np.linalg.inv(H))), rtol=1e-8)
    assert table.kind.startswith("Laplace") and "not frequentist" in str(table)
    with pytest.raises(ValueError, match="robust"):
        jaxlr.inference(result, X, y, robust=True)


def test_refuses_what_it_cannot_answer(cancer):
    X, y = cancer[0].to_numpy(), cancer[1]
    with pytest.raises(ValueError, match="L1"):
        jaxlr.inference(jaxlr.fit(X, y, l1=0.01, tol=1e-8), X, y)
    y3 = np.arange(len(y)) % 3
    with pytest.raises(ValueError, match="multinomial"):
        jaxlr.inference(jaxlr.fit(X, y3, l2=0.01, tol=1e-8), X, y3)
    with pytest.raises(ValueError, match="alpha"):
        jaxlr.inference(jaxlr.fit(X, y, tol=1e-10), X, y, alpha=1.5)
    with pytest.raises(ValueError, match="features"):
        jaxlr.inference(jaxlr.fit(X, y, tol=1e-10), X[:, :3], y)
    with pytest.raises(TypeError, match="FitResult"):
        jaxlr.inference(np.zeros(4), X, y)


def test_sweep_is_vmapped_and_equals_single_tables(cancer):
    X, y = cancer[0].to_numpy(), cancer[1]
    grid = jaxlr.sweep(X, y, l2=[0.0, 0.01], folds=3, tol=1e-10)
    table = jaxlr.inference(grid, X, y)
    assert table.coef.shape == (6, 5) and table.is_sweep
    for k in (0, 4):
        single = jaxlr.inference(grid[k], X, y, sample_weight=grid.fold_weights[grid.grid[k]["fold"]])
        for col in COLUMNS:
            np.testing.assert_allclose(getattr(table, col)[k], getattr(single, col), rtol=1e-10)
    frame = table.to_pandas()
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 30
    assert table.kind[0] == "MLE" and table.kind[5].startswith("Laplace")


def test_table_rows_string_and_pandas(cancer, fitted):
    X, y = cancer
    table = jaxlr.inference(fitted, X, y)
    rows = table.rows()
    assert len(rows) == 5 and rows[-1]["name"] == "intercept"
    assert set(rows[0]) == {"name", *COLUMNS}
    text = str(table)
    assert "mean radius" in text and "p_value" in text and "95%" in text
    frame = table.to_pandas()
    assert isinstance(frame, pd.DataFrame) and frame.index[-1] == "intercept"
    assert frame.loc["mean radius", "coef"] == pytest.approx(table.coef[0])


@pytest.mark.parametrize("robust", [False, True])
def test_multinomial_matches_statsmodels_mnlogit(robust):
    X, y = load_wine(return_X_y=True)
    X = X[:, [1, 2, 3]]  # three weak features: not separable, the MLE exists
    X = (X - X.mean(0)) / X.std(0)
    result = jaxlr.fit(X, y, tol=1e-10)
    table = jaxlr.inference(result, X, y, robust=robust)
    ref = sm.MNLogit(y, sm.add_constant(X, prepend=False)).fit(
        disp=0, method="newton", tol=1e-12, cov_type="HC0" if robust else "nonrobust")
    # statsmodels: (n_features + 1, K - 1) relative to class 0; ours: one block per class
    assert table.names[:4] == ["1:x0", "1:x1", "1:x2", "1:intercept"] and len(table.names) == 8
    np.testing.assert_allclose(table.coef, np.asarray(ref.params).T.ravel(), rtol=1e-6)
    np.testing.assert_allclose(table.std_err, np.asarray(ref.bse).T.ravel(), rtol=1e-6)
    np.testing.assert_allclose(table.p_value, np.asarray(ref.pvalues).T.ravel(), rtol=1e-5)
    assert "relative to the first class" in table.kind
