"""Fitting one model: ``fit``, a single lane of the training engine.

The loop is ``_engine.run``: a compiled ``lax.while_loop`` over the solver's ``step`` that
ends once the model stops (converged or diverged) or spends its budget. ``steps`` and ``tol``
are traced, so a new budget or tolerance reuses the compiled program; ``tol=None`` runs
exactly ``steps`` steps.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from . import _data
from . import _design
from ._engine import trace_count
from ._lanes import (
    DEFAULT_MEMORY_BUDGET, DEFAULT_TOL, RawResult, check_options, check_seed, column_scaling, fit_dataset,
    warn_if_unfinished,
)
from ._model import Params
from ._results import FitResult, FrozenDict, PerfectSeparationWarning

EXTREME_SCALE = 1e3  # a column this many times the median column scale (or 1/this) slows solvers
# rows (evenly spaced) the scale check reads: on all 100,000 x 100 rows it took 105 ms, as long as
# the fit it warns about (bench/, to the optimum); a ratio of 1e3 needs no more digits than these give
SCALE_CHECK_ROWS = 1 << 14


class ScaleWarning(UserWarning):
    """A feature column's scale is extreme compared with the others: standardize X."""


def warn_on_scale(X, weights, feature_names=None, stacklevel: int = 3) -> None:
    """``ScaleWarning`` naming the columns whose scale (weighted standard deviation) differs from
    the median column's by more than ``EXTREME_SCALE``: gradient methods crawl on such data.
    Scales are estimated from at most ``SCALE_CHECK_ROWS`` evenly spaced rows."""
    if X.shape[1] < 2:
        return
    stride = max(1, X.shape[0] // SCALE_CHECK_ROWS)  # orders of magnitude need no more rows
    if stride > 1 and np.sum(np.asarray(weights)[::stride]) > 0:
        X, weights = X[::stride], np.asarray(weights)[::stride]
    if not _design.is_sparse(X):
        X = np.asarray(X, np.float64)  # one contiguous float64 copy of the rows read
    _, scale = column_scaling(X, weights, center=True)
    constant = np.isclose(_column_std(X), 0)
    scale = np.where(constant, np.nan, scale)
    if np.isnan(scale).all():
        return
    median = np.nanmedian(scale)
    ratio = scale / median
    bad = np.flatnonzero((ratio > EXTREME_SCALE) | (ratio < 1 / EXTREME_SCALE))
    if bad.size:
        names = [str(feature_names[j]) if feature_names is not None else f"column {j}" for j in bad[:3]]
        more = f" and {bad.size - 3} more" if bad.size > 3 else ""
        warnings.warn(
            f"X: {', '.join(names)}{more} {'has' if bad.size == 1 else 'have'} a scale "
            f"{float(np.nanmax(np.abs(np.log10(ratio[bad])))):.0f} orders of magnitude from the median "
            f"column's ({median:.3g}); solvers converge slowly on such data: pass standardize=True "
            "(or scale the columns yourself)",
            ScaleWarning,
            stacklevel=stacklevel,
        )


def _column_std(X):
    """Unweighted column standard deviations; of sparse X from its moments (never densified)."""
    if not _design.is_sparse(X):
        return np.std(X, axis=0)
    mean = np.asarray(X.mean(axis=0)).ravel()
    return np.sqrt(np.maximum(np.asarray(X.multiply(X).mean(axis=0)).ravel() - mean * mean, 0.0))


def separates(params: Params, X, y, sample_weight, fit_intercept: bool) -> bool:
    """True when the parameters classify every weighted sample strictly correctly.

    If an unpenalized fit finds such a hyperplane, scaling it up lowers the loss forever:
    the maximum-likelihood estimate does not exist.
    """
    z = np.asarray(X @ np.asarray(params.coef) + (np.asarray(params.intercept) if fit_intercept else 0))
    used = np.asarray(sample_weight) > 0
    if z.ndim == 1:
        margin = np.where(np.asarray(y) > 0.5, z, -z)
    else:
        codes = np.asarray(y).astype(int)
        true = np.take_along_axis(z, codes[:, None], axis=1)[:, 0]
        others = np.where(np.arange(z.shape[1])[None, :] == codes[:, None], -np.inf, z).max(axis=1)
        margin = true - others
    return bool(np.all(margin[used] > 0))


def fit(
    X,
    y,
    *,
    solver="auto",
    learning_rate=0.01,
    steps: int = 1000,
    tol="auto",
    l2=0.0,
    l1=0.0,
    fit_intercept: bool = True,
    sample_weight=None,
    class_weight=None,
    batch_size: int | None = None,
    seed: int = 0,
    standardize: bool = False,
    init=None,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int | None = None,
    mesh=None,
) -> FitResult:
    """Fit one logistic-regression model.

    Minimises ``sum_i s_i loss_i / sum_i s_i + l1 ||w||_1 + 0.5 l2 ||w||^2`` (intercept
    unpenalized); scikit-learn's ``C`` is ``l2 = 1 / (C * sum(s))``.

    ``solver``: ``"auto"`` (newton / lbfgs, fista with L1), ``"gd"`` (the seed's gradient
    descent), ``"momentum"``, ``"nesterov"``, ``"adam"``, ``"adamw"``, ``"adagrad"``,
    ``"rmsprop"``, ``"lbfgs"``, ``"newton"``, ``"fista"``, an ``optax.GradientTransformation``
    (``optax.lbfgs()`` included) or a factory ``learning_rate -> GradientTransformation``
    (e.g. ``optax.adam``). ``steps`` is the iteration budget; with ``tol`` (default ``1e-4``;
    ``"auto"`` means 1e-4 for full batches and None for minibatches) the model stops once its
    residual is ``<= tol``; ``tol=None`` runs exactly ``steps`` steps.
    ``batch_size``: minibatches reshuffled every epoch from ``seed`` (remainder dropped).
    ``standardize``: fit on standardized columns, report coefficients in the units of X.
    ``init``: starting parameters (``Params`` or a previous result).
    ``progress(steps_done, steps)`` is called on the host between rounds of ``progress_every``
    steps. ``mesh``: a ``jax.sharding.Mesh`` (axes "models" and/or "data"); the rows are split
    over the "data" axis (padded with zero-weight rows) and XLA reduces the gradients.
    """
    names = [str(c) for c in X.columns] if hasattr(X, "columns") else None
    ds = _data.check_dataset(X, y, sample_weight, class_weight)
    seed = check_seed("seed", seed)
    many = fit_dataset(
        ds, l2=l2, l1=l1, learning_rate=learning_rate, seed=seed, fold=None, fold_weights=None, solver=solver,
        steps=steps, tol=tol, fit_intercept=fit_intercept, batch_size=batch_size, standardize=standardize,
        init=init, grid=None, chunk_size=None, memory_budget=DEFAULT_MEMORY_BUDGET, progress=progress,
        progress_every=progress_every, checkpoint=None, mesh=mesh,
    )
    result = many[0]
    config = {k: v for k, v in result.config.items() if k not in ("chunk_size", "fold")}
    result = FitResult(result.coef, result.intercept, result.loss_history, result.n_iter, result.status,
                       result.objective, result.residual, result.classes, FrozenDict(config))
    warn_if_unfinished(result.status, result.residual, config["tol"], steps)
    if not standardize:
        warn_on_scale(ds.X, ds.sample_weight, names)
    if float(result.config["l1"]) == 0 and float(result.config["l2"]) == 0 and separates(
            result.params, ds.X, ds.y, ds.sample_weight, fit_intercept):
        warnings.warn(
            "The classes are perfectly separated by the fitted model and the fit is unpenalized: "
            "the maximum-likelihood estimate does not exist (coefficients grow without bound "
            "as the solver runs). Add a penalty (l2 > 0) or remove the separating feature(s).",
            PerfectSeparationWarning,
            stacklevel=2,
        )
    return result


__all__ = ["fit", "separates", "warn_on_scale", "ScaleWarning", "trace_count", "RawResult", "DEFAULT_TOL",
           "check_options"]
