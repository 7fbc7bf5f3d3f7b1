"""The linear model: parameters as a pytree and its logits (on the device or the host)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np


class Params(NamedTuple):
    """Model parameters, a pytree.

    Binary: ``coef`` (n_features,), ``intercept`` (). Multinomial with K classes:
    ``coef`` (n_features, K), ``intercept`` (K,).
    """

    coef: jax.Array
    intercept: jax.Array


def logits(params: Params, X: jax.Array) -> jax.Array:
    """``X @ coef + intercept``: (m,) for binary, (m, K) for multinomial."""
    return X @ params.coef + params.intercept


def host_logits(X, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """(K, m) or (K, m, C) logits of K models (coef (K, n[, C]), intercept (K[, C])); ``X @ W``
    on the host, so X may be a NumPy array or a scipy.sparse matrix."""
    K, n = coef.shape[:2]
    if coef.ndim == 2:
        return np.asarray(X @ coef.T).T + intercept[:, None]
    C = coef.shape[2]
    Z = np.asarray(X @ coef.transpose(1, 0, 2).reshape(n, K * C)).reshape(-1, K, C)
    return Z.transpose(1, 0, 2) + intercept[:, None, :]


__all__ = ["Params", "logits", "host_logits"]
