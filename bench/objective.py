"""The benchmark problem's objective in float64 NumPy, and the float64 reference optimum."""

from __future__ import annotations

import numpy as np

GAP = 1e-6  # "at the optimum": relative objective gap at most this


def objective64(X, y, coef, intercept, l2: float) -> float:
    """``mean(softplus(z) - y z) + 0.5 l2 ||w||^2`` in float64, intercept unpenalized."""
    X = np.asarray(X, np.float64)
    coef = np.asarray(coef, np.float64).ravel()
    z = X @ coef + float(np.asarray(intercept).ravel()[0] if np.ndim(intercept) else intercept)
    y = np.asarray(y, np.float64)
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * coef @ coef)


def rel_gap(value: float, best: float) -> float:
    return (value - best) / abs(best)


def reference(X, y, l2: float) -> float:
    """The optimum in float64: scikit-learn's newton-cholesky at tol 1e-10 (C = 1 / (l2 m))."""
    from sklearn.linear_model import LogisticRegression

    m = X.shape[0]
    clf = LogisticRegression(C=1.0 / (l2 * m), solver="newton-cholesky", tol=1e-10, max_iter=500)
    clf.fit(np.asarray(X, np.float64), np.asarray(y, np.float64))
    return objective64(X, y, clf.coef_, clf.intercept_, l2)
