"""``permutation_test``: is a model's cross-validated score better than chance? scikit-learn's
``permutation_test_score``, with every permutation and every fold a lane of one compiled program.

A permutation changes the labels, and the engine's lanes share one label vector; but a label is
a weight: the training data are stacked once per class (copy ``c`` labelled ``c``), and a lane
trains on copy ``c`` of row ``i`` with weight ``s_i * [y'_i == c] * [i in its training fold]``,
which is the weighted loss of the fold with labels ``y'`` exactly. So ``(n_permutations + 1)
x n_folds`` labelled folds are fold weights of one stacked data set (its ``n_classes * n``
rows cost one gradient pass each as ``n_classes`` copies would), trained in blocks of labelings
whose weight matrix stays under ``WEIGHT_BUDGET`` bytes, with the same compiled program.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Callable

import numpy as np

from .._train.checks import ArgumentTypeError, ArgumentValueError, check_callback, check_choice, check_scalar
from .._train.data import dataset, from_codes, is_sparse
from .._train.grid import Grid, split_masks
from .._train.options import Options
from .._train.results import ConvergenceWarning
from .._train.scoring import lane_scores
from .._train.train import Trainer
from .bootstrap import FINISHED
from .resampling import SCORING, check_count, check_seed, settings

WEIGHT_BUDGET = 2**28  # bytes of lane weights (labelings x folds x stacked rows) per engine call


@dataclasses.dataclass(frozen=True)
class PermutationResult:
    """``score``: the mean cross-validated score on the true labels; ``permutation_scores``
    (n_permutations,): the same on each permutation; ``pvalue`` = (C + 1) / (n_permutations + 1),
    C the permutations scoring at least ``score``; ``fold_scores`` (n_permutations + 1, n_folds):
    every fold (row 0 the true labels); ``status`` the same shape, every fit's."""

    score: float
    permutation_scores: np.ndarray
    pvalue: float
    fold_scores: np.ndarray
    status: np.ndarray
    scoring: str
    config: dict = dataclasses.field(default_factory=dict)  # the training options, as a sweep's ``config``

    def __iter__(self):  # score, permutation_scores, pvalue = permutation_test(...), as scikit-learn's
        return iter((self.score, self.permutation_scores, self.pvalue))

    def table(self) -> str:
        perm = self.permutation_scores
        return (f"Permutation test ({self.scoring}, {len(perm)} permutations, {self.fold_scores.shape[1]} folds)\n"
                f"score {self.score:.6g}   permutation scores: mean {perm.mean():.6g}, sd {perm.std():.6g}, "
                f"max {perm.max():.6g}   p-value {self.pvalue:.6g}")

    __str__ = table


def stratified_folds(codes: np.ndarray, n_splits: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's ``StratifiedKFold(n_splits)`` (no shuffle) on labels ``codes``: the same
    (train, test) index pairs, without importing scikit-learn."""
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    _, class_perm = np.unique(first, return_inverse=True)
    encoded = class_perm[inverse]
    n_classes = len(first)
    counts = np.bincount(encoded)
    if np.all(n_splits > counts):
        raise ArgumentValueError("cv", f"n_splits={n_splits} cannot be greater than the number of members in each class")
    ordered = np.sort(encoded)
    allocation = np.asarray([np.bincount(ordered[i::n_splits], minlength=n_classes) for i in range(n_splits)])
    test_folds = np.empty(len(codes), dtype=np.int64)
    for k in range(n_classes):
        test_folds[encoded == k] = np.arange(n_splits).repeat(allocation[:, k])
    idx = np.arange(len(codes))
    return [(idx[test_folds != f], idx[test_folds == f]) for f in range(n_splits)]


def _splitter(cv, n: int):
    """``cv`` as a function of the labels -> (train, test) pairs: an int (stratified K-fold, as
    scikit-learn's default), an object with ``split(X, y)`` (a scikit-learn splitter, called
    for every labelling, as ``permutation_test_score`` does) or a fixed sequence of pairs."""
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        n_splits = check_scalar("cv", cv, minimum=2, maximum=n, integer=True)
        return lambda X, codes: stratified_folds(codes, n_splits)
    if hasattr(cv, "split"):
        return lambda X, codes: list(cv.split(X, codes))
    if isinstance(cv, (str, bytes)) or not hasattr(cv, "__iter__"):
        raise ArgumentTypeError("cv", f"must be an int, a splitter with split(X, y) or (train, test) pairs, got {cv!r}")
    pairs = list(cv)
    split_masks(pairs, n)  # checks the indices
    return lambda X, codes: pairs


def permutation_test(X, y, *, n_permutations: int = 100, cv=5, scoring: str = "accuracy", seed: int = 0,
                     l2=0.0, l1=0.0, learning_rate=0.01, sample_weight=None, class_weight=None,
                     progress: Callable[[int, int], None] | None = None, **options) -> PermutationResult:
    """scikit-learn's ``permutation_test_score`` with ``jaxlr.fit``'s model: the mean
    cross-validated ``scoring`` (``"accuracy"``, ``"neg_log_loss"`` or ``"roc_auc"``, on the
    test rows, unweighted as scikit-learn's scorers) on the labels, and on ``n_permutations``
    permutations of them (``np.random.RandomState(seed).permutation(n)``, drawn one after another as
    scikit-learn draws them, so an int ``seed`` gives scikit-learn's permutations);
    ``pvalue = (C + 1) / (n_permutations + 1)``. ``cv``: an int (stratified K-fold on each
    labelling, as scikit-learn's default), a scikit-learn splitter (split on each labelling) or
    fixed (train, test) pairs. Sample weights stay with their rows; ``class_weight`` factors are the
    full data's (scikit-learn's ``"balanced"`` recomputes them on each training fold). All fits run as lanes of one
    compiled program (see the module); the other options are ``jaxlr.fit``'s. Returns a
    ``PermutationResult``, which also unpacks as ``score, permutation_scores, pvalue``.
    """
    check_count("n_permutations", n_permutations)
    check_choice("scoring", scoring, tuple(SCORING))
    check_seed(seed)
    return permutation_dataset(dataset(X, y, sample_weight, class_weight), n_permutations=n_permutations, cv=cv,
                               scoring=scoring, seed=seed, l2=l2, l1=l1, learning_rate=learning_rate,
                               progress=progress, **options)


def permutation_dataset(data, *, n_permutations: int = 100, cv=5, scoring: str = "accuracy", seed: int = 0,
                        l2=0.0, l1=0.0, learning_rate=0.01, progress=None, **options) -> PermutationResult:
    """``permutation_test`` on a validated ``Dataset`` (the command line checks its file once)."""
    n_permutations = check_count("n_permutations", n_permutations)
    metric, sign = SCORING[check_choice("scoring", scoring, tuple(SCORING))]
    seed = check_seed(seed)
    check_callback("progress", progress)
    shared = settings(l2, l1, learning_rate)
    n, C = data.X.shape[0], data.n_classes
    codes = np.asarray(data.y).astype(np.int64)
    split = _splitter(cv, n)
    rng = np.random.RandomState(seed)
    labelings = [codes] + [codes[rng.permutation(n)] for _ in range(n_permutations)]
    folds = [split(data.X, lab) for lab in labelings]
    n_folds = len(folds[0])
    if any(len(f) != n_folds for f in folds):
        raise ArgumentValueError("cv", "gives a different number of folds for different labelings")
    user = data.row_weight
    # each class's weight factor (class_weight's, in the data's weights beside the user's)
    per_class = np.ones(C)
    for k in range(C):
        rows = np.flatnonzero((codes == k) & (user > 0))
        if rows.size:
            per_class[k] = data.sample_weight[rows[0]] / user[rows[0]]
    stacked = _stack(data.X, C)
    big = from_codes(stacked, np.repeat(np.arange(C), n), data.classes, sample_weight=np.tile(user, C))
    per_labeling = n_folds * C * n * data.X.dtype.itemsize
    block = max(1, min(len(labelings), WEIGHT_BUDGET // max(per_labeling, 1)))
    scores = np.empty((len(labelings), n_folds))
    status = np.empty((len(labelings), n_folds), np.int32)
    for lo in range(0, len(labelings), block):
        group = range(lo, min(lo + block, len(labelings)))
        masks = np.zeros((len(group) * n_folds, C * n), data.X.dtype)
        held = np.zeros((len(group) * n_folds, n))
        for g, p in enumerate(group):
            onehot = (labelings[p][None, :] == np.arange(C)[:, None]) * per_class[:, None]  # (C, n)
            for f, (train_idx, test_idx) in enumerate(folds[p]):
                row = np.zeros(n)
                row[np.asarray(train_idx)] = 1.0
                masks[g * n_folds + f] = (onehot * row[None, :]).reshape(-1)
                held[g * n_folds + f, np.asarray(test_idx)] = 1.0
        K = len(masks)
        grid = Grid.of(C * n, fold=np.arange(K), fold_weights=masks, **shared)
        opts = Options.resolve(big, grid, caller="permutation_test", **options)
        result = Trainer(big, opts, grid)(grid, progress=progress)
        status[lo:lo + len(group)] = np.asarray(result.status).reshape(len(group), n_folds)
        for g, p in enumerate(group):
            sl = slice(g * n_folds, (g + 1) * n_folds)
            y_p = labelings[p].astype(data.X.dtype) if C == 2 else labelings[p]
            scores[p] = sign * lane_scores(data.X, y_p, np.asarray(result.coef)[sl], np.asarray(result.intercept)[sl],
                                           held[sl], metrics=(metric,))[:, 0]
    unfinished = ~np.isin(status, FINISHED)
    if unfinished.any():
        warnings.warn(f"permutation_test: {int(unfinished.sum())} of {unfinished.size} fits did not finish (see "
                      "status); their folds are scored as they stopped. Increase steps or standardize X.",
                      ConvergenceWarning, stacklevel=2)
    mean = scores.mean(axis=1)
    score, perm = float(mean[0]), mean[1:]
    pvalue = float((np.sum(perm >= score) + 1.0) / (n_permutations + 1))
    return PermutationResult(score, perm, pvalue, scores, status, scoring, opts.describe() if opts else {})


def _stack(X, copies: int):
    if is_sparse(X):
        import scipy.sparse

        return scipy.sparse.vstack([X] * copies, format="csr")
    return np.concatenate([X] * copies, axis=0)


__all__ = ["permutation_test", "permutation_dataset", "PermutationResult", "stratified_folds"]
