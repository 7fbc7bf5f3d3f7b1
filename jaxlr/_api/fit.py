"""``fit`` (one model) and ``fit_many`` (any set of models on the same data): check at the door,
then one call of the core's entrance (``jaxlr._train.train``).

Options (``solver``, ``steps``, ``tol``, ``fit_intercept``, ``batch_size``, ``standardize``,
``path``, ``chunk_size``, ``memory_budget``, ``progress_every``, ``mesh``) are keyword arguments
checked by ``jaxlr.Options`` (see its fields); the per-model settings (``seed``,
``learning_rate``, ``l2``, ``l1``, ``fold``) form the ``Grid``.
"""

from __future__ import annotations

from typing import Callable, Sequence

from .._train.checks import check_callback
from .._train.data import Dataset, dataset
from .._train.grid import FrozenDict, Grid, value
from .._train.options import Options
from .._train.results import FitResult, SweepResult, warn_unfinished
from .._train.train import check_init, train
from .diagnostics import warn_if_any_separated, warn_if_separated, warn_on_scale


def fit(X, y, *, l2=0.0, l1=0.0, learning_rate=0.01, seed: int = 0, sample_weight=None, class_weight=None,
        init=None, progress: Callable[[int, int], None] | None = None, **options) -> FitResult:
    """Fit one logistic-regression model.

    Minimises ``sum_i s_i loss_i / sum_i s_i + l1 ||w||_1 + 0.5 l2 ||w||^2`` (intercept
    unpenalized); scikit-learn's ``C`` is ``l2 = 1 / (C * sum(s))``.

    ``solver``: ``"auto"`` (newton / lbfgs, fista with L1), ``"gd"`` (the seed's gradient
    descent), ``"momentum"``, ``"nesterov"``, ``"adam"``, ``"adamw"``, ``"adagrad"``,
    ``"rmsprop"``, ``"lbfgs"``, ``"newton"``, ``"fista"``, an ``optax.GradientTransformation``
    (``optax.lbfgs()`` included) or a factory ``learning_rate -> GradientTransformation``
    (e.g. ``optax.adam``). ``steps`` is the iteration budget (0: the starting model); with ``tol``
    (default ``1e-4``; ``"auto"`` means 1e-4 for full batches and None for minibatches) the model
    stops once its residual is ``<= tol``; ``tol=None`` runs exactly ``steps`` steps.
    ``batch_size``: minibatches reshuffled every epoch from ``seed`` (remainder dropped).
    ``standardize``: fit on standardized columns, report coefficients in the units of X.
    ``init``: starting parameters (``Params`` or a previous result).
    ``progress(steps_done, steps)`` is called on the host between rounds of ``progress_every``
    steps. ``mesh``: a ``jax.sharding.Mesh`` (axes "models" and/or "data"); the rows are split
    over the "data" axis (padded with zero-weight rows) and XLA reduces the gradients. The other
    options are ``jaxlr.Options``'s.
    """
    return fit_dataset(dataset(X, y, sample_weight, class_weight), l2=l2, l1=l1, learning_rate=learning_rate,
                       seed=seed, init=init, progress=progress, stacklevel=4, **options)


def fit_dataset(data: Dataset, *, l2=0.0, l1=0.0, learning_rate=0.01, seed: int = 0, init=None,
                progress: Callable[[int, int], None] | None = None, stacklevel: int = 3, **options) -> FitResult:
    """``fit`` on a validated ``Dataset`` (the command line validates its file once and comes here)."""
    check_callback("progress", progress)
    settings = {name: value(name, given)
                for name, given in (("seed", seed), ("learning_rate", learning_rate), ("l2", l2), ("l1", l1))}
    grid = Grid.of(data.X.shape[0], **settings)
    opts = Options.resolve(data, grid, caller="fit", **options)
    one = train(data, opts, grid, init=check_init(init, 1, data), progress=progress)[0]
    config = {k: v for k, v in one.config.items() if k not in ("chunk_size", "lane_steps")}
    result = FitResult(one.coef, one.intercept, one.loss_history, one.n_iter, one.status, one.objective,
                       one.residual, one.classes, FrozenDict(config))
    warn_unfinished(result.status, result.residual, opts.tol, opts.steps, stacklevel=stacklevel,
                    solver=opts.solver.name)
    if not opts.standardize:
        warn_on_scale(data.X, data.row_weight, data.feature_names, stacklevel=stacklevel)
    warn_if_separated(result, data, opts.fit_intercept, stacklevel=stacklevel)
    return result


def fit_many(X, y, *, l2=0.0, l1=0.0, learning_rate=0.01, seed=0, fold=None, fold_weights=None,
             sample_weight=None, class_weight=None, init=None, grid: Sequence[dict] | None = None,
             progress: Callable[[int, int], None] | None = None, checkpoint=None, **options) -> SweepResult:
    """Fit K models on the same data in one compiled program (what ``sweep`` calls).

    ``l2``, ``l1``, ``learning_rate``, ``seed`` and ``fold`` are each one value (shared) or a
    sequence of K values, one per model. ``fold_weights`` (F, n_samples): per-fold training
    weights (e.g. 0/1 masks; multiplied by ``sample_weight`` and ``class_weight``); model ``k``
    trains on row ``fold[k]``. ``grid``: what each model is, for the result's ``grid`` (default:
    its seed, learning rate, l2, l1 and fold). ``init``: starting parameters, shared or one per
    model (a ``SweepResult`` warm-starts each model from its counterpart). ``standardize``:
    fit on columns divided by their standard deviation (weighted by ``sample_weight``, never by
    ``class_weight``; dense X also centred, which the intercept absorbs: the same model for any
    storage of X), and report the coefficients in the original units (the penalties apply to the
    standardized ones, as in a scikit-learn pipeline with ``StandardScaler``). ``path``: ``True``
    solves models that differ only in their penalty strength (same seed, learning rate, fold and
    l1/l2 mix) as a regularization path: strongest penalty first, each warm-started from its
    neighbour, all such
    paths (folds, seeds, ...) advancing together as lanes; ``"auto"`` does so when the estimated
    cost is lower (iterative solvers, several penalties per path); ``False`` (default) trains every
    model from ``init`` in parallel, so model ``k`` equals ``fit`` with its settings. Paths need
    a tolerance and one device. The other options are ``fit``'s (``jaxlr.Options``).
    """
    check_callback("progress", progress)
    data = dataset(X, y, sample_weight, class_weight)
    models = Grid.of(data.X.shape[0], seed=seed, learning_rate=learning_rate, l2=l2, l1=l1, fold=fold,
                     fold_weights=fold_weights, labels=grid)
    opts = Options.resolve(data, models, checkpoint=checkpoint is not None, caller="fit_many", **options)
    result = train(data, opts, models, init=check_init(init, len(models), data), progress=progress,
                   checkpoint=checkpoint)
    warn_if_any_separated(result, data, models.l1, models.l2, models.fold, opts.fit_intercept, "fit_many: ")
    return result


__all__ = ["fit", "fit_dataset", "fit_many"]
