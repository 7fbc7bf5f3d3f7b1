"""The one held-out scorer: log-loss, accuracy and ROC AUC of K models on weighted rows.

Successive halving ranks settings with it, ``sweep(folds=)`` reports each model's validation
loss, the command line scores its results tables and ``LogisticRegressionCV`` its folds (other
scikit-learn scorers are adapted at the estimator's edge). It runs on the host in NumPy, from the
reported parameters, so nothing compiles and it holds for whatever the core did to fit them
(standardized columns, folds, a device mesh): about one training step's work, models in blocks
of ``BLOCK`` logits.
"""

from __future__ import annotations

import numpy as np

from .._core.model import host_logits

METRICS = ("loss", "accuracy", "auc")
BLOCK = 2**24  # logits held at once (128 MiB in float64)


def _loss(z, y):
    """Per-row log-loss of (k, m) binary or (k, m, C) softmax logits: binary
    ``[(1-y) z if z >= 0 else -y z] + log1p(exp(-|z|))`` (``losses.binary_log_loss``), softmax
    ``logsumexp(z) - z[y]``."""
    if z.ndim == 2:
        return np.where(z >= 0, (1 - y) * z, -y * z) + np.log1p(np.exp(-np.abs(z)))
    top = z.max(axis=-1, keepdims=True)
    lse = top[..., 0] + np.log(np.sum(np.exp(z - top), axis=-1))
    return lse - np.take_along_axis(z, np.asarray(y, np.int64)[None, :, None], axis=-1)[..., 0]


def _correct(z, y):
    predicted = (z > 0).astype(np.int64) if z.ndim == 2 else np.argmax(z, axis=-1)
    return (predicted == np.asarray(y).astype(np.int64)[None, :]).astype(float)


def _binary_auc(scores, positive, weight):
    """Weighted P(score_pos > score_neg) + 0.5 P(tie) per model: (k, m) -> (k,), by sorting."""
    order = np.argsort(scores, axis=1, kind="stable")
    s = np.take_along_axis(scores, order, axis=1)
    w_pos = np.take_along_axis(weight * positive, order, axis=1)
    w_neg = np.take_along_axis(weight * (1 - positive), order, axis=1)
    cum_neg = np.concatenate([np.zeros((len(s), 1)), np.cumsum(w_neg, axis=1)], axis=1)
    out = np.empty(len(s))
    for k in range(len(s)):
        below = cum_neg[k, np.searchsorted(s[k], s[k], side="left")]
        tied = cum_neg[k, np.searchsorted(s[k], s[k], side="right")] - below
        out[k] = np.sum(w_pos[k] * (below + 0.5 * tied))
    with np.errstate(invalid="ignore", divide="ignore"):
        return out / (w_pos.sum(axis=1) * w_neg.sum(axis=1))


def _auc(z, y, w):
    """ROC AUC (ties count one half); for softmax logits the macro average of one-vs-rest AUCs
    of the probabilities. NaN when a class is absent from the weighted rows."""
    if z.ndim == 2:
        return _binary_auc(z, np.broadcast_to(np.asarray(y, float), z.shape), w)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    proba = e / e.sum(axis=-1, keepdims=True)
    codes = np.asarray(y).astype(np.int64)
    per_class = [_binary_auc(proba[..., c], np.broadcast_to((codes == c).astype(float), proba.shape[:2]), w)
                 for c in range(z.shape[-1])]
    return np.mean(per_class, axis=0)


def lane_scores(X, y, coef, intercept, weights, rows=None, metrics=("loss",)) -> np.ndarray:
    """(K, len(metrics)) scores of K models (coef (K, n[, C]), intercept (K[, C])): model ``k`` on
    the rows weighted by ``weights[rows[k]]`` (``weights`` (F, m), e.g. 0/1 held-out masks;
    ``rows`` default: ``k``). ``metrics`` among ``"loss"`` (weighted mean log-loss, no penalty),
    ``"accuracy"`` and ``"auc"``. A model without weighted rows scores NaN."""
    coef, intercept, weights = np.asarray(coef), np.asarray(intercept), np.asarray(weights)
    rows = np.arange(coef.shape[0]) if rows is None else np.asarray(rows)
    m, n_out = X.shape[0], 1 if coef.ndim == 2 else coef.shape[2]
    step = max(1, BLOCK // (m * n_out))
    out = np.empty((coef.shape[0], len(metrics)))
    for lo in range(0, coef.shape[0], step):
        z = host_logits(X, coef[lo:lo + step], intercept[lo:lo + step])
        w = weights[rows[lo:lo + step]].astype(z.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            total = np.sum(w, axis=1)
            for j, metric in enumerate(metrics):
                if metric == "auc":
                    out[lo:lo + step, j] = _auc(z, y, w)
                else:
                    values = _loss(z, y) if metric == "loss" else _correct(z, y)
                    out[lo:lo + step, j] = np.sum(w * values, axis=1) / total
    return out


__all__ = ["lane_scores", "METRICS"]
