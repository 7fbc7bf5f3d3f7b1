"""Classification metrics as pure ``jnp`` functions of logits and labels.

Every metric takes an optional ``sample_weight``; a 0/1 weight selects rows, which is how
a held-out fold is scored while all models keep arrays of one shape (so the metrics
``vmap`` over a models axis). Binary logits have shape (m,) and labels in {0, 1};
multinomial logits have shape (m, K) and integer labels ``0..K-1``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .losses import log_loss as _per_sample_log_loss
from .losses import weighted_mean


def _weights(sample_weight, m, dtype):
    return jnp.ones((m,), dtype) if sample_weight is None else jnp.asarray(sample_weight, dtype)


def log_loss(logits, labels, sample_weight=None) -> jax.Array:
    """Weighted mean log-loss (binary or softmax), in the stable form."""
    logits = jnp.asarray(logits)
    return weighted_mean(_per_sample_log_loss(logits, jnp.asarray(labels)), sample_weight)


def accuracy(logits, labels, sample_weight=None) -> jax.Array:
    """Weighted fraction of rows whose most probable class is the label (ties go to class 0)."""
    logits = jnp.asarray(logits)
    predicted = (logits > 0).astype(jnp.int32) if logits.ndim == 1 else jnp.argmax(logits, axis=-1)
    correct = (predicted == jnp.asarray(labels).astype(jnp.int32)).astype(logits.dtype)
    return weighted_mean(correct, sample_weight)


def _binary_auc(scores, positive, weight):
    """Weighted P(score_pos > score_neg) + 0.5 P(tie), in O(m log m) via sorting."""
    order = jnp.argsort(scores)
    s = scores[order]
    w_pos = (weight * positive)[order]
    w_neg = (weight * (1 - positive))[order]
    cum_neg = jnp.concatenate([jnp.zeros((1,), s.dtype), jnp.cumsum(w_neg)])
    below = cum_neg[jnp.searchsorted(s, s, side="left")]  # negatives strictly below each score
    tied = cum_neg[jnp.searchsorted(s, s, side="right")] - below  # negatives with an equal score
    pairs = jnp.sum(w_pos * (below + 0.5 * tied))
    return pairs / (jnp.sum(w_pos) * jnp.sum(w_neg))


def roc_auc(logits, labels, sample_weight=None) -> jax.Array:
    """Area under the ROC curve (ties count one half), weighted like scikit-learn's
    ``roc_auc_score``; for (m, K) logits the macro average of one-vs-rest AUCs.
    NaN when a class is absent from the weighted rows."""
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    dtype = logits.dtype if jnp.issubdtype(logits.dtype, jnp.floating) else jnp.float32
    weight = _weights(sample_weight, logits.shape[0], dtype)
    if logits.ndim == 1:
        return _binary_auc(logits.astype(dtype), labels.astype(dtype), weight)
    proba = jax.nn.softmax(logits.astype(dtype), axis=-1)
    classes = jnp.arange(logits.shape[-1])
    positive = (labels.astype(jnp.int32)[None, :] == classes[:, None]).astype(dtype)
    return jnp.mean(jax.vmap(_binary_auc, in_axes=(1, 0, None))(proba, positive, weight))


__all__ = ["accuracy", "log_loss", "roc_auc"]
