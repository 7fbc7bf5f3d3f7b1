"""What the functional API warns about after a fit: badly scaled columns and perfectly separated
classes (where the maximum-likelihood estimate does not exist)."""

from __future__ import annotations

import warnings

import numpy as np

from .._core.model import Params
from .._train.data import Dataset, is_sparse
from .._train.results import PerfectSeparationWarning
from .._train.scaling import column_moments

EXTREME_SCALE = 1e3  # a column this many times the median column scale (or 1/this) slows solvers
# rows (evenly spaced) the scale check reads: on all 100,000 x 100 rows it took 105 ms, as long as
# the fit it warns about (bench/, to the optimum), and on 16,384 of them still 20-50 ms of a 0.1 s
# call; a ratio of 1e3 needs no more digits than 4,096 rows give
SCALE_CHECK_ROWS = 1 << 12


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
    _, scale = column_moments(X, weights)  # finite for any finite X (1e300 included)
    scale = np.where(scale == 0, np.nan, scale)  # constant columns have no scale to compare
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


SEPARATION = ("the maximum-likelihood estimate does not exist (coefficients grow without bound as the solver "
              "runs). Add a penalty (l2 > 0) or remove the separating feature(s).")


def warn_if_separated(result, data: Dataset, fit_intercept: bool, stacklevel: int = 3,
                      category: type = PerfectSeparationWarning) -> None:
    """``PerfectSeparationWarning`` when an unpenalized fit separates the classes."""
    if float(result.config["l1"]) == 0 and float(result.config["l2"]) == 0 and separates(
            result.params, data.X, data.y, data.sample_weight, fit_intercept):
        warnings.warn("The classes are perfectly separated by the fitted model and the fit is unpenalized: "
                      + SEPARATION, category, stacklevel=stacklevel)


def separated_models(result, data: Dataset, l1, l2, fold, fit_intercept: bool) -> np.ndarray:
    """Indices of the unpenalized models of a ``SweepResult`` that separate the classes of their
    own training rows (their fold's weights; ``data.sample_weight`` without folds)."""
    from .._train.mesh import to_host

    free = np.flatnonzero((np.asarray(l1) == 0) & (np.asarray(l2) == 0))
    if free.size == 0:
        return free
    coef, intercept = np.asarray(to_host(result.coef)), np.asarray(to_host(result.intercept))
    folds = None if result.fold_weights is None else np.asarray(to_host(result.fold_weights))
    fold = np.asarray(fold)
    return np.asarray([k for k in free if separates(
        Params(coef[k], intercept[k]), data.X, data.y,
        data.sample_weight if folds is None else folds[fold[k]], fit_intercept)], dtype=int)


def warn_if_any_separated(result, data: Dataset, l1, l2, fold, fit_intercept: bool, label: str,
                          stacklevel: int = 3) -> None:
    """One ``PerfectSeparationWarning`` naming the unpenalized models of a sweep whose training
    rows are perfectly separated (see ``separated_models``)."""
    bad = separated_models(result, data, l1, l2, fold, fit_intercept)
    if bad.size:
        shown = ", ".join(map(str, bad[:5])) + (f" and {bad.size - 5} more" if bad.size > 5 else "")
        warnings.warn(f"{label}{bad.size} unpenalized model(s) (index {shown}) separate the classes of their "
                      f"training rows perfectly: " + SEPARATION, PerfectSeparationWarning, stacklevel=stacklevel)


__all__ = ["ScaleWarning", "warn_on_scale", "separates", "warn_if_separated", "separated_models",
           "warn_if_any_separated", "SCALE_CHECK_ROWS"]
