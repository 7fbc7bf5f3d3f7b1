"""``standardize=True``: fit on scaled columns, report coefficients in the units of X.

Every column is divided by its weighted standard deviation (1 where a column is constant), with
the user's sample weights and never the class weights (as scikit-learn's ``StandardScaler`` takes
``sample_weight``), whatever X's storage: sparse X's moments come from its stored values, never
densified. Dense X is also centred when the model has an unpenalized intercept: the intercept
absorbs the shift, so centring changes the conditioning and not the model, and the storage
format never changes the answer (sparse X is not centred: that would fill in every zero). Without
an intercept (or with a penalized one) nothing is centred: centring would add an intercept. The
penalties apply to the standardized coefficients, as in a scikit-learn pipeline with
``StandardScaler``. The statistics are computed on columns divided by their largest magnitude
first, so a column of 1e300 gives its scale instead of overflowing.
"""

from __future__ import annotations

import numpy as np

from .._core.model import Params
from .data import is_sparse


# bytes of float64 rows per block of the dense moments' passes: one buffer that stays in cache,
# where a float64 copy of X and one of its deviations cost ~0.5 ms a MB in page faults on the
# bench machine (3.3 of the scale check's 5.4 ms on 4,096 x 100 rows; bench/README.md)
MOMENT_BLOCK_BYTES = 1 << 18


def column_max(X) -> np.ndarray:
    """max |X_ij| per column (1 for an all-zero column): the divisor that keeps moments finite.
    Sparse X (scipy CSR): from its stored values."""
    if is_sparse(X):
        top = np.zeros(X.shape[1])
        np.maximum.at(top, X.indices, np.abs(np.asarray(X.data, np.float64)))
    else:  # max and -min in X's dtype (exact): no |X| and no float64 copy of X
        X = np.asarray(X)
        top = np.maximum(X.max(axis=0, initial=0), -X.min(axis=0, initial=0)).astype(np.float64)
    return np.where(top > 0, top, 1.0)


def _power(d: np.ndarray, power: int) -> np.ndarray:
    """``d ** power`` for power 1 or 2, with the same bits (numpy's ``d ** 1`` is a generic
    ``pow`` per element)."""
    return d if power == 1 else d * d


def column_moments(X, weights) -> tuple[np.ndarray, np.ndarray]:
    """Weighted column means and standard deviations (about the mean; exactly 0 for a column
    constant to rounding), in float64, from the columns divided by their largest magnitude (finite
    for any finite X), the mean corrected by a second pass. Sparse X (scipy CSR) is never
    densified: sums run over the stored values, the rows without one adding their weight times
    the deviation of 0."""
    w = np.asarray(weights, np.float64)
    w = w / w.sum()
    total = w.sum()
    X = X.tocsr() if is_sparse(X) else X
    top = column_max(X)
    if is_sparse(X):
        rows, cols = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr)), X.indices
        z = np.asarray(X.data, np.float64) / top[cols]
        empty = total - np.bincount(cols, weights=w[rows], minlength=X.shape[1])  # weight of the zeros

        def deviations(mean, power):
            return (np.bincount(cols, weights=w[rows] * _power(z - mean[cols], power), minlength=X.shape[1])
                    + empty * (-mean) ** power)

        mean = np.bincount(cols, weights=w[rows] * z, minlength=X.shape[1])
    else:
        rows = max(1, MOMENT_BLOCK_BYTES // (8 * X.shape[1]))
        buffer = np.empty((min(rows, X.shape[0]), X.shape[1]))  # the passes' only buffer

        def deviations(mean, power):
            out = np.zeros(X.shape[1])
            for start in range(0, X.shape[0], rows):
                block = slice(start, start + rows)
                part = X[block]
                D = buffer[:len(part)]
                np.divide(part, top, out=D)
                np.subtract(D, mean, out=D)
                if power == 2:
                    np.multiply(D, D, out=D)
                out += w[block] @ D
            return out

        mean = deviations(np.zeros(X.shape[1]), 1)
    mean = mean + deviations(mean, 1) / total  # the second pass: the mean to rounding
    std = np.sqrt(np.maximum(deviations(mean, 2) / total, 0.0))
    std = np.where(std <= 64 * np.finfo(np.float64).eps, 0.0, std)  # constant but for rounding
    return mean * top, std * top


def column_scaling(X, weights, center: bool):
    """Weighted column means (zeros when not ``center``) and standard deviations (1 where a
    column is constant), in X's dtype (see ``column_moments``)."""
    mean, std = column_moments(X, weights)
    scale = np.where(std > 0, std, 1.0)
    mean = mean if center else np.zeros(X.shape[1])
    return mean.astype(X.dtype), scale.astype(X.dtype)


class Scaling:
    """The column scaling of one data set: ``apply`` to X once, map starting parameters ``into``
    the scaled units and results back ``out`` of them. ``center``: whether dense X is centred
    (see the module: only with an unpenalized intercept)."""

    def __init__(self, X, weights, n_classes: int, center: bool = True):
        self.sparse = is_sparse(X)
        self.mean, self.scale = column_scaling(X, weights, center=center and not self.sparse)
        self.extra = (slice(None), None) if n_classes > 2 else (slice(None),)

    def apply(self, X):
        if self.sparse:  # same pattern, new values
            out = X.copy()
            out.data = (out.data / self.scale[out.indices]).astype(X.dtype)
            return out
        return ((X - self.mean) / self.scale).astype(X.dtype)

    def into(self, init):
        if init is None:
            return None
        coef, intercept = init
        s, mu = self.scale[self.extra], self.mean[self.extra]
        return coef * s, intercept + np.sum(coef * mu, axis=1)

    def out(self, params: Params) -> Params:
        """Coefficients fitted on ``(X - mean) / scale`` in the units of X."""
        coef = params.coef / self.scale[self.extra]
        return Params(coef, params.intercept - np.sum(coef * self.mean[self.extra], axis=1))


__all__ = ["column_max", "column_moments", "column_scaling", "Scaling"]
