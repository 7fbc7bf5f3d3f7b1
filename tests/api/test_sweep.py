"""sweep: one compiled program over the grid; model k equals fit with grid[k]."""

import numpy as np
import pytest

import jaxlr

from conftest import make_problem, traces


def test_sweep_equals_separate_fits_and_seeds_differ():
    X, y = make_problem(m=48, n=3)
    options = dict(solver="gd", steps=60, batch_size=8)
    result = jaxlr.sweep(X, y, seeds=(0, 1, 2), learning_rate=(0.1, 0.5), l2=(0.0, 0.1), **options)
    assert len(result) == 12 and result.coef.shape == (12, 3) and result.intercept.shape == (12,)
    assert result.loss_history.shape == (12, 60)
    for k, g in enumerate(result.grid):
        single = jaxlr.fit(X, y, seed=g["seed"], learning_rate=g["learning_rate"], l2=g["l2"], **options)
        np.testing.assert_allclose(result.coef[k], single.coef, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(result.intercept[k], single.intercept, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(result.loss_history[k], single.loss_history, rtol=1e-6)
    by_seed = {g["seed"]: k for k, g in enumerate(result.grid) if g["learning_rate"] == 0.5 and g["l2"] == 0.0}
    coefs = np.asarray(result.coef)[[by_seed[0], by_seed[1], by_seed[2]]]
    assert np.abs(coefs[0] - coefs[1]).max() > 1e-4 and np.abs(coefs[1] - coefs[2]).max() > 1e-4


def test_grid_order_and_rows():
    X, y = make_problem()
    result = jaxlr.sweep(X, y, seeds=2, learning_rate=[0.1, 0.2], solver="gd", steps=5, tol=None)
    assert [(g["seed"], g["learning_rate"]) for g in result.grid] == [(0, 0.1), (0, 0.2), (1, 0.1), (1, 0.2)]
    rows = result.rows()
    assert rows[3]["seed"] == 1 and rows[3]["status"] == "done" and rows[3]["n_iter"] == 5
    assert "learning_rate" in result.table().splitlines()[0]
    assert result[3].coef.shape == (X.shape[1],)


def test_one_program_for_the_whole_grid():
    X, y = make_problem(m=40, n=2, seed=3)
    jaxlr.sweep(X, y, l2=[0.1, 0.2, 0.3], solver="lbfgs", steps=40, tol=1e-8)
    before = traces()
    jaxlr.sweep(X, y, l2=[1.0, 2.0, 3.0], solver="lbfgs", steps=40, tol=1e-6)
    assert traces() == before


def test_each_model_stops_on_its_own():
    X, y = make_problem(m=80, n=4, seed=2)
    l2s = [1e-3, 1e-2, 1e-1, 1.0, 10.0]
    result = jaxlr.sweep(X, y, l2=l2s, solver="lbfgs", steps=200, tol=1e-9)
    assert result.converged.all()
    assert len(set(np.asarray(result.n_iter).tolist())) > 1
    for k in range(len(l2s)):
        n = int(result.n_iter[k])
        history = np.asarray(result.loss_history[k])
        np.testing.assert_array_equal(history[n:], history[n])
        single = jaxlr.fit(X, y, l2=l2s[k], solver="lbfgs", steps=200, tol=1e-9)
        assert int(single.n_iter) == n
        np.testing.assert_allclose(result.coef[k], single.coef, rtol=1e-6)


def test_a_diverging_model_does_not_disturb_the_others():
    X, y = make_problem()
    X = X * 100
    with pytest.warns(jaxlr.ConvergenceWarning, match="diverged"):
        result = jaxlr.sweep(X, y, learning_rate=[1e-4, 1e7], solver="gd", steps=50, tol=None)
    assert result.status_name == ("done", "diverged")
    alone = jaxlr.fit(X, y, learning_rate=1e-4, solver="gd", steps=50, tol=None)
    np.testing.assert_allclose(result.coef[0], alone.coef, rtol=1e-10)
    assert np.isfinite(np.asarray(result.coef)).all()


def test_chunked_equals_unchunked():
    X, y = make_problem()
    options = dict(seeds=3, learning_rate=[0.1, 0.3], solver="gd", steps=20, batch_size=10)
    whole = jaxlr.sweep(X, y, **options)
    chunked = jaxlr.sweep(X, y, chunk_size=4, **options)  # 6 models: chunks of 4 and 2 (padded)
    np.testing.assert_allclose(chunked.coef, whole.coef, rtol=1e-12)
    np.testing.assert_array_equal(chunked.status, whole.status)


def test_folds_train_on_their_masks():
    X, y = make_problem(m=45)
    folds = [(np.arange(15, 45), np.arange(15)), (np.arange(30), np.arange(30, 45))]
    result = jaxlr.sweep(X, y, l2=[0.1, 1.0], folds=folds, solver="newton", tol=1e-10)
    assert [(g["l2"], g["fold"]) for g in result.grid] == [(0.1, 0), (0.1, 1), (1.0, 0), (1.0, 1)]
    alone = jaxlr.fit(X[15:], y[15:], l2=1.0, solver="newton", tol=1e-10)
    np.testing.assert_allclose(result.coef[2], alone.coef, rtol=1e-8)


def test_sweep_predictions_have_a_models_axis():
    X, y = make_problem()
    result = jaxlr.sweep(X, y, l2=[0.1, 1.0])
    assert jaxlr.predict_proba(result, X).shape == (2, X.shape[0])
    assert jaxlr.predict(result, X).shape == (2, X.shape[0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(learning_rate=[0.1, -1.0]), r"learning_rate\[1\] must be > 0"),
        (dict(l2=[0.1, float("nan")]), r"l2\[1\] must be finite"),
        (dict(l2=[]), "l2 is an empty sequence"),
        (dict(seeds=0), "seeds must be >= 1"),
        (dict(solver="lbfgs", learning_rate=[0.1, 0.2]), "does not use a learning rate"),
        (dict(folds=1), "folds must be >= 2"),
        (dict(chunk_size=0), "chunk_size must be >= 1"),
    ],
)
def test_bad_sweep_arguments(kwargs, match):
    X, y = make_problem()
    before = traces()
    with pytest.raises(ValueError, match=match):
        jaxlr.sweep(X, y, **kwargs)
    assert traces() == before


def test_progress_reports_and_compaction_give_the_same_models():
    """With a progress callback the lanes run in host rounds (and, to tolerance, compacted):
    the models equal the single-program sweep's, and the report ends at the full budget."""
    X, y = make_problem(m=60, n=3, seed=7)
    options = dict(l2=list(np.logspace(-3, 1, 10)), solver="lbfgs", steps=60, tol=1e-8)
    seen = []
    reported = jaxlr.sweep(X, y, progress=lambda d, t: seen.append((d, t)), **options)
    plain = jaxlr.sweep(X, y, chunk_size=5, **options)  # chunks of 5 < 8 lanes: one program each
    np.testing.assert_allclose(reported.coef, plain.coef, rtol=1e-10)
    np.testing.assert_array_equal(reported.n_iter, plain.n_iter)
    assert reported.config["lane_steps"] > 0  # the work of the rounds is counted
    assert seen[-1] == (10 * 60, 10 * 60) and seen == sorted(seen)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_regularization_path_reaches_the_same_models_in_fewer_iterations(cancer, solver):
    """path=True solves each fold's penalty grid strongest-first, warm-started from the previous
    solution: the same optima (to the tolerance) as independent lanes, with fewer iterations
    (Newton's about half, L-BFGS's fewer: it restarts its curvature memory at every point)."""
    X, y = cancer
    l2 = list(np.geomspace(1e-1, 1e-5, 6))
    options = dict(l2=l2, folds=3, solver=solver, tol=1e-8, steps=2000)
    parallel = jaxlr.sweep(X, y, **options)
    path = jaxlr.sweep(X, y, path=True, **options)
    assert path.config["path"] and not parallel.config["path"]
    assert [dict(g) for g in path.grid] == [dict(g) for g in parallel.grid]  # same order of models
    assert path.converged.all() and parallel.converged.all()
    np.testing.assert_allclose(path.objective, parallel.objective, rtol=1e-9)
    np.testing.assert_allclose(path.coef, parallel.coef, rtol=1e-3, atol=1e-4)
    assert np.sum(path.n_iter) < {"newton": 0.6, "lbfgs": 0.95}[solver] * np.sum(parallel.n_iter)


@pytest.mark.parametrize("kwargs, match", [
    (dict(path="yes"), "path must be"),
    (dict(path=True, tol=None), "path cannot be True without a tolerance"),
])
def test_bad_path_arguments(kwargs, match):
    X, y = make_problem()
    with pytest.raises(ValueError, match=match):
        jaxlr.sweep(X, y, l2=[0.1, 1.0], solver="lbfgs", **kwargs)
