"""The scikit-learn estimators: the estimator contract, parity with scikit-learn, CV in one sweep."""

import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression as SkLR
from sklearn.linear_model import LogisticRegressionCV as SkLRCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import jaxlr
from jaxlr.estimator import LogisticRegression, LogisticRegressionCV, padded_size

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _rel_err(a, b):
    return np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b))


# ----------------------------------------------------------------------------- the contract


@parametrize_with_checks([LogisticRegression()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_lazy_exports():
    assert jaxlr.LogisticRegression is LogisticRegression
    assert jaxlr.LogisticRegressionCV is LogisticRegressionCV
    with pytest.raises(AttributeError):
        jaxlr.NoSuchThing  # noqa: B018


def test_padded_sizes_are_few_and_tight():
    sizes = [padded_size(n, 32) for n in range(1, 5000)]
    assert all(s >= max(n, 32) for n, s in zip(range(1, 5000), sizes))
    assert all(s <= 1.125 * max(n, 32) for n, s in zip(range(1, 5000), sizes))
    assert len(set(sizes)) <= 64


# ----------------------------------------------------------------------------- parity


@pytest.mark.parametrize("C", [1.0, 0.01])
def test_binary_matches_sklearn(cancer, C):
    X, y = cancer
    ref = SkLR(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
    est = LogisticRegression(C=C, tol=1e-10).fit(X, y)
    assert est.coef_.shape == (1, 30) and est.intercept_.shape == (1,)
    assert _rel_err(est.coef_, ref.coef_) < 1e-4
    assert abs(est.intercept_[0] - ref.intercept_[0]) < 1e-4 * np.max(np.abs(ref.coef_))
    np.testing.assert_allclose(est.decision_function(X), ref.decision_function(X), atol=1e-4)
    np.testing.assert_array_equal(est.predict(X), ref.predict(X))
    assert est.n_iter_.shape == (1,) and est.status_ == "converged"


def test_weights_and_class_weight_match_sklearn(cancer):
    X, y = cancer
    w = np.random.default_rng(0).uniform(0.2, 3.0, size=len(y))
    kw = dict(C=0.5, tol=1e-10, class_weight={0: 2.0, 1: 0.5})
    ref = SkLR(**kw, max_iter=10_000).fit(X, y, sample_weight=w)
    est = LogisticRegression(**kw).fit(X, y, sample_weight=w)
    assert _rel_err(est.coef_, ref.coef_) < 1e-4
    ref = SkLR(C=0.5, tol=1e-10, class_weight="balanced", max_iter=10_000).fit(X, y)
    est = LogisticRegression(C=0.5, tol=1e-10, class_weight="balanced").fit(X, y)
    assert _rel_err(est.coef_, ref.coef_) < 1e-4


def test_unpenalized_and_l1(cancer):
    X, y = cancer[0][:, :4], cancer[1]
    ref = SkLR(C=np.inf, tol=1e-10, max_iter=10_000).fit(X, y)
    est = LogisticRegression(C=np.inf, tol=1e-10).fit(X, y)
    assert _rel_err(est.coef_, ref.coef_) < 1e-4
    sparse = LogisticRegression(C=0.05, l1_ratio=1.0, tol=1e-8, max_iter=2000).fit(X, y)
    assert sparse.solver_ == "fista" and sparse.status_ == "converged"
    assert np.sum(sparse.coef_ == 0) >= 1  # L1 sets some coefficients exactly to zero


# ----------------------------------------------------------------------------- integration


def test_pipeline_gridsearch_cross_val_clone_pickle(cancer):
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.9
    search = GridSearchCV(pipe, {"logisticregression__C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_["logisticregression__C"] in (0.01, 1.0)
    assert search.score(X, y) > 0.9

    est = LogisticRegression(C=0.3, tol=1e-8).fit(*cancer)
    copy = clone(est)
    assert copy.get_params() == est.get_params() and not hasattr(copy, "coef_")
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.coef_, est.coef_)
    np.testing.assert_array_equal(restored.predict_proba(cancer[0]), est.predict_proba(cancer[0]))


def test_dataframe_feature_names_and_float32(cancer):
    import pandas as pd

    frame = pd.DataFrame(cancer[0][:, :3], columns=["a", "b", "c"])
    est = LogisticRegression(tol=1e-10).fit(frame, cancer[1])
    assert list(est.feature_names_in_) == ["a", "b", "c"] and est.n_features_in_ == 3
    est32 = LogisticRegression(tol=1e-5).fit(frame.to_numpy(np.float32), cancer[1])
    assert est32.coef_.dtype == np.float32 and est.coef_.dtype == np.float64
    np.testing.assert_allclose(est32.coef_, est.coef_, atol=1e-5)


def test_warm_start_starts_from_previous_solution(cancer):
    est = LogisticRegression(C=0.3, tol=1e-8, warm_start=True).fit(*cancer)
    first = est.n_iter_[0]
    est.fit(*cancer)
    assert first > 2 and est.n_iter_[0] == 0  # already optimal: no step needed
    est.set_params(C=0.31).fit(*cancer)
    assert 0 < est.n_iter_[0] < first


@pytest.mark.parametrize("params, match", [
    (dict(C=-1.0), "C"), (dict(C="big"), "C"), (dict(l1_ratio=1.5), "l1_ratio"),
    (dict(solver="liblinearish"), "solver"), (dict(solver="lbfgs", l1_ratio=0.5), "fista"),
    (dict(max_iter=0), "max_iter"), (dict(tol=-1.0), "tol"), (dict(class_weight="auto"), "class_weight"),
])
def test_bad_parameters_raise_naming_them(cancer, params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        LogisticRegression(**params).fit(*cancer)


def test_float64_input_with_x64_disabled():
    # a user's process without jax_enable_x64: the fit runs in float32 and still works
    code = (
        "import numpy as np, warnings; from jaxlr import LogisticRegression;"
        "from sklearn.datasets import load_breast_cancer;"
        "from sklearn.preprocessing import StandardScaler;"
        "X, y = load_breast_cancer(return_X_y=True); X = StandardScaler().fit_transform(X);"
        "warnings.simplefilter('error');"
        "est = LogisticRegression().fit(X, y);"
        "print(est.coef_.dtype, est.status_, est.score(X, y))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_ENABLE_X64": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    dtype, status, score = out.stdout.split()
    assert dtype == "float32" and status == "converged" and float(score) > 0.95


# ----------------------------------------------------------------------------- LogisticRegressionCV

CV_KW = dict(Cs=8, tol=1e-9, max_iter=200)


@pytest.mark.parametrize("scoring", [None, "neg_log_loss"])
def test_cv_picks_the_same_C_as_sklearn(cancer, scoring):
    X, y = cancer
    splitter = StratifiedKFold(4, shuffle=True, random_state=0)
    ours = LogisticRegressionCV(cv=splitter, scoring=scoring, **CV_KW).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkLRCV(cv=splitter, scoring=scoring, l1_ratios=(0,), use_legacy_attributes=False,
                     solver="newton-cholesky", **CV_KW).fit(X, y)
    assert ours.C_ == ref.C_
    np.testing.assert_allclose(ours.Cs_, ref.Cs_)
    assert ours.scores_.shape == ref.scores_.shape == (4, 1, 8)
    assert (ours.status_ == 1).all()  # every lane converged (Newton)
    # (scikit-learn's lbfgs stops early at the largest Cs on these nearly separable data, so
    # the reference is its Newton solver, which reaches the optimum in every lane)
    assert (ref.n_iter_ < CV_KW["max_iter"]).all()
    np.testing.assert_allclose(ours.scores_, ref.scores_, atol=1e-4)
    assert _rel_err(ours.coef_, ref.coef_) < 1e-3
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_cv_multinomial_same_C_as_sklearn(iris):
    X, y = iris
    ours = LogisticRegressionCV(cv=5, scoring="neg_log_loss", **CV_KW).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkLRCV(cv=5, scoring="neg_log_loss", l1_ratios=(0,), use_legacy_attributes=False,
                     **CV_KW).fit(X, y)
    assert ours.C_ == ref.C_
    assert ours.coef_.shape == ref.coef_.shape == (3, 4)
    assert ours.coefs_paths_.shape == ref.coefs_paths_.shape


def test_cv_lanes_are_the_fold_fits(cancer):
    """Each lane is LogisticRegression(C) on its training fold: C maps to l2 per fold."""
    X, y = cancer[0][:, :5], cancer[1]
    folds = list(StratifiedKFold(3, shuffle=True, random_state=1).split(X, y))
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    cv = LogisticRegressionCV(Cs=[0.01, 1.0], l1_ratios=[0.0, 0.5], cv=folds, tol=1e-8,
                              max_iter=2000).fit(X, y, sample_weight=w)
    assert cv.solver_ == "fista" and (cv.status_ == 1).all()
    for f in (0, 2):
        train = folds[f][0]
        for i, ratio in enumerate([0.0, 0.5]):
            for j, C in enumerate([0.01, 1.0]):
                single = LogisticRegression(C=C, l1_ratio=ratio, solver="fista", tol=1e-8,
                                            max_iter=2000).fit(X[train], y[train], sample_weight=w[train])
                np.testing.assert_allclose(cv.coefs_paths_[f, i, j, 0, :5], single.coef_[0], atol=1e-5)
    best = LogisticRegression(C=cv.C_, l1_ratio=cv.l1_ratio_, solver="fista", tol=1e-8,
                              max_iter=2000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(cv.coef_, best.coef_, atol=1e-5)


def test_cv_without_refit_averages_folds(cancer):
    X, y = cancer
    cv = LogisticRegressionCV(cv=3, refit=False, **CV_KW).fit(X, y)
    best = np.argmax(cv.scores_[:, 0, :], axis=1)
    expected = np.mean([cv.coefs_paths_[f, 0, best[f], 0, :-1] for f in range(3)], axis=0)
    np.testing.assert_allclose(cv.coef_[0], expected)
    assert cv.C_ == pytest.approx(np.mean(cv.Cs_[best]))
    assert cv.score(X, y) > 0.9
