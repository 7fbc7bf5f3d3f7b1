"""``bootstrap``: confidence intervals for a model's coefficients from refits on resampled rows,
every resample a lane of one compiled program.

Resamples are multinomial counts (``n`` rows drawn with replacement, within each class with
``stratify=True``) drawn inside the program from a per-lane key (``jaxlr._core.resample``): the
bootstrap ``scipy.stats.bootstrap`` and Efron & Tibshirani compute, so the intervals mean what
theirs mean. (Poisson(1) weights would parallelize as well but make the resample size random.)
The intervals follow ``scipy.stats.bootstrap``: percentile, basic, and BCa with the jackknife
acceleration (the ``n`` leave-one-out fits are lanes of the same program).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from statistics import NormalDist
from typing import Any, Callable

import numpy as np

from .._core.resample import BOOTSTRAP, JACKKNIFE, ORIGINAL, Resample
from .._core.status import Status
from .._train.checks import check_bool, check_callback, check_choice
from .._train.data import Dataset, dataset
from .._train.results import ConvergenceWarning, FitResult, format_table
from .._train.scoring import lane_scores
from .resampling import (SCORING, check_held_out, lanes_missing_a_class, check_count, check_open_unit, check_seed, lane_seeds, resample_grid, resample_weights,
                         settings, train_resamples)

METHODS = ("percentile", "basic", "bca")
FINISHED = (int(Status.CONVERGED), int(Status.DONE))  # DONE: tol=None ran its fixed budget


@dataclasses.dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap intervals for every parameter (the coefficients, then the intercept(s)).

    With several classes the intercepts are centred (sum zero over the classes): the softmax
    model identifies only their differences. ``estimate``, ``low``, ``high``, ``standard_error`` (the bootstrap distribution's standard
    deviation, ddof=1, as scipy's) are (P,) over the parameters ``names``; ``coef`` (B, n[, C]) and
    ``intercept`` (B[, C]) are the bootstrap distribution, one row per resample, with its
    ``status`` and ``n_iter`` (B,) and ``seeds`` (B,) (the lane keys its weights were drawn from);
    ``used``: the resamples the intervals use (finished ones with every class present; the others
    are reported, never averaged in); ``missing_class`` (B,): a class has no weight in the
    resample (possible only for classes of a few rows; ``stratify=True`` prevents it). ``fit``: the model on the data as given. ``bias`` and ``acceleration``: BCa's
    ``z0`` and ``a`` per parameter, ``jackknife`` (n, P) the leave-one-out fits' parameters
    (``None`` for other methods).
    """

    names: list
    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    standard_error: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    status: np.ndarray
    n_iter: np.ndarray
    seeds: np.ndarray
    used: np.ndarray
    fit: FitResult
    method: str
    confidence_level: float
    stratified: bool
    bias: np.ndarray | None = None
    acceleration: np.ndarray | None = None
    jackknife: np.ndarray | None = None
    missing_class: np.ndarray | None = None
    scores: np.ndarray | None = None
    _data: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def n_resamples(self) -> int:
        return len(self.status)

    @property
    def distribution(self) -> np.ndarray:
        """(B, P): the parameters of every resample (and its held-out score), as ``names``."""
        flat = _flat(self.coef, self.intercept)
        return flat if self.scores is None else np.concatenate([flat, self.scores[:, None]], axis=1)

    def weights(self, k) -> np.ndarray:
        """The training weights resample(s) ``k`` trained on: (n,) for an int, (len(k), n) for a
        sequence; the data's weights times its counts. ``jaxlr.fit(X, y, sample_weight=w, ...)``
        with the same options gives resample ``k``'s model."""
        idx = np.atleast_1d(np.asarray(k, int))
        resample = Resample((ORIGINAL, BOOTSTRAP), self._data.n_classes if self.stratified else 1)
        w = resample_weights(resample, self.seeds[idx], np.full(len(idx), BOOTSTRAP), self._data)
        return w[0] if np.ndim(k) == 0 else w

    def rows(self) -> list[dict]:
        return [{"name": str(name), "estimate": float(e), "std_err": float(s), "low": float(lo), "high": float(hi)}
                for name, e, s, lo, hi in zip(self.names, self.estimate, self.standard_error, self.low, self.high)]

    def table(self) -> str:
        """The intervals as a text table, with how many resamples they use."""
        head = (f"Bootstrap {self.method} intervals, {100 * self.confidence_level:g}% "
                f"({int(self.used.sum())} of {self.n_resamples} resamples{', stratified' if self.stratified else ''})")
        return head + "\n" + format_table(self.rows(), max_rows=None)

    __str__ = table


def bootstrap(X, y, *, n_resamples: int = 1000, method: str = "percentile", confidence_level: float = 0.95,
              seed: int = 0, stratify: bool = False, held_out=None, scoring: str = "accuracy", l2=0.0, l1=0.0,
              learning_rate=0.01, sample_weight=None, class_weight=None,
              progress: Callable[[int, int], None] | None = None, **options) -> BootstrapResult:
    """Bootstrap confidence intervals for the coefficients and intercept of ``jaxlr.fit(X, y, ...)``.

    ``n_resamples`` resamples of the rows, each drawn with replacement (multinomial counts;
    ``stratify=True``: within each class, so every resample keeps the class counts), are refitted
    as lanes of one compiled program; the counts are drawn inside the program from per-resample
    keys (``result.seeds``), so memory does not grow with ``n_resamples * n_samples``.
    ``sample_weight``/``class_weight``: each drawn row keeps its weight (a resample's weights are
    the counts times the data's weights), as a weighted fit on resampled rows would; a
    ``class_weight="balanced"`` factor is the full data's (a refit on each resample would recompute
    it from that resample's class totals; with ``stratify=True`` the two agree).
    ``method``: ``"percentile"``, ``"basic"`` or ``"bca"`` (bias-corrected and accelerated, with
    the jackknife acceleration from ``n_samples`` leave-one-out fits, also lanes of the program),
    computed as ``scipy.stats.bootstrap`` computes them. Resamples that did not finish (stopped
    at the budget or diverged) are excluded from the intervals with a ``ConvergenceWarning`` and
    reported in ``status``. ``held_out=(X_test, y_test)``: also an interval for the models'
    ``scoring`` (``"accuracy"``, ``"neg_log_loss"``, ``"roc_auc"``) on those rows, the last
    parameter (``"score (accuracy)"``; each resample's in ``scores``). ``standardize=True``
    scales the columns once, by the full data's statistics (as ``sweep``'s folds are), not per
    resample: with a penalty, resample ``k`` then equals ``jaxlr.fit`` on ``weights(k)`` only
    without ``standardize`` (or with the columns standardized beforehand). The other options are
    ``jaxlr.fit``'s.
    """
    n_resamples, method, confidence_level, seed, stratify = _check(n_resamples, method, confidence_level, seed,
                                                                   stratify)
    shared = settings(l2, l1, learning_rate)
    return bootstrap_dataset(dataset(X, y, sample_weight, class_weight), n_resamples=n_resamples, method=method,
                             confidence_level=confidence_level, seed=seed, stratify=stratify, held_out=held_out,
                             scoring=scoring, progress=progress, **shared, **options)


def _check(n_resamples, method, confidence_level, seed, stratify):
    return (check_count("n_resamples", n_resamples), check_choice("method", method, METHODS),
            check_open_unit("confidence_level", confidence_level), check_seed(seed), check_bool("stratify", stratify))


def bootstrap_dataset(data: Dataset, *, n_resamples: int = 1000, method: str = "percentile",
                      confidence_level: float = 0.95, seed: int = 0, stratify: bool = False, held_out=None,
                      scoring: str = "accuracy", l2=0.0, l1=0.0, learning_rate=0.01, progress=None,
                      **options) -> BootstrapResult:
    """``bootstrap`` on a validated ``Dataset`` (the command line validates its file once)."""
    n_resamples, method, confidence_level, seed, stratify = _check(n_resamples, method, confidence_level, seed,
                                                                   stratify)
    check_callback("progress", progress)
    check_choice("scoring", scoring, tuple(SCORING))
    test = None if held_out is None else check_held_out(held_out, data)
    shared = settings(l2, l1, learning_rate)
    n = data.X.shape[0]
    seeds = lane_seeds(seed, n_resamples)
    n_jack = n if method == "bca" else 0
    lane_seed = np.concatenate([[0], seeds, np.arange(n_jack)]).astype(np.uint32)
    modes = np.concatenate([[ORIGINAL], np.full(n_resamples, BOOTSTRAP), np.full(n_jack, JACKKNIFE)])
    grid = resample_grid(lane_seed, modes, **shared)
    resample = Resample(tuple(sorted(set(modes.tolist()))), data.n_classes if stratify else 1)
    result, _ = train_resamples(data, grid, resample, "bootstrap", progress=progress, **options)
    missing = lanes_missing_a_class(resample, lane_seed, modes, data)
    scores = None
    if test is not None:
        metric, sign = SCORING[scoring]
        ones = np.ones((1, test[0].shape[0]))
        scores = sign * lane_scores(test[0], test[1], np.asarray(result.coef), np.asarray(result.intercept), ones,
                                    rows=np.zeros(len(grid), int), metrics=(metric,))[:, 0]
    return summarize(result, data, seeds, method, confidence_level, stratify, n_resamples, missing,
                     scores, scoring)


def summarize(result, data: Dataset, seeds, method: str, confidence_level: float, stratify: bool,
              n_resamples: int, missing=None, scores=None, scoring: str = "accuracy") -> BootstrapResult:
    """Intervals from the lanes: 0 the fit on the data, then the resamples, then the jackknife;
    ``missing`` (per lane): a class has no weight in the lane's resample."""
    status = np.asarray(result.status)
    missing = np.zeros(len(status), bool) if missing is None else np.asarray(missing)
    coef, intercept = np.asarray(result.coef), np.asarray(result.intercept)
    if intercept.ndim == 2:  # softmax intercepts are identified up to a constant: report them centred
        intercept = intercept - intercept.mean(axis=1, keepdims=True)
    flat = _flat(coef, intercept)
    if scores is not None:  # the held-out score: one more parameter
        flat = np.concatenate([flat, np.asarray(scores)[:, None]], axis=1)
    estimate, boot = flat[0], flat[1:1 + n_resamples]
    boot_status = status[1:1 + n_resamples]
    lacking = missing[1:1 + n_resamples]
    used = np.isin(boot_status, FINISHED) & ~lacking
    if lacking.any():
        warnings.warn(f"bootstrap: {int(lacking.sum())} of {n_resamples} resamples lack a class (see missing_class) "
                      "and are left out of the intervals; stratify=True keeps every class in every resample",
                      UserWarning, stacklevel=3)
    if status[0] not in FINISHED:
        warnings.warn(f"bootstrap: the fit on the data as given did not finish ({Status(int(status[0])).label}); "
                      "the intervals are centred on an unfinished model. Increase steps or standardize.",
                      ConvergenceWarning, stacklevel=3)
    unfinished = ~np.isin(boot_status, FINISHED) & ~lacking  # those lacking a class: reported above
    if unfinished.any():
        warnings.warn(f"bootstrap: {int(unfinished.sum())} of {n_resamples} resamples did not finish (see status) and "
                      "are left out of the intervals. Increase steps or standardize X.", ConvergenceWarning,
                      stacklevel=3)
    if used.sum() < 2:
        raise RuntimeError(f"bootstrap: only {int(used.sum())} resample(s) finished; no interval can be formed")
    theta = boot[used]
    alpha = (1 - confidence_level) / 2
    bias = acceleration = jack = None
    if method == "bca":
        jack = flat[1 + n_resamples:]
        jack_ok = np.isin(status[1 + n_resamples:], FINISHED) & ~missing[1 + n_resamples:]
        if not jack_ok.all():
            warnings.warn(f"bootstrap: {int((~jack_ok).sum())} jackknife fits did not finish and are left out of "
                          "the BCa acceleration", ConvergenceWarning, stacklevel=3)
        bias, acceleration, (q_low, q_high) = _bca(theta, estimate, jack[jack_ok], alpha)
        low = np.array([np.percentile(theta[:, j], 100 * q_low[j]) for j in range(theta.shape[1])])
        high = np.array([np.percentile(theta[:, j], 100 * q_high[j]) for j in range(theta.shape[1])])
    else:
        low, high = np.percentile(theta, [100 * alpha, 100 * (1 - alpha)], axis=0)
        if method == "basic":
            low, high = 2 * estimate - high, 2 * estimate - low
    names = _names(data, coef.shape[1:], result.config.get("fit_intercept", True))
    if scores is not None:
        names = names + [f"score ({scoring})"]
    fit = result[0]
    n_iter = np.asarray(result.n_iter)[1:1 + n_resamples]
    return BootstrapResult(names, estimate, low, high, theta.std(axis=0, ddof=1), coef[1:1 + n_resamples],
                           intercept[1:1 + n_resamples], boot_status, n_iter, np.asarray(seeds), used, fit, method,
                           confidence_level, stratify, bias, acceleration, jack, lacking,
                           None if scores is None else np.asarray(scores)[1:1 + n_resamples], data)


def _ndtr(x):
    return 0.5 * np.vectorize(math.erfc)(-np.asarray(x, float) / math.sqrt(2))


def _ndtri(p):
    dist = NormalDist()
    return np.vectorize(lambda q: -math.inf if q <= 0 else math.inf if q >= 1 else dist.inv_cdf(q))(p)


def _bca(theta, estimate, jack, alpha):
    """scipy.stats.bootstrap's BCa (Efron & Tibshirani 14.3, 15.4): the bias correction ``z0``
    from the share of resamples below the estimate, the acceleration from the jackknife."""
    B = theta.shape[0]
    share = ((theta < estimate).sum(axis=0) + (theta <= estimate).sum(axis=0)) / (2 * B)
    z0 = _ndtri(share)
    n = jack.shape[0]
    U = (n - 1) * (jack.mean(axis=0) - jack)
    num, den = (U**3).sum(axis=0) / n**3, (U**2).sum(axis=0) / n**2
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(den > 0, num / np.where(den > 0, den, 1.0) ** 1.5 / 6, 0.0)  # constant: no acceleration
    z = _ndtri(alpha)
    q = []
    for zz in (z, -z):
        t = z0 + zz
        q.append(np.nan_to_num(_ndtr(z0 + t / (1 - a * t)), nan=0.5))
    return z0, a, tuple(np.clip(v, 0.0, 1.0) for v in q)


def _flat(coef, intercept):
    K = coef.shape[0]
    return np.concatenate([coef.reshape(K, -1), intercept.reshape(K, -1)], axis=1)


def _names(data: Dataset, coef_shape, fit_intercept) -> list:
    n = coef_shape[0]
    features = list(data.feature_names) if data.feature_names else [f"x{j}" for j in range(n)]
    if len(coef_shape) == 1:
        return features + ["intercept"]
    classes = [str(c) for c in data.classes]
    return [f"{f}[{c}]" for f in features for c in classes] + [f"intercept[{c}]" for c in classes]


__all__ = ["bootstrap", "bootstrap_dataset", "BootstrapResult", "METHODS"]
