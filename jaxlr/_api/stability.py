"""``stability_selection``: how often each feature is selected by L1 fits on random subsamples
(Meinshausen & Buhlmann 2010; Shah & Samworth 2013's complementary pairs), every subsample and
every l1 value a lane of one compiled program.

The subsamples are 0/1 row masks drawn inside the program from per-subsample keys
(``jaxlr._core.resample``): ``floor(fraction * n)`` rows without replacement; with
``complementary_pairs`` each key also gives the next ``floor(fraction * n)`` rows of the same
random order, disjoint from the first. Lanes of one subsample at several l1 values share its
key, so ``path="auto"`` may solve them as a warm-started path.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable

import numpy as np

from .._core.resample import COMPLEMENT, SUBSAMPLE, Resample
from .._train.checks import ArgumentValueError, as_values, check_bool, check_callback
from .._train.data import dataset
from .._train.grid import CHECKS, FrozenDict, value
from .._train.results import ConvergenceWarning, format_table
from .bootstrap import FINISHED, _names
from .resampling import lanes_missing_a_class, check_count, check_open_unit, check_seed, lane_seeds, resample_grid, resample_weights, train_resamples


@dataclasses.dataclass(frozen=True)
class StabilityResult:
    """``probability`` (L, n_features): the share of finished subsample fits at ``l1[i]`` whose
    coefficient of feature ``j`` is non-zero (for several classes: non-zero for any class).
    ``coef`` (S, L, n_features[, C]) and ``status`` (S, L): every fit; ``seeds`` (S,) the
    subsample keys (with complementary pairs, subsamples ``2k`` and ``2k+1`` share key ``k``)."""

    names: list
    l1: np.ndarray
    probability: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    status: np.ndarray
    seeds: np.ndarray
    modes: np.ndarray
    fraction: float
    complementary_pairs: bool
    config: Any = None  # the training options (solver, tol, ...), as a sweep's ``config``
    _data: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def max_probability(self) -> np.ndarray:
        """(n_features,): each feature's highest selection probability over the l1 values."""
        return self.probability.max(axis=0)

    def selected(self, threshold: float = 0.6) -> list:
        """The names of the features whose highest selection probability reaches ``threshold``."""
        threshold = check_open_unit("threshold", threshold)
        return [n for n, p in zip(self.names, self.max_probability) if p >= threshold]

    def weights(self, s) -> np.ndarray:
        """The (n,) training weights of subsample ``s`` (the data's weights times its 0/1 mask)."""
        resample = Resample((SUBSAMPLE, COMPLEMENT), 1, self.fraction)
        return resample_weights(resample, self.seeds[[s]], self.modes[[s]], self._data)[0]

    def rows(self) -> list[dict]:
        return [{"name": str(n), **{f"l1={a:g}": float(p) for a, p in zip(self.l1, self.probability[:, j])}}
                for j, n in enumerate(self.names)]

    def table(self) -> str:
        kind = ", complementary pairs" if self.complementary_pairs else ""
        head = (f"Stability selection: selection probability over {self.status.shape[0]} subsamples of "
                f"{self.fraction:g} of the rows{kind}")
        return head + "\n" + format_table(self.rows(), max_rows=None)

    __str__ = table


def stability_selection(X, y, *, l1, n_subsamples: int = 100, fraction: float = 0.5, seed: int = 0,
                        complementary_pairs: bool = False, l2=0.0, learning_rate=0.01, sample_weight=None,
                        class_weight=None, progress: Callable[[int, int], None] | None = None,
                        **options) -> StabilityResult:
    """Selection probability of every feature at every ``l1`` value over L1 fits on random
    subsamples of ``floor(fraction * n_samples)`` rows drawn without replacement.

    ``complementary_pairs=True`` (Shah & Samworth): ``n_subsamples`` pairs of disjoint subsamples
    (``2 * n_subsamples`` fits; ``fraction`` at most 0.5). Sparse X is used as it is. Fits that
    do not finish are left out of the probabilities with a ``ConvergenceWarning`` (``status``
    keeps them). ``standardize=True`` scales the columns once by the full data's statistics, not
    per subsample. The other options are ``jaxlr.fit``'s (``solver="auto"`` is FISTA with L1).
    """
    _check(l1, n_subsamples, fraction, seed, complementary_pairs, progress)
    return stability_dataset(dataset(X, y, sample_weight, class_weight), l1=l1, n_subsamples=n_subsamples,
                             fraction=fraction, seed=seed, complementary_pairs=complementary_pairs, l2=l2,
                             learning_rate=learning_rate, progress=progress, **options)


def _check(l1, n_subsamples, fraction, seed, complementary_pairs, progress):
    l1s = as_values("l1", l1, **CHECKS["l1"])
    n_subsamples = check_count("n_subsamples", n_subsamples)
    fraction = check_open_unit("fraction", fraction)
    seed = check_seed(seed)
    complementary_pairs = check_bool("complementary_pairs", complementary_pairs)
    check_callback("progress", progress)
    if complementary_pairs and fraction > 0.5:
        raise ArgumentValueError("fraction", f"must be <= 0.5 with complementary_pairs (two disjoint subsamples), "
                                 f"got {fraction}")
    return l1s, n_subsamples, fraction, seed, complementary_pairs


def stability_dataset(data, *, l1, n_subsamples: int = 100, fraction: float = 0.5, seed: int = 0,
                      complementary_pairs: bool = False, l2=0.0, learning_rate=0.01, progress=None,
                      **options) -> StabilityResult:
    """``stability_selection`` on a validated ``Dataset`` (the command line validates its file once)."""
    l1s, n_subsamples, fraction, seed, complementary_pairs = _check(l1, n_subsamples, fraction, seed,
                                                                    complementary_pairs, progress)
    l2, learning_rate = value("l2", l2), value("learning_rate", learning_rate)
    if int(np.floor(fraction * data.X.shape[0])) < 1:
        raise ArgumentValueError("fraction", f"leaves no rows: floor({fraction} * {data.X.shape[0]}) = 0")
    keys = lane_seeds(seed, n_subsamples)
    if complementary_pairs:
        seeds, modes = np.repeat(keys, 2), np.tile([SUBSAMPLE, COMPLEMENT], n_subsamples)
    else:
        seeds, modes = keys, np.full(n_subsamples, SUBSAMPLE)
    S, L = len(seeds), len(l1s)
    lane_seed, lane_mode = np.repeat(seeds, L), np.repeat(modes, L)
    lane_l1 = np.tile(np.asarray(l1s, float), S)
    labels = tuple(FrozenDict(subsample=s, l1=a) for s in range(S) for a in l1s)
    grid = resample_grid(lane_seed, lane_mode, l2, lane_l1, learning_rate, labels=labels)
    resample = Resample(tuple(sorted(set(modes.tolist()))), 1, fraction)
    result, _ = train_resamples(data, grid, resample, "stability_selection", progress=progress, **options)
    coef = np.asarray(result.coef).reshape((S, L) + np.shape(result.coef)[1:])
    intercept = np.asarray(result.intercept).reshape((S, L) + np.shape(result.intercept)[1:])
    status = np.asarray(result.status).reshape(S, L)
    missing = lanes_missing_a_class(resample, lane_seed, lane_mode, data).reshape(S, L)
    if missing.any():
        warnings.warn(f"stability_selection: {int(missing[:, 0].sum())} of {S} subsamples lack a class and are left "
                      "out of the selection probabilities", UserWarning, stacklevel=2)
    finished = np.isin(status, FINISHED)
    done = finished & ~missing
    if (~finished & ~missing).any():  # a fit without a class rarely finishes: reported above already
        warnings.warn(f"stability_selection: {int((~finished & ~missing).sum())} of {done.size} fits did not "
                      "finish (see status) "
                      "and are left out of the selection probabilities. Increase steps or standardize X.",
                      ConvergenceWarning, stacklevel=2)
    chosen = coef != 0
    if chosen.ndim == 4:
        chosen = chosen.any(axis=-1)
    counts = (chosen & done[..., None]).sum(axis=0)
    n_done = done.sum(axis=0)[:, None]
    probability = np.where(n_done > 0, counts / np.maximum(n_done, 1), 0.0)
    names = _names(data, (coef.shape[2],), True)[:-1]
    return StabilityResult(names, np.asarray(l1s, float), probability, coef, intercept, status, seeds, modes,
                           fraction, complementary_pairs, result.config, data)


__all__ = ["stability_selection", "stability_dataset", "StabilityResult"]
