"""Predictions of fitted models: probabilities and labels, on the host (NumPy, nothing compiles)
for host data and in JAX for ``jax.Array`` input (so they work under ``jit``)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._core.model import Params
from .._train import data as _data


def _as_params(model: Any) -> Params:
    if isinstance(model, Params):
        return model
    if hasattr(model, "coef") and hasattr(model, "intercept"):
        return Params(model.coef, model.intercept)
    raise TypeError(f"expected Params, a FitResult or a SweepResult, got {type(model).__name__}")


def _is_batched(model: Any) -> bool:
    return bool(getattr(model, "is_sweep", False))


def _proba(xp, params: Params, X):
    """sigmoid / softmax of the logits, with ``xp`` NumPy (host data) or jax.numpy (traced)."""
    z = X @ params.coef + params.intercept
    if params.coef.ndim == 1:
        e = xp.exp(-xp.abs(z))  # stable for any |z|
        return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))
    e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


def predict_proba(model: Any, X: Any):
    """Class probabilities.

    Binary: ``sigmoid(X @ coef + b)``, the probability of the second class, shape (m,).
    Multinomial: ``softmax(X @ coef + b)``, shape (m, K). For a ``SweepResult`` a leading
    models axis is added. Host data (NumPy, lists, pandas; scipy.sparse and BCOO/BCSR, kept
    sparse) are predicted with NumPy (nothing
    compiles; a NumPy array comes back); a ``jax.Array`` (or a tracer, under ``jit``) with
    jax.numpy. Rows with NaN or inf are refused (a ``ValueError``), never predicted as NaN.
    """
    params = _as_params(model)
    batched = _is_batched(model)
    n_features = np.shape(params.coef)[int(batched)]
    if _data.is_sparse(X):  # scipy.sparse or BCOO/BCSR: validated and predicted on the host, sparse
        X = _data.check_sparse(X)
        if X.shape[1] != n_features:
            raise ValueError(f"X must be 2-D with {n_features} features, got shape {X.shape}")
        coef, intercept = np.asarray(params.coef), np.asarray(params.intercept)
        X = X.astype(coef.dtype)
        if batched:
            return np.stack([_proba(np, Params(c, b), X) for c, b in zip(coef, intercept)])
        return _proba(np, Params(coef, intercept), X)
    on_device = isinstance(X, jax.Array)
    if not on_device:
        X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"X must be 2-D with {n_features} features, got shape {X.shape}")
    if not (jnp.issubdtype(X.dtype, jnp.number) or X.dtype == np.bool_) or jnp.iscomplexobj(X):
        raise ValueError(f"X must be real numbers, got dtype {X.dtype}")
    if not on_device:
        bad = ~np.isfinite(X)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ValueError(f"X contains NaN or inf ({int(bad.sum())} values; first at row {row}, column {col}):"
                             " a prediction needs every feature")
        coef, intercept = np.asarray(params.coef), np.asarray(params.intercept)
        X = X.astype(coef.dtype, copy=False)
        if batched:
            return np.stack([_proba(np, Params(c, b), X) for c, b in zip(coef, intercept)])
        return _proba(np, Params(coef, intercept), X)
    X = X.astype(jnp.result_type(params.coef))
    if batched:
        return jax.vmap(lambda p: _proba(jnp, p, X))(params)
    return _proba(jnp, params, X)


def predict(model: Any, X: Any) -> np.ndarray:
    """Predicted labels: the most probable class, mapped back to the training labels
    when the model knows them (``FitResult.classes``), else codes ``0..K-1``."""
    proba = np.asarray(predict_proba(model, X))
    params = _as_params(model)
    binary = np.ndim(params.coef) == (2 if _is_batched(model) else 1)
    codes = (proba > 0.5).astype(np.int64) if binary else np.argmax(proba, -1)
    classes = getattr(model, "classes", None)
    return codes if classes is None or len(classes) == 0 else np.asarray(classes)[codes]


__all__ = ["predict_proba", "predict"]
