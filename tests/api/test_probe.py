"""The linear probe: ``sweep(..., validation=)`` and ``linear_probe`` score every model on a
validation set with the held-out scorer and keep the best; the choice equals a loop of separate
fits scored by hand and scikit-learn's loop; bad validation sets fail before compiling."""

import jax
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import jaxlr
from conftest import make_problem, traces

CS = np.logspace(-3, 3, 7)


def probe_data(n=400, n_val=200, d=16, k=4, seed=0, dtype=np.float64):
    """Embedding-like features: class centres plus noise, rows L2-normalised; a validation split."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d))
    y = rng.integers(0, k, n + n_val)
    X = centres[y] * 0.6 + rng.standard_normal((n + n_val, d))
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(dtype)
    labels = np.array(["ant", "bee", "cat", "dog", "eel"])[:k][y]  # string labels: classes are mapped
    return X[:n], labels[:n], X[n:], labels[n:]


def hand_scores(model, X, y, classes):
    """(accuracy, mean log-loss) of one fitted model on (X, y), computed here in NumPy."""
    z = X @ np.asarray(model.coef) + np.asarray(model.intercept)
    codes = np.searchsorted(np.asarray(classes), y)
    if z.ndim == 1:
        p = 1 / (1 + np.exp(-z))
        return np.mean((z > 0) == (codes == 1)), -np.mean(np.where(codes == 1, np.log(p), np.log1p(-p)))
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return np.mean(np.argmax(z, axis=1) == codes), -np.mean(logp[np.arange(len(codes)), codes])


def test_probe_equals_a_loop_of_fits_scored_by_hand():
    X, y, Xv, yv = probe_data()
    result = jaxlr.linear_probe(X, y, Xv, yv, C=CS, tol=1e-8)
    assert [g["C"] for g in result.grid] == CS.tolist() and len(result) == len(CS)
    assert np.all(result.converged)
    accuracy, loss = [], []
    for k, C in enumerate(CS):
        one = jaxlr.fit(X, y, l2=1.0 / (C * len(y)), tol=1e-8)
        np.testing.assert_allclose(result.coef[k], one.coef, atol=1e-6)
        a, l = hand_scores(one, Xv, yv, one.classes)
        accuracy.append(a)
        loss.append(l)
    np.testing.assert_allclose(result.validation_accuracy, accuracy, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.validation_loss, loss, rtol=1e-6)
    best = int(np.argmax(accuracy))
    assert result.best_index == best and result.best_params["C"] == CS[best]
    assert result.best.coef.shape == (X.shape[1], 4)
    np.testing.assert_array_equal(result.best.coef, result.coef[best])
    assert result.best.config["C"] == CS[best]
    mapped = jax.tree_util.tree_map(lambda a: a, result)  # the scores are leaves of the result pytree
    np.testing.assert_array_equal(mapped.validation_accuracy, result.validation_accuracy)
    assert mapped.best_index == best
    rows = result.rows()
    assert rows[best]["C"] == CS[best] and rows[best]["validation_accuracy"] == pytest.approx(accuracy[best])
    assert "validation_accuracy" in result.table().splitlines()[0]


def test_probe_chooses_as_scikit_learns_loop():
    X, y, Xv, yv = probe_data(seed=1)
    result = jaxlr.linear_probe(X, y, Xv, yv, C=CS, tol=1e-8)
    sk = [SkLogisticRegression(C=C, max_iter=1000, tol=1e-10).fit(X, y).score(Xv, yv) for C in CS]
    np.testing.assert_allclose(result.validation_accuracy, sk, rtol=0, atol=1e-12)
    assert result.best_params["C"] == CS[int(np.argmax(sk))]
    assert result.validation_accuracy[result.best_index] == max(sk)


def test_probe_solves_a_costly_grid_as_a_warm_started_path():
    """Where the cost model says a path pays (3,000 x 64, 4 classes, 8 Cs), the probe solves the
    grid strongest penalty first from the neighbour's solution: fewer steps, every model converged
    to its own tolerance, the same accuracies and choice. Both stop at ``max |grad| <= tol``, which
    on these nearly separable data leaves the weakly penalized models room to stop at different
    points: each must be within the documented bound of the optimum (an ``l2``-strongly convex
    objective has ``f - f* <= |grad|^2 / (2 l2) <= P tol^2 / (2 l2)``), f* from ``tol=1e-11``."""
    X, y, Xv, yv = probe_data(n=3000, n_val=500, d=64, seed=2)
    Cs = np.logspace(-3, 4, 8)
    path = jaxlr.linear_probe(X, y, Xv, yv, C=Cs, tol=1e-7)
    cold = jaxlr.linear_probe(X, y, Xv, yv, C=Cs, tol=1e-7, path=False)
    assert path.config["path"] and not cold.config["path"]
    assert np.all(path.converged) and np.all(cold.converged)
    assert np.sum(path.n_iter) < np.sum(cold.n_iter)
    assert path.config["lane_steps"] < 0.6 * cold.config["lane_steps"]  # what the programs computed
    assert path.best_index == cold.best_index
    optimum = jaxlr.linear_probe(X, y, Xv, yv, C=Cs, tol=1e-11, path=False, steps=2000)
    assert np.all(optimum.converged)
    l2 = np.array([row["l2"] for row in path.rows()])
    bound = (path.coef[0].size + path.intercept[0].size) * 1e-7 ** 2 / (2 * l2)
    for result in (path, cold):
        gap = np.asarray(result.objective) - np.asarray(optimum.objective)
        assert np.all(gap >= -1e-15) and np.all(gap <= bound)
    np.testing.assert_allclose(path.validation_accuracy, cold.validation_accuracy, atol=1e-12)


def test_sweep_with_validation_binary_and_float32():
    X, y = make_problem(m=120, n=5, seed=3, dtype=np.float32)
    Xv, yv = make_problem(m=80, n=5, seed=4, dtype=np.float32)
    l2 = [1e-3, 1e-2, 1e-1, 1.0]
    result = jaxlr.sweep(X, y, l2=l2, validation=(Xv, yv))
    assert result.validation_accuracy.shape == (4,) and result.validation_loss.dtype == np.float64
    for k, a in enumerate(l2):
        acc, loss = hand_scores(result[k], Xv.astype(np.float64), yv, result.classes)
        assert result.validation_accuracy[k] == pytest.approx(acc, abs=1e-12)
        assert result.validation_loss[k] == pytest.approx(loss, rel=1e-5)
    assert result.best_params["l2"] == l2[int(np.argmax(result.validation_accuracy))]
    weighted = jaxlr.sweep(X, y, l2=l2, validation=(Xv, yv, np.where(yv == 1, 2.0, 0.0)))
    # weight only on the positive class: accuracy is the rate of positive predictions there
    for k in range(4):
        z = Xv @ np.asarray(result.coef[k]) + float(result.intercept[k])
        assert weighted.validation_accuracy[k] == pytest.approx(np.mean(z[yv == 1] > 0), abs=1e-6)


def test_best_needs_a_validation_set():
    X, y = make_problem()
    result = jaxlr.sweep(X, y, l2=[0.1, 1.0])
    with pytest.raises(ValueError, match="best_index needs a validation set"):
        result.best_index


@pytest.mark.parametrize("bad, match", [
    (lambda X, y, Xv, yv: (X, y, Xv[:, :-1], yv), "X_val has 15 features but the training X has 16"),
    (lambda X, y, Xv, yv: (X, y, Xv, np.where(yv == "ant", "yak", yv)), "y_val has labels that are not classes.*yak"),
    (lambda X, y, Xv, yv: (X, y, Xv, yv[:-1]), "y_val has 199 labels but X_val has 200 rows"),
    (lambda X, y, Xv, yv: (X, y, np.where(Xv > 0.5, np.nan, Xv), yv), "X_val contains NaN"),
    (lambda X, y, Xv, yv: (X, y, Xv, np.zeros(len(yv))), "y_val has labels that are not classes"),
])
def test_bad_validation_sets_fail_before_compiling(bad, match):
    X, y, Xv, yv = probe_data()
    before = traces()
    with pytest.raises(ValueError, match=match):
        jaxlr.linear_probe(*bad(X, y, Xv, yv), C=[1.0])
    assert traces() == before


def test_bad_validation_arguments_name_themselves():
    X, y = make_problem()
    before = traces()
    with pytest.raises(ValueError, match=r"validation\[0\] \(X_val\) has 3 features"):
        jaxlr.sweep(X, y, l2=[0.1], validation=(X[:, :3], y))
    with pytest.raises(TypeError, match="validation must be a pair"):
        jaxlr.sweep(X, y, l2=[0.1], validation=X)
    with pytest.raises(ValueError, match="validation and folds exclude each other"):
        jaxlr.sweep(X, y, l2=[0.1], folds=3, validation=(X, y))
    with pytest.raises(ValueError, match=r"validation\[2\] \(sample_weight_val\) must be non-negative"):
        jaxlr.sweep(X, y, l2=[0.1], validation=(X, y, -np.ones(len(y))))
    with pytest.raises(ValueError, match=r"C\[1\] must be > 0"):
        jaxlr.linear_probe(X, y, X, y, C=[1.0, 0.0])
    assert traces() == before


def test_validation_scores_models_in_the_units_of_X():
    """standardize and a sparse X: the models are reported in X's units, so the held-out set is
    scored as given (dense or sparse, either way)."""
    import scipy.sparse as sp

    X, y = make_problem(m=150, n=6, seed=5)
    X = X * np.array([1.0, 10.0, 0.1, 5.0, 1.0, 100.0])
    Xv, yv = X[:60] + 0.1, y[:60]
    dense = jaxlr.sweep(X, y, l2=[1e-3, 1e-1], standardize=True, validation=(Xv, yv), tol=1e-8)
    sparse = jaxlr.sweep(sp.csr_matrix(X), y, l2=[1e-3, 1e-1], standardize=True,
                         validation=(sp.csr_matrix(Xv), yv), tol=1e-8)
    for k in range(2):
        acc, loss = hand_scores(dense[k], Xv, yv, dense.classes)
        assert dense.validation_accuracy[k] == pytest.approx(acc, abs=1e-12)
        assert dense.validation_loss[k] == pytest.approx(loss, rel=1e-9)
    np.testing.assert_allclose(sparse.validation_loss, dense.validation_loss, rtol=1e-6)
    assert sparse.best_index == dense.best_index


def test_probe_C_counts_the_sample_weights():
    """``C`` maps to ``l2 = 1 / (C * sum of the weights)``, as scikit-learn's C scales its loss sum."""
    X, y, Xv, yv = probe_data(n=200, n_val=100, k=3, seed=2)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    result = jaxlr.linear_probe(X, y, Xv, yv, C=[0.5, 5.0], sample_weight=w, tol=1e-8)
    for k, C in enumerate([0.5, 5.0]):
        sk = SkLogisticRegression(C=C, max_iter=1000, tol=1e-10).fit(X, y, sample_weight=w)
        one = jaxlr.fit(X, y, l2=1.0 / (C * w.sum()), sample_weight=w, tol=1e-8)
        np.testing.assert_allclose(result.coef[k], one.coef, atol=1e-6)
        assert result.validation_accuracy[k] == pytest.approx(sk.score(Xv, yv), abs=1e-12)
