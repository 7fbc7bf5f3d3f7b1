"""Which models to train: a ``Grid`` of per-model settings, the names defined once.

A model ("lane") is a seed, a learning rate, an l2 and an l1 penalty, and the fold it trains on
(a row of ``fold_weights``, the folds' training weights: a fold is a 0/1 weight mask, so every
lane sees arrays of one shape). ``Grid.of`` takes per-model values (``fit_many``), ``Grid.product``
the cartesian grid (``sweep``); either checks every value once, naming the argument at fault.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any, Iterator, Sequence

import numpy as np

from .checks import ArgumentTypeError, ArgumentValueError, as_values, check_scalar

SETTINGS = ("learning_rate", "l2", "l1")  # what a grid point is; seeds and folds are replicates
FIELDS = ("seed", *SETTINGS, "fold")  # what a model is
CHECKS = {  # the range of each per-model value
    "seed": dict(minimum=0, maximum=2**32 - 1, integer=True),
    "learning_rate": dict(minimum=0.0, strict=True),
    "l2": dict(minimum=0.0),
    "l1": dict(minimum=0.0),
    "fold": dict(minimum=0, integer=True),
}
MAX_DRAWS = 2**20  # seeds as a count, random-search samples: a million models is far past any budget
DEFAULTS = {"seed": 0, "learning_rate": 0.01, "l2": 0.0, "l1": 0.0}


class FrozenDict(Mapping):
    """An immutable, hashable mapping (results keep their settings as pytree metadata)."""

    __slots__ = ("_items", "_hash")

    def __init__(self, *args, **kwargs):
        self._items = dict(*args, **kwargs)
        self._hash = None

    def __getitem__(self, key):
        return self._items[key]

    def __iter__(self) -> Iterator:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple((k, _hashable(v)) for k, v in self._items.items()))
        return self._hash

    def __eq__(self, other) -> bool:
        return isinstance(other, Mapping) and dict(self._items) == dict(other)

    def __repr__(self) -> str:
        return repr(self._items)

    def __reduce__(self):
        return FrozenDict, (self._items,)


def _hashable(value):
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def values(name: str, value, field: str | None = None) -> tuple:
    """A scalar or a sequence of per-model values of ``field`` (default ``name``; errors name
    ``name``), checked (``CHECKS``)."""
    field = field or name
    if field != "seed":
        return as_values(name, value, **CHECKS[field])
    seeds = as_values(name, value, integer=True)
    for k, s in enumerate(seeds):
        if not 0 <= s < 2**32:
            raise ArgumentValueError(f"{name}[{k}]" if np.ndim(value) else name,
                                     f"must be in 0 .. 2**32 - 1 (a PRNG seed), got {s}")
    return seeds


def value(name: str, given):
    """One value of field ``name`` (a scalar: ``fit`` trains one model), checked."""
    if np.ndim(given) != 0 or isinstance(given, (str, bytes)):
        check_scalar(name, given)  # the error a scalar check gives
    return values(name, given)[0]


@dataclasses.dataclass(frozen=True)
class Grid:
    """K models: one value per model of every field (arrays of length K), the folds' training
    weights (F, n_samples) when models train on folds, and ``labels``: what each model is, for
    results (``SweepResult.grid``)."""

    seed: np.ndarray
    learning_rate: np.ndarray
    l2: np.ndarray
    l1: np.ndarray
    fold: np.ndarray
    fold_weights: np.ndarray | None = None
    labels: tuple = ()

    def __len__(self) -> int:
        return len(self.seed)

    @classmethod
    def of(cls, n_samples: int, *, fold_weights=None, labels: Sequence[dict] | None = None, **given) -> "Grid":
        """Per-model values: each of ``seed``, ``learning_rate``, ``l2``, ``l1``, ``fold`` one value
        (shared) or one per model; ``fold_weights`` (F, n_samples) non-negative weights per fold
        (``fold[k]`` the row model ``k`` trains on). ``labels``: what each model is (default: its
        values)."""
        unknown = set(given) - set(FIELDS)
        if unknown:
            raise TypeError(f"unexpected per-model argument {sorted(unknown)[0]!r}")
        columns = {name: values(name, DEFAULTS.get(name, 0) if given.get(name) is None else given[name])
                   for name in FIELDS}
        lengths = {len(v) for v in columns.values()} - {1}
        n_models = len(labels) if labels is not None else max(lengths, default=1)
        for name, column in columns.items():
            if len(column) not in (1, n_models):
                raise ArgumentValueError(name, f"must be one value or one per model ({n_models}), got {len(column)}")
        masks = None
        if fold_weights is None:
            if given.get("fold") is not None:
                raise ArgumentValueError("fold", "needs fold_weights (one row of training weights per fold)")
        else:
            masks = check_fold_weights(fold_weights, n_samples)
            if max(columns["fold"]) >= masks.shape[0]:
                raise ArgumentValueError("fold", f"must index a row of fold_weights (0 .. {masks.shape[0] - 1}), "
                                         f"got {max(columns['fold'])}")
        full = {name: np.repeat(v, n_models) if len(v) == 1 else np.asarray(v) for name, v in columns.items()}
        if labels is None:
            keys = FIELDS if masks is not None else FIELDS[:-1]
            labels = [{k: full[k][i].item() for k in keys} for i in range(n_models)]
        return cls(full["seed"].astype(np.uint32), *(full[k].astype(float) for k in SETTINGS),
                   full["fold"].astype(np.int32), masks, tuple(FrozenDict(g) for g in labels))

    @classmethod
    def product(cls, n_samples: int, *, seeds: Sequence[int], settings: Sequence[tuple], fold_weights=None) -> "Grid":
        """The cartesian grid ``seeds x settings (x folds)``, seed-major; ``settings`` are
        ``(learning_rate, l2, l1)`` triples."""
        folds = (None,) if fold_weights is None else tuple(range(len(fold_weights)))
        rows = [{"seed": s, "learning_rate": lr, "l2": a, "l1": b, **({} if f is None else {"fold": f})}
                for s, (lr, a, b), f in itertools.product(seeds, settings, folds)]
        columns = {k: [r.get(k, 0) for r in rows] for k in FIELDS}
        return cls.of(n_samples, fold_weights=fold_weights, labels=rows,
                      **{k: v for k, v in columns.items() if k != "fold" or fold_weights is not None})

    def take(self, idx) -> "Grid":
        """The models ``idx`` (indices into this grid), in that order."""
        idx = np.asarray(idx, int)
        return dataclasses.replace(self, seed=self.seed[idx], learning_rate=self.learning_rate[idx], l2=self.l2[idx],
                                   l1=self.l1[idx], fold=self.fold[idx], labels=tuple(self.labels[i] for i in idx))

    @property
    def uses_l1(self) -> bool:
        return bool(np.max(self.l1) > 0)

    @property
    def learning_rate_grid(self) -> bool:
        return len(set(self.learning_rate.tolist())) > 1

    def training_weights(self, sample_weight: np.ndarray) -> np.ndarray:
        """(F, m) training weights per fold: the fold masks times the data's weights (one row of
        the data's weights without folds)."""
        if self.fold_weights is None:
            return sample_weight[None, :]
        W = self.fold_weights * sample_weight[None, :]
        if (W.sum(axis=1) <= 0).any():
            raise ArgumentValueError("fold_weights", "has a fold with no training rows of positive weight")
        return W


def check_fold_weights(fold_weights, n_samples: int) -> np.ndarray:
    masks = np.asarray(fold_weights, dtype=float)
    if masks.ndim != 2 or masks.shape[1] != n_samples:
        raise ArgumentValueError("fold_weights", f"must have shape (n_folds, {n_samples}), got {masks.shape}")
    if not np.isfinite(masks).all() or (masks < 0).any():
        raise ArgumentValueError("fold_weights", "must be finite and non-negative")
    return masks


def check_seeds(seeds) -> tuple[int, ...]:
    """``seeds``: an int n (the seeds 0..n-1, one model each) or a sequence of seeds."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        return tuple(range(check_scalar("seeds", seeds, minimum=1, maximum=MAX_DRAWS, integer=True)))
    return values("seeds", seeds, field="seed")


def fold_masks(folds, labels: np.ndarray) -> np.ndarray:
    """(F, m) 0/1 training masks from an int (stratified, shuffled with seed 0) or from a sequence
    of ``(train_idx, test_idx)`` pairs (e.g. a scikit-learn splitter's output)."""
    n_samples = len(labels)
    if isinstance(folds, (int, np.integer)) and not isinstance(folds, bool):
        n_folds = check_scalar("folds", folds, minimum=2, integer=True)
        if n_folds > n_samples:
            raise ArgumentValueError("folds", f"must be <= n_samples ({n_samples}), got {n_folds}")
        rng = np.random.default_rng(0)
        assignment = np.empty(n_samples, np.int64)
        for cls in np.unique(labels):  # stratified: deal each class round-robin after a shuffle
            idx = np.flatnonzero(labels == cls)
            rng.shuffle(idx)
            assignment[idx] = (np.arange(len(idx)) + rng.integers(n_folds)) % n_folds
        return np.stack([(assignment != f) for f in range(n_folds)]).astype(np.float64)
    return split_masks(folds, n_samples)[0]


def split_masks(folds: Any, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(F, m) 0/1 training and held-out masks of ``(train_idx, test_idx)`` pairs."""
    try:
        pairs = list(folds)
    except TypeError:
        raise ArgumentTypeError("folds", f"must be an int or a sequence of (train, test) index pairs, got {folds!r}") from None
    if not pairs:
        raise ArgumentValueError("folds", "is empty")
    masks = np.zeros((2, len(pairs), n_samples))
    for f, pair in enumerate(pairs):
        for part, kind in ((0, "training"), (1, "test")):
            idx = np.asarray(pair[part])
            if idx.size == 0 or idx.min() < 0 or idx.max() >= n_samples:
                raise ArgumentValueError(f"folds[{f}]", f"has {kind} indices outside 0..{n_samples - 1} or none")
            masks[part, f, idx] = 1.0
    return masks[0], masks[1]


def held_out_masks(folds, masks: np.ndarray) -> np.ndarray:
    """(F, m) 0/1 held-out masks: the rows each fold does not train on (an int ``folds``), or the
    test indices of each ``(train_idx, test_idx)`` pair."""
    if isinstance(folds, (int, np.integer)):
        return 1.0 - masks
    return split_masks(folds, masks.shape[1])[1]


__all__ = ["Grid", "FrozenDict", "SETTINGS", "FIELDS", "CHECKS", "MAX_DRAWS", "values", "value", "check_seeds",
           "fold_masks", "split_masks", "held_out_masks", "check_fold_weights"]
