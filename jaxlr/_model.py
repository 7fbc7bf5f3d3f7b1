"""The linear model: parameters as a pytree, logits, probabilities, class predictions."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Params(NamedTuple):
    """Model parameters, a pytree.

    Binary: ``coef`` (n_features,), ``intercept`` (). Multinomial with K classes:
    ``coef`` (n_features, K), ``intercept`` (K,).
    """

    coef: jax.Array
    intercept: jax.Array


def init_params(n_features: int, n_classes: int, dtype) -> Params:
    """All-zero parameters (the seed's ``theta = 0``)."""
    if n_classes == 2:
        return Params(jnp.zeros((n_features,), dtype), jnp.zeros((), dtype))
    return Params(jnp.zeros((n_features, n_classes), dtype), jnp.zeros((n_classes,), dtype))


def logits(params: Params, X: jax.Array) -> jax.Array:
    """``X @ coef + intercept``: (m,) for binary, (m, K) for multinomial."""
    return X @ params.coef + params.intercept


def _as_params(model: Any) -> Params:
    if isinstance(model, Params):
        return model
    if hasattr(model, "coef") and hasattr(model, "intercept"):
        return Params(jnp.asarray(model.coef), jnp.asarray(model.intercept))
    raise TypeError(f"expected Params, a FitResult or a SweepResult, got {type(model).__name__}")


def _is_batched(model: Any) -> bool:
    return bool(getattr(model, "is_sweep", False))


def _proba(params: Params, X: jax.Array) -> jax.Array:
    z = logits(params, X)
    return jax.nn.sigmoid(z) if params.coef.ndim == 1 else jax.nn.softmax(z, axis=-1)


def predict_proba(model: Any, X: Any) -> jax.Array:
    """Class probabilities.

    Binary: ``sigmoid(X @ coef + b)``, the probability of the second class, shape (m,).
    Multinomial: ``softmax(X @ coef + b)``, shape (m, K). For a ``SweepResult`` a leading
    models axis is added.
    """
    params = _as_params(model)
    batched = _is_batched(model)
    n_features = params.coef.shape[int(batched)]
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"X must be 2-D with {n_features} features, got shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_) or np.iscomplexobj(X):
        raise ValueError(f"X must be real numbers, got dtype {X.dtype}")
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"X contains NaN or inf ({int(bad.sum())} values; first at row {row}, column {col}): "
                         "a prediction needs every feature")
    X = jnp.asarray(X, dtype=params.coef.dtype)
    if batched:
        return jax.vmap(_proba, in_axes=(0, None))(params, X)
    return _proba(params, X)


def predict(model: Any, X: Any) -> np.ndarray:
    """Predicted labels: the most probable class, mapped back to the training labels
    when the model knows them (``FitResult.classes``), else codes ``0..K-1``."""
    proba = predict_proba(model, X)
    params = _as_params(model)
    binary = params.coef.ndim == (2 if _is_batched(model) else 1)
    codes = np.asarray(proba > 0.5).astype(np.int64) if binary else np.asarray(jnp.argmax(proba, -1))
    classes = getattr(model, "classes", None)
    return codes if classes is None else np.asarray(classes)[codes]
