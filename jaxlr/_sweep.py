"""Many models at once: the grid ``seeds x learning rates x l2 x l1 (x folds)`` as lanes of one
compiled program (``fit_many``).

Fold membership is a 0/1 weight mask, so every lane sees arrays of one shape; model ``k`` equals
``fit`` with the settings in ``grid[k]``.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Callable, Sequence

import numpy as np

from . import _data
from ._lanes import DEFAULT_MEMORY_BUDGET, Checkpoint, check_seed, fit_many, lane_steps_computed, warn_if_unfinished
from ._results import SweepResult
from ._train import warn_on_scale


def fold_masks(folds, n_samples: int, labels: np.ndarray) -> np.ndarray:
    """(F, m) 0/1 training masks from an int (stratified, shuffled with seed 0) or from
    a sequence of ``(train_idx, test_idx)`` pairs (e.g. a scikit-learn splitter's output)."""
    if isinstance(folds, (int, np.integer)) and not isinstance(folds, bool):
        n_folds = _data.check_scalar("folds", folds, minimum=2, integer=True)
        if n_folds > n_samples:
            raise ValueError(f"folds must be <= n_samples ({n_samples}), got {n_folds}")
        rng = np.random.default_rng(0)
        assignment = np.empty(n_samples, np.int64)
        for cls in np.unique(labels):  # stratified: deal each class round-robin after a shuffle
            idx = np.flatnonzero(labels == cls)
            rng.shuffle(idx)
            assignment[idx] = (np.arange(len(idx)) + rng.integers(n_folds)) % n_folds
        return np.stack([(assignment != f) for f in range(n_folds)]).astype(np.float64)
    try:
        pairs = list(folds)
    except TypeError:
        raise TypeError(f"folds must be an int or a sequence of (train, test) index pairs, got {folds!r}") from None
    if not pairs:
        raise ValueError("folds is empty")
    masks = np.zeros((len(pairs), n_samples))
    for f, pair in enumerate(pairs):
        train_idx = np.asarray(pair[0])
        if train_idx.size == 0 or train_idx.min() < 0 or train_idx.max() >= n_samples:
            raise ValueError(f"folds[{f}] has training indices outside 0..{n_samples - 1} or none")
        masks[f, train_idx] = 1.0
    return masks


def sweep(
    X,
    y,
    *,
    seeds: Sequence[int] | int = (0,),
    learning_rate=0.01,
    l2=0.0,
    l1=0.0,
    solver="auto",
    steps: int = 1000,
    tol="auto",
    fit_intercept: bool = True,
    sample_weight=None,
    class_weight=None,
    batch_size: int | None = None,
    folds=None,
    init=None,
    chunk_size: int | None = None,
    standardize: bool = False,
    path=False,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int | None = None,
    checkpoint: Checkpoint | None = None,
    mesh=None,
) -> SweepResult:
    """Train the cartesian grid ``seeds x learning_rate x l2 x l1 (x folds)`` in one compiled,
    ``vmap``ped program. Each of ``learning_rate``, ``l2``, ``l1`` is a number or a sequence;
    ``seeds`` an int (that many seeds, 0..n-1) or a sequence. The other options are ``fit``'s.

    ``folds``: an int K (stratified K-fold, fixed shuffle) or ``(train_idx, test_idx)`` pairs;
    each fold trains on its training rows through a 0/1 weight mask. ``standardize``: as ``fit``.
    ``path``: solve each penalty grid as a warm-started regularization path (see ``fit_many``).
    With a grid of learning rates and ``solver="auto"``, the solver is ``"gd"`` (the only kind a
    learning rate changes); ``config["solver"]`` records it.
    Model ``k`` equals ``fit`` with the settings in ``grid[k]``. Lanes are processed in chunks
    of ``chunk_size`` (default: as many as fit in ``memory_budget`` bytes of temporaries).

    ``mesh``: a ``jax.sharding.Mesh`` with axes "models" and/or "data" (see
    ``jaxlr.sharding``): lanes are split over "models", rows over "data", and the result
    arrays stay sharded over "models" (replicated when the number of models is not a
    multiple of that axis: JAX arrays cannot be split unevenly). ``memory_budget`` is then
    per device.
    """
    names = [str(c) for c in X.columns] if hasattr(X, "columns") else None
    X = _data.check_features(X)
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seeds = tuple(range(_data.check_scalar("seeds", seeds, minimum=1, integer=True)))
    seeds = tuple(check_seed(f"seeds[{k}]", s) for k, s in enumerate(_data.as_values("seeds", seeds, integer=True)))
    learning_rates = _data.as_values("learning_rate", learning_rate, minimum=0.0, strict=True)
    l2s = _data.as_values("l2", l2, minimum=0.0)
    l1s = _data.as_values("l1", l1, minimum=0.0)
    masks, fold_ids = None, (None,)
    if folds is not None:
        codes, _ = _data.check_labels(y, X.shape[0])
        masks = fold_masks(folds, X.shape[0], codes)
        fold_ids = tuple(range(masks.shape[0]))
    if len(seeds) > 1 and batch_size is None:
        warnings.warn(f"seeds: {len(seeds)} seeds with full batches give identical models (a seed only "
                      "orders minibatches); pass batch_size to make seeds matter", UserWarning, stacklevel=2)
    grid = []
    for s, lr, l2v, l1v, f in itertools.product(seeds, learning_rates, l2s, l1s, fold_ids):
        grid.append({"seed": s, "learning_rate": lr, "l2": l2v, "l1": l1v, **({} if f is None else {"fold": f})})

    def column(name):
        return [g[name] for g in grid]

    result = fit_many(
        X, y, l2=column("l2"), l1=column("l1"), learning_rate=column("learning_rate"), seed=column("seed"),
        fold=None if folds is None else column("fold"), fold_weights=masks, solver=solver, steps=steps,
        tol=tol, fit_intercept=fit_intercept, sample_weight=sample_weight, class_weight=class_weight,
        batch_size=batch_size, standardize=standardize, path=path, init=init, grid=grid, chunk_size=chunk_size, memory_budget=memory_budget,
        progress=progress, progress_every=progress_every, checkpoint=checkpoint, mesh=mesh,
    )
    warn_if_unfinished(result.status, result.residual, result.config["tol"], steps, label="sweep: ")
    if not standardize:
        warn_on_scale(X, np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float), names)
    return result


__all__ = ["sweep", "fold_masks", "lane_steps_computed"]
