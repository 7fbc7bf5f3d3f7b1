"""``standardize=True``: fit on scaled columns, report coefficients in the units of X.

Dense X is centred and scaled to unit (weighted) standard deviation; sparse X is scaled by the
root mean square (centring would fill in every zero). The penalties apply to the standardized
coefficients, as in a scikit-learn pipeline with ``StandardScaler``.
"""

from __future__ import annotations

import numpy as np

from .._core.model import Params
from .data import is_sparse


def column_scaling(X, weights, center: bool):
    """Weighted column means (zeros when not ``center``) and scales (standard deviations about
    the mean, or root mean squares when not centring; 1 where a column is constant). X may be
    sparse (scipy): its moments come from two sparse products."""
    w = np.asarray(weights, np.float64)
    w = w / w.sum()
    squares = X.multiply(X) if is_sparse(X) else X * X
    mean = np.asarray(w @ X).ravel() if center else np.zeros(X.shape[1])
    var = np.asarray(w @ squares).ravel() - (mean * mean if center else 0.0)
    scale = np.sqrt(np.maximum(var, 0.0))
    scale = np.where(scale > 0, scale, 1.0)
    return mean.astype(X.dtype), scale.astype(X.dtype)


class Scaling:
    """The column scaling of one data set: ``apply`` to X once, map starting parameters ``into``
    the scaled units and results back ``out`` of them."""

    def __init__(self, X, weights, n_classes: int):
        self.sparse = is_sparse(X)
        self.mean, self.scale = column_scaling(X, weights, center=not self.sparse)
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


__all__ = ["column_scaling", "Scaling"]
