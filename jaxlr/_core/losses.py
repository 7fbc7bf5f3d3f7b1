"""Log-losses from logits, in a numerically stable form, and the penalized objective.

The seed computes ``-[y log(sigmoid(z)) + (1-y) log(1-sigmoid(z))]``, which is NaN or
inf once ``sigmoid`` rounds to 0 or 1 (|z| > ~17 in float32, ~37 in float64). Here,
with ``log sigmoid(z) = -softplus(-z)``,

    loss(z, y) = y * softplus(-z) + (1 - y) * softplus(z)

Both terms are non-negative, so nothing cancels: the value is accurate to the last bits
for any finite logit, including ``|z| = 1e4``. Gradients come from ``jax.grad``; the
closed form ``sigmoid(z) - y`` lives only in the tests.

The objective of a model is assembled in one place, ``objective_from_logits``: the weighted mean
log-loss plus ``penalty``. ``objective`` (one model, from X) and the training engine (K models
at once, lanes on the last axis) both call it.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from .model import Params, logits as model_logits


def binary_log_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Per-sample binary log-loss ``y softplus(-z) + (1-y) softplus(z)``; labels in [0, 1].

    ``jax.nn.softplus(z)`` is ``max(z, 0) + log1p(exp(-|z|))`` and both terms share
    ``log1p(exp(-|z|))``, so this computes ``[(1-y) z if z >= 0 else -y z] + log1p(exp(-|z|))``:
    the same value (the same bits for 0/1 labels) with one ``exp`` instead of two, and a
    ``jax.grad`` ~10-20x cheaper than through ``logaddexp``'s derivative rule (bench/README.md).
    Both pieces take the ``z >= 0`` branch at 0, so autodiff gives ``sigmoid(0) - y`` there.
    Broadcasts: logits (m, K) against labels (m, 1) gives K models' losses.
    """
    labels = jnp.asarray(labels, logits.dtype)
    nonneg = logits >= 0
    shared = jnp.log1p(jnp.exp(jnp.where(nonneg, -logits, logits)))  # -|z|, one-sided at 0
    return jnp.where(nonneg, (1 - labels) * logits, -labels * logits) + shared


def softmax_log_loss(logits: jax.Array, labels: jax.Array, axis: int = -1) -> jax.Array:
    """Per-sample softmax cross-entropy ``logsumexp(z) - z[y]`` for integer labels (m,), the
    classes along ``axis`` of ``logits`` (m, C) or, for K models, (m, C, K) -> (m, K)."""
    axis = axis % logits.ndim
    label = jnp.expand_dims(jnp.asarray(labels).astype(jnp.int32), axis)
    label = label.reshape(label.shape + (1,) * (logits.ndim - label.ndim))
    # z[y] as a masked sum, not a gather: its gradient is then a fused select, where the
    # gather's is a scatter-add that XLA:CPU runs as a loop over rows.
    is_label = jax.lax.broadcasted_iota(jnp.int32, logits.shape, axis) == label
    picked = jnp.sum(jnp.where(is_label, logits, 0), axis=axis)
    return jax.nn.logsumexp(logits, axis=axis) - picked


def log_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Per-sample log-loss of one model: binary for logits of shape (m,), softmax for (m, K)."""
    return binary_log_loss(logits, labels) if logits.ndim == 1 else softmax_log_loss(logits, labels)


def _row_block(values: jax.Array) -> int | None:
    """The rows per block that ``row_sum`` adds first, or None where it sums plainly."""
    m = values.shape[0]
    block = 1 << max(0, (math.isqrt(m) - 1).bit_length())
    if values.ndim == 1 or jnp.finfo(values.dtype).bits >= 64 or m < 2 * block:
        return None
    return block


def row_sum(values: jax.Array) -> jax.Array:
    """``sum_i values[i]`` over the first axis; for columns (m, ...) below 64 bits in blocks of
    ~sqrt(m) rows, then over the blocks. XLA:CPU sums one column row after row: for one softmax
    lane in float32, 12,000 equal losses log(20) summed to 2.7e-4 above it (relative 1e-4), more
    than the decrease a line search must see near a strongly penalized optimum (the bench's probe:
    435 L-BFGS steps on such a lane, 13 in float64). Blocks bring the error from ~m eps to
    ~2 sqrt(m) eps. A vector's sum is left to XLA, whose own is closer (3e-9 at 10^6 rows)."""
    block = _row_block(values)
    if block is None:
        return jnp.sum(values, axis=0)
    m = values.shape[0]
    whole = m - m % block
    blocks = values[:whole].reshape((whole // block, block) + values.shape[1:])
    partial = jax.lax.optimization_barrier(jnp.sum(blocks, axis=1))  # else XLA merges the two sums
    total = jnp.sum(partial, axis=0)
    return total if whole == m else total + jnp.sum(values[whole:], axis=0)


def row_mean(values: jax.Array) -> jax.Array:
    """``row_sum(values) / m``: ``jnp.mean`` where ``row_sum`` sums plainly. Its rounding is the
    one the seed's test loss was reproduced with, bit for bit (``jaxlr demo``); the sum divided by
    m in a separate operation came out 1 ulp away (5.6e-17)."""
    return jnp.mean(values, axis=0) if _row_block(values) is None else row_sum(values) / values.shape[0]


def weighted_mean(values: jax.Array, sample_weight: jax.Array | None) -> jax.Array:
    """``sum_i s_i v_i / sum_i s_i`` over the first axis (a plain mean when ``sample_weight``
    is None); ``values`` (m,) or (m, K) with weights (m,) or (m, K)."""
    if sample_weight is None:
        return row_mean(values)
    sample_weight = jnp.asarray(sample_weight, values.dtype)
    if values.ndim == 1:
        return jnp.dot(sample_weight, values) / jnp.sum(sample_weight)
    if sample_weight.ndim == 1:
        sample_weight = sample_weight[:, None]
    return row_sum(sample_weight * values) / row_sum(sample_weight)


def binary_cross_entropy(logits, labels, sample_weight=None) -> jax.Array:
    """Weighted mean binary log-loss of ``logits`` (m,) against ``labels`` in {0, 1}."""
    logits = jnp.asarray(logits)
    if not jnp.issubdtype(logits.dtype, jnp.floating):
        logits = logits.astype(float)
    return weighted_mean(binary_log_loss(logits, labels), sample_weight)


def softmax_cross_entropy(logits, labels, sample_weight=None) -> jax.Array:
    """Weighted mean softmax cross-entropy of ``logits`` (m, K) against integer ``labels``."""
    return weighted_mean(softmax_log_loss(jnp.asarray(logits), jnp.asarray(labels)), sample_weight)


def penalty(coef: jax.Array, l1, l2, axis=None) -> jax.Array:
    """``l1 * ||w||_1 + 0.5 * l2 * ||w||^2`` (the intercept is never passed here); ``axis``:
    the coefficient axes to sum over (None: all; the engine keeps one model per column)."""
    return l1 * jnp.sum(jnp.abs(coef), axis=axis) + 0.5 * l2 * jnp.sum(coef * coef, axis=axis)


def objective_from_logits(logits, labels, sample_weight, coef, l1=0.0, l2=0.0, *, class_axis=None,
                          coef_axis=None) -> jax.Array:
    """The objective ``sum_i s_i loss_i / sum_i s_i + l1 ||w||_1 + 0.5 l2 ||w||^2``.

    ``class_axis`` is None for binary logits, else the axis of ``logits`` holding the classes;
    ``coef_axis`` the axes of ``coef`` to sum the penalty over (None: one model). With models as
    the last axis (logits (m, [C,] K), weights (m, K), coef (P, K)) it returns K objectives.
    """
    if class_axis is not None:
        loss = softmax_log_loss(logits, labels, axis=class_axis)
    elif logits.ndim == 2 and logits.shape[1] == 1 and jnp.ndim(labels) == 1:
        # one lane as a vector: XLA:CPU sums an (m, 1) array fused with exp/log1p ~10x slower than
        # the same m values as a vector (bench/README.md, the one-model GD step)
        weight = None if sample_weight is None else jnp.reshape(sample_weight, (logits.shape[0], -1))[:, 0]
        mean = weighted_mean(binary_log_loss(logits[:, 0], labels), weight)[None]
        return mean + penalty(coef, l1, l2, axis=coef_axis)
    else:
        labels = jnp.asarray(labels)
        loss = binary_log_loss(logits, labels.reshape(labels.shape + (1,) * (logits.ndim - labels.ndim)))
    return weighted_mean(loss, sample_weight) + penalty(coef, l1, l2, axis=coef_axis)


def smooth_objective(params: Params, X, y, sample_weight, l2, fit_intercept: bool = True) -> jax.Array:
    """The differentiable part: weighted mean log-loss + ``0.5 * l2 * ||w||^2``."""
    return objective(params, X, y, sample_weight, 0.0, l2, fit_intercept)


def objective(params: Params, X, y, sample_weight=None, l1=0.0, l2=0.0,
              fit_intercept: bool = True) -> jax.Array:
    """``sum_i s_i loss_i / sum_i s_i + l1 ||w||_1 + 0.5 l2 ||w||^2``, intercept unpenalized."""
    z = model_logits(params, X) if fit_intercept else X @ params.coef
    return objective_from_logits(z, y, sample_weight, params.coef, l1, l2,
                                 class_axis=None if z.ndim == 1 else -1)


__all__ = [
    "binary_log_loss", "softmax_log_loss", "log_loss", "binary_cross_entropy", "softmax_cross_entropy",
    "penalty", "objective", "objective_from_logits", "smooth_objective", "weighted_mean",
]
