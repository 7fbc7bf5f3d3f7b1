"""The scikit-learn estimators: the estimator contract, parity with scikit-learn, CV in one sweep."""

import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression as SkLR
from sklearn.linear_model import LogisticRegressionCV as SkLRCV
from sklearn import config_context
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import jaxlr
from jaxlr.sklearn import LogisticRegression, LogisticRegressionCV

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _rel_err(a, b):
    return np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b))


# ----------------------------------------------------------------------------- the contract


@parametrize_with_checks([LogisticRegression()])
def test_sklearn_estimator_checks(estimator, check):
    """Every check, the sparse ones included (the estimators declare sparse input)."""
    check(estimator)


def test_lazy_exports():
    assert jaxlr.LogisticRegression is LogisticRegression
    assert jaxlr.LogisticRegressionCV is LogisticRegressionCV
    with pytest.raises(AttributeError):
        jaxlr.NoSuchThing  # noqa: B018


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
    (dict(solver="liblinearish"), "solver.*newton-cholesky"), (dict(solver="lbfgs", l1_ratio=0.5), "fista"),
    (dict(max_iter=-1), "max_iter"), (dict(tol=-1.0), "tol"), (dict(class_weight="auto"), "class_weight"),
    (dict(dual=True), "dual"), (dict(solver="saga", dual=True), "dual"), (dict(penalty="l3"), "penalty"),
    (dict(intercept_scaling=0.0), "intercept_scaling"), (dict(random_state="seed"), "random_state"),
    (dict(n_jobs="all"), "n_jobs"), (dict(verbose=-1), "verbose"), (dict(solver="liblinear", C=np.inf), "liblinear"),
    (dict(solver="sag", l1_ratio=1.0), "sag supports only 'l2'"),
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
    ours = LogisticRegressionCV(cv=splitter, scoring=scoring, l1_ratios=(0,), use_legacy_attributes=False,
                                **CV_KW).fit(X, y)
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
    ours = LogisticRegressionCV(cv=5, scoring="neg_log_loss", l1_ratios=(0,), use_legacy_attributes=False,
                                **CV_KW).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkLRCV(cv=5, scoring="neg_log_loss", l1_ratios=(0,), use_legacy_attributes=False,
                     **CV_KW).fit(X, y)
    assert ours.C_ == ref.C_
    assert ours.coef_.shape == ref.coef_.shape == (3, 4)
    assert ours.coefs_paths_.shape == ref.coefs_paths_.shape


@pytest.mark.parametrize("binary", [True, False])
def test_cv_default_accuracy_equals_the_accuracy_scorer(iris, binary):
    """The default score (accuracy of every lane from one product) equals scoring='accuracy',
    which goes through scikit-learn's scorer one model at a time; with sample weights too."""
    X, y = iris
    labels = np.where(y == 2, "b", "a") if binary else y
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    kw = dict(Cs=[1e-3, 0.1, 1.0, 100.0], cv=3, l1_ratios=(0,), use_legacy_attributes=False, tol=1e-6)
    fast = LogisticRegressionCV(scoring=None, **kw).fit(X, labels, sample_weight=w)
    slow = LogisticRegressionCV(scoring="accuracy", **kw).fit(X, labels, sample_weight=w)
    np.testing.assert_allclose(fast.scores_, slow.scores_, rtol=1e-13)  # summation order differs
    assert len(np.unique(fast.scores_)) > 1  # the Cs score differently: the check can fail


def test_cv_lanes_are_the_fold_fits(cancer):
    """Each lane is LogisticRegression(C) on its training fold: C maps to l2 per fold."""
    X, y = cancer[0][:, :5], cancer[1]
    folds = list(StratifiedKFold(3, shuffle=True, random_state=1).split(X, y))
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    cv = LogisticRegressionCV(Cs=[0.01, 1.0], l1_ratios=[0.0, 0.5], cv=folds, tol=1e-8, max_iter=2000,
                              scoring=None, use_legacy_attributes=False).fit(X, y, sample_weight=w)
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


def test_cv_solves_large_grids_as_warm_started_paths_like_sklearn():
    """Where the cost model says a path pays (here 2,000 x 50, 5 classes, 6 Cs), each fold's Cs are
    solved strongest penalty first, each from the previous C's solution on that fold, as
    scikit-learn's LogisticRegressionCV does: the same C_ and fold scores, every lane converged."""
    from sklearn.datasets import make_classification

    X, y = make_classification(2000, 50, n_informative=20, n_classes=5, random_state=0)
    kw = dict(Cs=6, cv=3, l1_ratios=(0,), use_legacy_attributes=False, scoring="neg_log_loss", tol=1e-6,
              max_iter=500)
    ours = LogisticRegressionCV(**kw).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkLRCV(**kw).fit(X, y)
    assert ours.path_ and ours.solver_ == "lbfgs"
    assert (ours.status_ == 1).all()
    assert ours.C_ == ref.C_
    np.testing.assert_allclose(ours.scores_, ref.scores_, atol=1e-5)
    assert _rel_err(ours.coef_, ref.coef_) < 1e-3
    small = LogisticRegressionCV(Cs=6, cv=3, **LEGACY_OFF).fit(*load_breast_cancer(return_X_y=True))
    assert not small.path_  # 569 x 30: the lanes from zero in one program cost less


def test_cv_without_refit_averages_folds(cancer):
    X, y = cancer
    cv = LogisticRegressionCV(cv=3, refit=False, l1_ratios=(0,), scoring=None, use_legacy_attributes=False,
                              **CV_KW).fit(X, y)
    best = np.argmax(cv.scores_[:, 0, :], axis=1)
    expected = np.mean([cv.coefs_paths_[f, 0, best[f], 0, :-1] for f in range(3)], axis=0)
    np.testing.assert_allclose(cv.coef_[0], expected)
    assert cv.C_ == pytest.approx(np.mean(cv.Cs_[best]))
    assert cv.score(X, y) > 0.9


# ----------------------------------------------------------------------------- scikit-learn 1.9's surface

LEGACY_OFF = dict(l1_ratios=(0,), scoring=None, use_legacy_attributes=False)


def test_fitted_arrays_are_writeable(cancer):
    X, y = cancer
    est = LogisticRegression().fit(X, y)
    est.coef_[:] = 0
    est.intercept_[:] = 0
    np.testing.assert_array_equal(est.decision_function(X), 0)
    cv = LogisticRegressionCV(Cs=2, cv=2, **LEGACY_OFF).fit(X, y)
    cv.coef_[:] = 0
    cv.intercept_[:] = 0
    cv.coefs_paths_[:] = 0


def test_max_iter_zero_returns_the_starting_model(cancer):
    X, y = cancer
    # the advice names the estimator's own budget parameter
    with pytest.warns(SkConvergenceWarning, match="max_iter=0.*Increase max_iter"):
        est = LogisticRegression(max_iter=0).fit(X, y)
    assert est.n_iter_.tolist() == [0] and not est.coef_.any() and not est.intercept_.any()
    np.testing.assert_array_equal(est.predict_proba(X), 0.5)
    warm = LogisticRegression(warm_start=True).fit(X, y)
    start = warm.coef_.copy()
    with pytest.warns(SkConvergenceWarning, match="max_iter=0"):
        warm.set_params(max_iter=0).fit(X, y)
    np.testing.assert_array_equal(warm.coef_, start)
    with pytest.warns(SkConvergenceWarning, match="max_iter=0"):
        cv = LogisticRegressionCV(Cs=2, cv=2, max_iter=0, **LEGACY_OFF).fit(X, y)
    assert not cv.coefs_paths_.any() and not cv.n_iter_.any()


def test_deprecated_penalty_maps_onto_l1_ratio_and_C(cancer):
    X, y = cancer[0][:, :6], cancer[1]
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        l1 = LogisticRegression(penalty="l1", C=0.1, solver="saga", tol=1e-8, max_iter=1000).fit(X, y)
    same = LogisticRegression(l1_ratio=1.0, C=0.1, solver="saga", tol=1e-8, max_iter=1000).fit(X, y)
    np.testing.assert_array_equal(l1.coef_, same.coef_)
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        none = LogisticRegression(penalty=None, tol=1e-10).fit(X, y)
    np.testing.assert_array_equal(none.coef_, LogisticRegression(C=np.inf, tol=1e-10).fit(X, y).coef_)
    with pytest.warns(FutureWarning, match="n_jobs"):
        LogisticRegression(n_jobs=2).fit(X, y)


@pytest.mark.parametrize("intercept_scaling", [1.0, 100.0])
def test_liblinear_minimises_liblinears_objective(cancer, intercept_scaling):
    """liblinear penalizes its intercept (a constant feature of value intercept_scaling)."""
    X, y = cancer[0][:, :5], cancer[1]
    kw = dict(C=0.05, intercept_scaling=intercept_scaling, tol=1e-10)
    ref = SkLR(solver="liblinear", max_iter=10_000, **kw).fit(X, y)
    est = LogisticRegression(solver="liblinear", **kw).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-4)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-4)
    if intercept_scaling == 1.0:  # the penalized intercept is another optimum than the unpenalized one
        plain = LogisticRegression(C=0.05, tol=1e-10).fit(X, y)
        assert abs(plain.intercept_[0] - est.intercept_[0]) > 1e-3
    with pytest.raises(ValueError, match="does not support multiclass"):
        LogisticRegression(solver="liblinear").fit(X, np.arange(len(y)) % 3)


def test_sparsify_densify(iris):
    X, y = iris
    est = LogisticRegression().fit(X, y)
    dense = est.decision_function(X)
    est.sparsify()
    assert sp.issparse(est.coef_)
    np.testing.assert_allclose(est.decision_function(X), dense)
    np.testing.assert_allclose(est.decision_function(sp.csr_array(X)), dense)
    est.densify()
    assert isinstance(est.coef_, np.ndarray)
    np.testing.assert_allclose(est.predict_proba(X).sum(axis=1), 1)


@pytest.mark.parametrize("l1_ratios", [None, (0.0, 0.5)])
@pytest.mark.parametrize("legacy", [True, False])
def test_cv_attributes_have_sklearns_types_and_shapes(iris, legacy, l1_ratios):
    X, y = iris
    kw = dict(Cs=3, cv=3, l1_ratios=l1_ratios, scoring="neg_log_loss", use_legacy_attributes=legacy,
              max_iter=300, tol=1e-3)
    for labels in (y, y == 1):  # multinomial and binary
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = LogisticRegressionCV(solver="saga" if l1_ratios else "auto", **kw).fit(X, labels)
            ref = SkLRCV(solver="saga" if l1_ratios else "lbfgs", **kw).fit(X, labels)
        for name in ("C_", "l1_ratio_", "Cs_", "l1_ratios_", "coef_", "intercept_", "n_iter_", "scores_",
                     "coefs_paths_"):
            a, b = getattr(ours, name), getattr(ref, name)
            assert type(a) is type(b), name
            if isinstance(b, dict):
                assert list(a) == list(b)
                a, b = next(iter(a.values())), next(iter(b.values()))
            assert np.shape(a) == np.shape(b), name
            assert np.asarray(a).dtype.kind == np.asarray(b).dtype.kind, name


@pytest.mark.parametrize("params, match", [
    (dict(scoring="accuracy_percent"), "scoring"), (dict(Cs=0), "Cs"), (dict(Cs=[1.0, -1.0]), "Cs"),
    (dict(l1_ratios=[0.5, 2.0], solver="saga"), "l1_ratio"), (dict(refit="yes"), "refit"),
    (dict(use_legacy_attributes="no"), "use_legacy_attributes"), (dict(penalty=None), "penalty"),
    (dict(solver="liblinear", l1_ratios=(0.5,)), "elasticnet"), (dict(cv="five"), "cv"),
])
def test_cv_bad_parameters_raise_before_compiling(cancer, params, match, monkeypatch):
    import jaxlr.sklearn._cv

    def no_fit(*args, **kwargs):
        raise AssertionError("the core was called")

    monkeypatch.setattr(jaxlr.sklearn._cv, "train", no_fit)
    with pytest.raises((ValueError, TypeError), match=match):
        LogisticRegressionCV(**{**LEGACY_OFF, **params}).fit(*cancer)


@pytest.mark.parametrize("routing", [False, True])
def test_cv_label_aware_scorer_on_folds_missing_a_class(routing):
    X, y = np.arange(6.0)[:, None], np.array(["a", "a", "b", "b", "c", "c"])
    with config_context(enable_metadata_routing=routing):
        cv = LogisticRegressionCV(cv=KFold(3), Cs=[1e-6, 1.0], **{**LEGACY_OFF, "scoring": "neg_brier_score"})
        cv.fit(X, y)
    assert np.isfinite(cv.scores_).all() and cv.C_ == 1e-6


def test_cv_routes_sample_weight_to_the_scorer(cancer):
    X, y = cancer
    w = np.where(np.arange(len(y)) % 3 == 0, 5.0, 1.0)
    scores = []
    with config_context(enable_metadata_routing=True):
        for requested in (False, True):
            scorer = get_scorer("accuracy").set_score_request(sample_weight=requested)
            cv = LogisticRegressionCV(Cs=3, cv=3, scoring=scorer, l1_ratios=(0,), use_legacy_attributes=False)
            scores.append(cv.fit(X, y, sample_weight=w).scores_)
            if not requested:
                with pytest.raises(TypeError, match="sample_weight"):
                    cv.score(X, y, sample_weight=w)
    assert not np.allclose(*scores)
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        cv.fit(X, y, extra=1)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_matches_dense(cancer, fmt):
    X, y = cancer[0][:, :6], cancer[1]
    Xs = sp.csr_array(np.where(np.abs(X) > 0.5, X, 0.0)).asformat(fmt)
    dense = LogisticRegression(tol=1e-10).fit(Xs.toarray(), y)
    sparse = LogisticRegression(tol=1e-10).fit(Xs, y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-6)
    cv = LogisticRegressionCV(Cs=2, cv=2, **LEGACY_OFF)
    np.testing.assert_allclose(cv.fit(Xs, y).coef_, clone(cv).fit(Xs.toarray(), y).coef_, rtol=1e-6)


def test_callbacks_hear_every_iteration_and_can_stop_the_fit():
    """scikit-learn 1.9's callbacks (the protocol its test_logistic.py checks for lbfgs, run by
    test_sklearn_suite.py): one fit task, one task per iteration whose fitted estimator is the model
    after that many steps, one empty task; a callback returning True at a task's end stops the fit
    there. jaxlr's own solver names support them too; a fit without callbacks is unchanged."""
    pytest.importorskip("sklearn.callback")
    from sklearn.callback.tests._utils import RecordingCallback

    X, y = load_iris(return_X_y=True)
    record = RecordingCallback()
    est = LogisticRegression(solver="newton", C=1.0).set_callbacks(record).fit(X, y)
    n = int(est.n_iter_[0])
    ends = [r for r in record.record if r["name"] == "on_fit_task_end" and r["context"].task_name == "iter"]
    assert n >= 2 and len(ends) == n + 1 and ends[-1]["kwargs"]["fitted_estimator"] is None
    with pytest.warns(SkConvergenceWarning):
        second = LogisticRegression(solver="newton", C=1.0, max_iter=2).fit(X, y)
    np.testing.assert_allclose(ends[1]["kwargs"]["fitted_estimator"].coef_, second.coef_, rtol=1e-10)
    np.testing.assert_allclose(LogisticRegression(solver="newton", C=1.0).fit(X, y).coef_, est.coef_, rtol=1e-12)

    class StopAtFirst(RecordingCallback):
        def on_fit_task_end(self, estimator, context, **kwargs):
            return context.task_name == "iter"

    with pytest.warns(SkConvergenceWarning):
        stopped = LogisticRegression(solver="newton").set_callbacks(StopAtFirst()).fit(X, y)
    assert int(stopped.n_iter_[0]) == 1 and stopped.status_ == "max_iter"
    with pytest.warns(UserWarning, match="only supported in LogisticRegression for solver='lbfgs'"):
        LogisticRegression(solver="sag").set_callbacks(RecordingCallback())
