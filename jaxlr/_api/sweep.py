"""Many models at once: the grid ``seeds x learning rates x l2 x l1 (x folds)`` as lanes of one
compiled program, optionally raced by successive halving.

Fold membership is a 0/1 weight mask, so every lane sees arrays of one shape; model ``k`` equals
``fit`` with the settings in ``grid[k]``.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from typing import Callable, Sequence

import numpy as np

from .._train.checks import ArgumentTypeError, ArgumentValueError, check_callback, check_scalar
from .._train.data import Dataset, dataset, held_out
from .._train.grid import CHECKS, MAX_DRAWS, SETTINGS, Grid, check_seeds, fold_masks, held_out_masks, values
from .._train.options import Options
from .._train.results import SweepResult, warn_unfinished
from .._train.scoring import lane_scores
from .._train.train import Trainer, check_init
from .diagnostics import warn_if_any_separated, warn_on_scale
from .halving import successive_halving
from .search import Distribution, draw


def sweep(X, y, *, seeds: Sequence[int] | int = (0,), learning_rate=0.01, l2=0.0, l1=0.0, folds=None,
          halving: int | None = None, rung_steps: int | None = None, n_samples: int | None = None, seed: int = 0,
          sample_weight=None, class_weight=None, init=None, progress: Callable[[int, int], None] | None = None,
          checkpoint=None, validation=None, **options) -> SweepResult:
    """Train the cartesian grid ``seeds x learning_rate x l2 x l1 (x folds)`` in one compiled,
    ``vmap``ped program. Each of ``learning_rate``, ``l2``, ``l1`` is a number or a sequence;
    ``seeds`` an int (that many seeds, 0..n-1) or a sequence. The options are ``fit``'s
    (``jaxlr.Options``).

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

    ``validation=(X_val, y_val)`` (or ``(X_val, y_val, sample_weight_val)``): a held-out set,
    checked before anything compiles (same number of features, labels among y's classes). Every
    model is scored on it with the held-out scorer: ``validation_loss`` (weighted mean log-loss)
    and ``validation_accuracy``; ``best_index`` is the model of highest validation accuracy
    (the first on ties, as scikit-learn's ``LogisticRegressionCV`` and ``np.argmax`` break
    them), ``best`` that model as a ``FitResult`` and ``best_params`` its settings. Not with
    ``folds`` (each fold has its own held-out rows already). ``jaxlr.linear_probe`` is this
    with scikit-learn's ``C`` grid.

    ``halving=f`` (an int >= 2, with ``folds``): successive halving. At rungs of ``rung_steps``,
    ``rung_steps * f``, ``rung_steps * f^2``, ... steps (by default ``rung_steps = steps / f^R``,
    ``R = ceil(log_f(settings))`` rungs), the settings (learning rate, l2, l1) still running are
    ranked by their held-out fold loss, the mean over folds and seeds, and all but the best
    ``1/f`` stop with status ``pruned``; the survivors continue to tolerance within ``steps``.
    ``rows()`` then also give each model's ``rung`` (where its setting was ranked out; the
    number of rungs for the finalists, the models not ``pruned``). See ``jaxlr._api.halving`` for
    what carries over between rungs.

    Search spaces: ``learning_rate``, ``l2`` and ``l1`` may each be a distribution
    (``jaxlr.loguniform``, ``jaxlr.uniform``, ``jaxlr.choice``); ``n_samples`` values are then
    drawn (jointly: sample ``i`` takes the ``i``-th draw of each) with NumPy from ``seed``, and
    crossed with the grid values of the other hyperparameters. The draws are reproducible: the
    same ``seed`` gives the same values (see ``jaxlr._api.search``).
    """
    return sweep_dataset(dataset(X, y, sample_weight, class_weight), seeds=seeds, learning_rate=learning_rate,
                         l2=l2, l1=l1, folds=folds, halving=halving, rung_steps=rung_steps, n_samples=n_samples,
                         seed=seed, init=init, progress=progress, checkpoint=checkpoint, validation=validation,
                         stacklevel=4, **options)


def sweep_dataset(data: Dataset, *, seeds: Sequence[int] | int = (0,), learning_rate=0.01, l2=0.0, l1=0.0,
                  folds=None, halving: int | None = None, rung_steps: int | None = None, n_samples: int | None = None,
                  seed: int = 0, init=None, progress: Callable[[int, int], None] | None = None, checkpoint=None,
                  validation=None, validation_names=None, stacklevel: int = 3, **options) -> SweepResult:
    """``sweep`` on a validated ``Dataset`` (the command line validates its file once and comes here).
    ``validation_names``: how the caller spells the held-out set's X, y and weights in errors."""
    check_callback("progress", progress)
    held_out_set = None
    if validation is not None:
        if folds is not None:
            raise ArgumentValueError("validation", "and folds exclude each other: with folds each model is "
                                     "scored on its fold's held-out rows")
        held_out_set = check_validation(validation, data, validation_names)
    seeds = check_seeds(seeds)
    settings = _settings({"learning_rate": learning_rate, "l2": l2, "l1": l1}, n_samples, seed)
    if halving is not None:
        halving = check_scalar("halving", halving, minimum=2, integer=True)
        if folds is None:
            raise ArgumentValueError("halving", "needs folds: settings are ranked by their held-out fold loss")
        if rung_steps is not None:
            rung_steps = check_scalar("rung_steps", rung_steps, minimum=1, integer=True)
        if options.get("path") is True:
            raise ArgumentValueError("halving", "and path=True exclude each other: a path trains the penalties "
                                     "one after another, halving races them side by side")
        options["path"] = False
    elif rung_steps is not None:
        raise ArgumentValueError("rung_steps", "needs halving (the factor between rungs)")
    masks = None if folds is None else fold_masks(folds, data.y)
    if len(seeds) > 1 and options.get("batch_size") is None:
        warnings.warn(f"seeds: {len(seeds)} seeds with full batches give identical models (a seed only "
                      "orders minibatches); pass batch_size to make seeds matter", UserWarning, stacklevel=stacklevel - 1)
    grid = Grid.product(data.X.shape[0], seeds=seeds, settings=settings, fold_weights=masks)
    opts = Options.resolve(data, grid, checkpoint=checkpoint is not None, caller="sweep", **options)
    trainer = Trainer(data, opts, grid)
    start = check_init(init, len(grid), data)
    held_out = None if folds is None else held_out_masks(folds, masks) * data.sample_weight[None, :]
    if halving is not None:
        result = successive_halving(trainer, grid, held_out, factor=halving, rung_steps=rung_steps, init=start,
                                    progress=progress, checkpoint=checkpoint)
    else:
        result = trainer(grid, init=start, progress=progress, checkpoint=checkpoint)
        if held_out is not None:
            scores = lane_scores(data.X, data.y, result.coef, result.intercept, held_out, grid.fold)
            result = dataclasses.replace(result, validation_loss=scores[:, 0])
        if held_out_set is not None:
            X_val, y_val, w_val = held_out_set
            scores = lane_scores(X_val, y_val, result.coef, result.intercept, w_val[None, :],
                                 np.zeros(len(grid), np.int64), metrics=("loss", "accuracy"))
            result = dataclasses.replace(result, validation_loss=scores[:, 0], validation_accuracy=scores[:, 1])
    warn_unfinished(result.status, result.residual, opts.tol, opts.steps, label="sweep: ", stacklevel=stacklevel,
                    solver=opts.solver.name)
    warn_if_any_separated(result, data, grid.l1, grid.l2, grid.fold, opts.fit_intercept, "sweep: ",
                          stacklevel=stacklevel)
    if not opts.standardize:
        warn_on_scale(data.X, data.row_weight, data.feature_names, stacklevel=stacklevel)
    return result


def check_validation(validation, data: Dataset, names=None):
    """``sweep``'s ``validation``: ``(X_val, y_val[, sample_weight_val])`` checked against the
    training data (see ``held_out``), errors naming ``validation[i]`` unless ``names`` says otherwise."""
    if isinstance(validation, (str, bytes)) or not isinstance(validation, (tuple, list)) \
            or len(validation) not in (2, 3):
        raise ArgumentTypeError("validation", "must be a pair (X_val, y_val) or a triple (X_val, y_val, "
                                f"sample_weight_val), got {type(validation).__name__}")
    X_val, y_val, weight = (*validation, None)[:3]
    names = names or ("validation[0] (X_val)", "validation[1] (y_val)", "validation[2] (sample_weight_val)")
    return held_out(X_val, y_val, weight, data, names)


def _settings(given: dict, n_samples, seed) -> list[tuple]:
    """(learning_rate, l2, l1) per setting: the cartesian grid of the given values, with the
    distribution-valued ones replaced by ``n_samples`` joint draws (sample-major)."""
    random = [name for name in SETTINGS if isinstance(given[name], Distribution)]
    if random and n_samples is None:
        raise ArgumentValueError("n_samples", "must be given with a distribution "
                                 f"({', '.join(f'{n}={given[n]!r}' for n in random)}): the number of values to draw")
    if n_samples is not None and not random:
        raise ArgumentValueError("n_samples", "needs a distribution to draw from: pass learning_rate, l2 or l1 "
                                 "as jaxlr.loguniform(...), jaxlr.uniform(...) or jaxlr.choice([...])")
    seed = check_scalar("seed", seed, **CHECKS["seed"])
    if random:
        n_samples = check_scalar("n_samples", n_samples, minimum=1, maximum=MAX_DRAWS, integer=True)
    drawn = {name: draw(name, given[name], n_samples, seed, minimum=CHECKS[name]["minimum"],
                        strict=CHECKS[name].get("strict", False)) if name in random else values(name, given[name])
             for name in SETTINGS}
    fixed = [name for name in SETTINGS if name not in random]
    out = []
    for i, point in itertools.product(range(n_samples) if random else (None,),
                                      itertools.product(*(drawn[n] for n in fixed))):
        chosen = {**dict(zip(fixed, point)), **{n: drawn[n][i] for n in random}}
        out.append(tuple(chosen[name] for name in SETTINGS))
    return out


__all__ = ["sweep", "sweep_dataset", "check_validation"]
