"""Many models at once: the grid ``seeds x learning rates x l2 x l1 (x folds)`` as lanes of one
compiled program (``fit_many``).

Fold membership is a 0/1 weight mask, so every lane sees arrays of one shape; model ``k`` equals
``fit`` with the settings in ``grid[k]``.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from typing import Callable, Sequence

import numpy as np

from . import _data
from ._halving import successive_halving, validation_loss
from ._lanes import DEFAULT_MEMORY_BUDGET, Checkpoint, check_seed, fit_many, lane_steps_computed, warn_if_unfinished
from ._search import Distribution, draw
from ._results import SweepResult
from ._train import warn_on_scale


def fold_masks(folds, n_samples: int, labels: np.ndarray) -> np.ndarray:
    """(F, m) 0/1 training masks from an int (stratified, shuffled with seed 0) or from
    a sequence of ``(train_idx, test_idx)`` pairs (e.g. a scikit-learn splitter's output)."""
    if isinstance(folds, (int, np.integer)) and not isinstance(folds, bool):
        n_folds = _data.check_scalar("folds", folds, minimum=2, integer=True)
        if n_folds > n_samples:
            raise _data.ArgumentValueError("folds", f"must be <= n_samples ({n_samples}), got {n_folds}")
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
        raise _data.ArgumentTypeError("folds", f"must be an int or a sequence of (train, test) index pairs, got {folds!r}") from None
    if not pairs:
        raise _data.ArgumentValueError("folds", "is empty")
    masks = np.zeros((len(pairs), n_samples))
    for f, pair in enumerate(pairs):
        train_idx = np.asarray(pair[0])
        if train_idx.size == 0 or train_idx.min() < 0 or train_idx.max() >= n_samples:
            raise _data.ArgumentValueError(f"folds[{f}]", f"has training indices outside 0..{n_samples - 1} or none")
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
    halving: int | None = None,
    rung_steps: int | None = None,
    n_samples: int | None = None,
    seed: int = 0,
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

    With ``folds``, ``validation_loss`` (in ``rows()`` and ``table()``) is each model's weighted
    mean log-loss on its fold's held-out rows.

    ``halving=f`` (an int >= 2, with ``folds``): successive halving. At rungs of ``rung_steps``,
    ``rung_steps * f``, ``rung_steps * f^2``, ... steps (by default ``rung_steps = steps / f^R``,
    ``R = ceil(log_f(settings))`` rungs), the settings (learning rate, l2, l1) still running are
    ranked by their held-out fold loss, the mean over folds and seeds, and all but the best
    ``1/f`` stop with status ``pruned``; the survivors continue to tolerance within ``steps``.
    ``rows()`` then also give each model's ``rung`` (where its setting was ranked out; the
    number of rungs for the finalists, the models not ``pruned``). See ``jaxlr._halving`` for
    what carries over between rungs.

    Search spaces: ``learning_rate``, ``l2`` and ``l1`` may each be a distribution
    (``jaxlr.loguniform``, ``jaxlr.uniform``, ``jaxlr.choice``); ``n_samples`` values are then
    drawn (jointly: sample ``i`` takes the ``i``-th draw of each) with NumPy from ``seed``, and
    crossed with the grid values of the other hyperparameters. The draws are reproducible: the
    same ``seed`` gives the same values (see ``jaxlr._search``).
    """
    names = [str(c) for c in X.columns] if hasattr(X, "columns") else None
    X = _data.check_features(X)
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seeds = tuple(range(_data.check_scalar("seeds", seeds, minimum=1, maximum=2**20, integer=True)))  # a model each
    seeds = tuple(check_seed(f"seeds[{k}]", s) for k, s in enumerate(_data.as_values("seeds", seeds, integer=True)))
    settings = _settings(learning_rate, l2, l1, n_samples, seed)
    if halving is not None:
        halving = _data.check_scalar("halving", halving, minimum=2, integer=True)
        if folds is None:
            raise _data.ArgumentValueError("halving", "needs folds: settings are ranked by their held-out fold loss")
        if rung_steps is not None:
            rung_steps = _data.check_scalar("rung_steps", rung_steps, minimum=1, integer=True)
        if path is True:
            raise _data.ArgumentValueError("halving", "and path=True exclude each other: a path trains the penalties "
                                           "one after another, halving races them side by side")
    elif rung_steps is not None:
        raise _data.ArgumentValueError("rung_steps", "needs halving (the factor between rungs)")
    masks, fold_ids = None, (None,)
    if folds is not None:
        codes, _ = _data.check_labels(y, X.shape[0])
        masks = fold_masks(folds, X.shape[0], codes)
        fold_ids = tuple(range(masks.shape[0]))
    if len(seeds) > 1 and batch_size is None:
        warnings.warn(f"seeds: {len(seeds)} seeds with full batches give identical models (a seed only "
                      "orders minibatches); pass batch_size to make seeds matter", UserWarning, stacklevel=2)
    grid = []
    for s, (lr, l2v, l1v), f in itertools.product(seeds, settings, fold_ids):
        grid.append({"seed": s, "learning_rate": lr, "l2": l2v, "l1": l1v, **({} if f is None else {"fold": f})})

    def column(name):
        return [g[name] for g in grid]

    options = dict(solver=solver, tol=tol, fit_intercept=fit_intercept, sample_weight=sample_weight,
                   class_weight=class_weight, batch_size=batch_size, standardize=standardize, init=init,
                   chunk_size=chunk_size, memory_budget=memory_budget, progress=progress,
                   progress_every=progress_every, checkpoint=checkpoint, mesh=mesh)
    if halving is not None:
        result = successive_halving(X, y, grid=grid, factor=halving, rung_steps=rung_steps, fold_weights=masks,
                                    validation_weights=validation_masks(folds, masks), steps=steps, **options)
    else:
        result = fit_many(
            X, y, l2=column("l2"), l1=column("l1"), learning_rate=column("learning_rate"), seed=column("seed"),
            fold=None if folds is None else column("fold"), fold_weights=masks, steps=steps, grid=grid, path=path,
            **options)
        if folds is not None:
            result = _with_validation_loss(result, X, y, sample_weight, class_weight, validation_masks(folds, masks))
    warn_if_unfinished(result.status, result.residual, result.config["tol"], steps, label="sweep: ")
    if not standardize:
        warn_on_scale(X, np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float), names)
    return result


def validation_masks(folds, masks: np.ndarray) -> np.ndarray:
    """(F, m) 0/1 held-out masks: the rows each fold does not train on (an int ``folds``), or
    the test indices of each ``(train_idx, test_idx)`` pair."""
    if isinstance(folds, (int, np.integer)):
        return 1.0 - masks
    held_out = np.zeros_like(masks)
    for f, pair in enumerate(folds):
        test_idx = np.asarray(pair[1])
        if test_idx.size == 0 or test_idx.min() < 0 or test_idx.max() >= masks.shape[1]:
            raise _data.ArgumentValueError(f"folds[{f}]", f"has test indices outside 0..{masks.shape[1] - 1} or none")
        held_out[f, test_idx] = 1.0
    return held_out


def _with_validation_loss(result: SweepResult, X, y, sample_weight, class_weight, held_out) -> SweepResult:
    """The sweep result with each model's held-out log-loss (host NumPy; nothing compiles)."""
    from . import sharding as _sharding

    ds = _data.check_dataset(X, y, sample_weight, class_weight)
    folds = np.array([g["fold"] for g in result.grid])
    weights = held_out[folds] * ds.sample_weight[None, :]
    losses = validation_loss(ds.X, ds.y, weights, _sharding.to_host(result.coef), _sharding.to_host(result.intercept))
    return dataclasses.replace(result, validation_loss=losses)


HYPERPARAMETERS = (("learning_rate", 0.0, True), ("l2", 0.0, False), ("l1", 0.0, False))


def _settings(learning_rate, l2, l1, n_samples, seed) -> list[tuple]:
    """(learning_rate, l2, l1) per setting: the cartesian grid of the given values, with the
    distribution-valued ones replaced by ``n_samples`` joint draws (sample-major)."""
    given = {"learning_rate": learning_rate, "l2": l2, "l1": l1}
    random = [name for name, value in given.items() if isinstance(value, Distribution)]
    if random and n_samples is None:
        raise _data.ArgumentValueError("n_samples", "must be given with a distribution "
                                       f"({', '.join(f'{n}={given[n]!r}' for n in random)}): the number of values to draw")
    if n_samples is not None and not random:
        raise _data.ArgumentValueError("n_samples", "needs a distribution to draw from: pass learning_rate, l2 or l1 "
                                       "as jaxlr.loguniform(...), jaxlr.uniform(...) or jaxlr.choice([...])")
    seed = check_seed("seed", seed)
    values = {}
    if random:
        n_samples = _data.check_scalar("n_samples", n_samples, minimum=1, integer=True)
    for name, minimum, strict in HYPERPARAMETERS:
        if name in random:
            values[name] = draw(name, given[name], n_samples, seed, minimum=minimum, strict=strict)
        else:
            values[name] = _data.as_values(name, given[name], minimum=minimum, strict=strict)
    grid_names = [name for name, _, _ in HYPERPARAMETERS if name not in random]
    samples = range(n_samples) if random else (None,)
    settings = []
    for i, fixed in itertools.product(samples, itertools.product(*(values[n] for n in grid_names))):
        chosen = dict(zip(grid_names, fixed))
        chosen.update({n: values[n][i] for n in random})
        settings.append(tuple(chosen[name] for name, _, _ in HYPERPARAMETERS))
    return settings


__all__ = ["sweep", "fold_masks", "validation_masks", "lane_steps_computed"]
