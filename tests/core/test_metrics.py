"""Metrics: equal to scikit-learn's on weighted data with ties, stable, and vmappable."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import metrics as skm

from jaxlr import metrics


def _binary(seed=0, m=50):
    rng = np.random.default_rng(seed)
    z = np.round(rng.standard_normal(m), 1)  # rounding makes ties
    y = (z + rng.standard_normal(m) > 0).astype(np.float64)
    w = rng.uniform(0.1, 2.0, m)
    return z, y, w


@pytest.mark.parametrize("weighted", [False, True])
def test_binary_metrics_equal_sklearn(weighted):
    z, y, w = _binary()
    w = w if weighted else None
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(metrics.log_loss(z, y, w), skm.log_loss(y, p, sample_weight=w), rtol=1e-12)
    np.testing.assert_allclose(metrics.accuracy(z, y, w), skm.accuracy_score(y, z > 0, sample_weight=w), rtol=1e-12)
    np.testing.assert_allclose(metrics.roc_auc(z, y, w), skm.roc_auc_score(y, z, sample_weight=w), rtol=1e-12)


def test_multiclass_metrics_equal_sklearn():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((60, 3))
    y = rng.integers(0, 3, 60)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    np.testing.assert_allclose(metrics.log_loss(z, y), skm.log_loss(y, p), rtol=1e-12)
    np.testing.assert_allclose(metrics.accuracy(z, y), skm.accuracy_score(y, z.argmax(1)), rtol=1e-12)
    np.testing.assert_allclose(metrics.roc_auc(z, y), skm.roc_auc_score(y, p, multi_class="ovr"), rtol=1e-12)


def test_zero_weights_select_rows():
    z, y, _ = _binary(2)
    mask = np.zeros_like(z)
    mask[::3] = 1
    sel = mask > 0
    for fn in (metrics.log_loss, metrics.accuracy, metrics.roc_auc):
        np.testing.assert_allclose(fn(z, y, mask), fn(z[sel], y[sel]), rtol=1e-12)


def test_vmap_over_models_equals_loop():
    z, y, w = _binary(3)
    Z = np.stack([z, -z, 2 * z + 0.5])
    W = np.stack([w, np.ones_like(w), (np.arange(len(w)) % 2).astype(float)])
    for fn in (metrics.log_loss, metrics.accuracy, metrics.roc_auc):
        batched = jax.jit(jax.vmap(fn, in_axes=(0, None, 0)))(Z, y, W)
        np.testing.assert_allclose(batched, [fn(Z[k], y, W[k]) for k in range(3)], rtol=1e-12)


def test_extreme_logits_stay_finite():
    z = jnp.array([1e4, -1e4, 800.0, -800.0])
    y = jnp.array([1.0, 0.0, 0.0, 1.0])
    loss = metrics.log_loss(z, y)
    np.testing.assert_allclose(loss, (800.0 + 800.0) / 4, rtol=1e-12)
    assert metrics.roc_auc(z, y) == 0.75  # 3 of the 4 (positive, negative) pairs are ordered right


def test_auc_is_nan_without_both_classes():
    assert np.isnan(metrics.roc_auc(jnp.array([0.1, 0.2]), jnp.array([1.0, 1.0])))
