"""The one held-out scorer: log-loss, accuracy and AUC of K models on weighted rows, as
scikit-learn computes them, on the host (nothing compiles)."""

import numpy as np

from jaxlr._train import scoring
from jaxlr._train.scoring import METRICS, lane_scores

from conftest import make_problem, traces


def test_scores_match_scikit_learn_on_each_models_rows():
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    X, y = make_problem(m=50, n=3)
    rng = np.random.default_rng(0)
    coef, intercept = rng.standard_normal((4, 3)), rng.standard_normal(4)
    W = (rng.random((4, 50)) > 0.4).astype(float)
    got = lane_scores(X, y, coef, intercept, W, metrics=METRICS)
    for k in range(4):
        rows = W[k] > 0
        z = X[rows] @ coef[k] + intercept[k]
        p = 1 / (1 + np.exp(-z))
        np.testing.assert_allclose(got[k], [log_loss(y[rows], p), accuracy_score(y[rows], z > 0),
                                            roc_auc_score(y[rows], z)], rtol=1e-10)


def test_scores_in_blocks_equal_scores_at_once(monkeypatch):
    X, y = make_problem(m=30, n=2)
    rng = np.random.default_rng(1)
    coef, intercept, W = rng.standard_normal((7, 2)), rng.standard_normal(7), np.ones((7, 30))
    whole = lane_scores(X, y, coef, intercept, W, metrics=METRICS)
    monkeypatch.setattr(scoring, "BLOCK", 3 * 30)  # blocks of 3 models, the last smaller
    np.testing.assert_array_equal(lane_scores(X, y, coef, intercept, W, metrics=METRICS), whole)


def test_scores_of_multinomial_models_and_sparse_features():
    import scipy.sparse as sp
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 3)) * (rng.random((40, 3)) > 0.5)
    y = rng.integers(0, 3, 40)
    coef, intercept = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3))
    W = np.ones((2, 40))
    dense = lane_scores(X, y, coef, intercept, W, metrics=METRICS)
    np.testing.assert_allclose(lane_scores(sp.csr_matrix(X), y, coef, intercept, W, metrics=METRICS), dense, rtol=1e-12)
    z = X @ coef[1] + intercept[1]
    p = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(dense[1, 0], log_loss(y, p / p.sum(1, keepdims=True)), rtol=1e-10)


def test_scoring_compiles_nothing():
    """Scores come from NumPy on the host: no program is traced for them."""
    X, y = make_problem(m=30, n=2)
    coef, intercept = np.ones((3, 2)), np.zeros(3)
    before = sum(traces.by_name.values())
    lane_scores(X, y, coef, intercept, np.ones((3, 30)), metrics=METRICS)
    assert sum(traces.by_name.values()) == before


def test_rows_select_each_models_weights():
    """``rows[k]`` names the row of ``weights`` model ``k`` is scored on (a fold's held-out rows)."""
    X, y = make_problem(m=40, n=2, seed=1)
    rng = np.random.default_rng(2)
    coef, intercept = rng.standard_normal((5, 2)), rng.standard_normal(5)
    W = (rng.random((2, 40)) > 0.5).astype(float)
    rows = np.array([1, 0, 1, 1, 0])
    np.testing.assert_array_equal(lane_scores(X, y, coef, intercept, W, rows, metrics=METRICS),
                                  lane_scores(X, y, coef, intercept, W[rows], metrics=METRICS))
