"""``linear_probe``: CLIP's linear-probe protocol as one call.

Radford et al. (2021, appendix A.3) fit scikit-learn's L-BFGS logistic regression on frozen
features for every ``C`` of a log grid and keep the one of best validation accuracy. Here the whole
grid is one ``sweep``, scored on the validation set by the held-out scorer; the best model is kept
in the result (``result.best``), so nothing is refit. Where the cost model says so (``path="auto"``,
the default here) the grid is solved as a warm-started path, strongest penalty first: on a log grid
most weakly penalized models then need a few steps, or none, from their neighbour's solution.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .._train.checks import as_values
from .._train.data import dataset
from .._train.grid import FrozenDict
from .._train.results import SweepResult
from .sweep import sweep_dataset

DEFAULT_CS = tuple(np.logspace(-6, 6, 25).tolist())  # every half decade over CLIP's range


def linear_probe(X, y, X_val, y_val, *, C=DEFAULT_CS, sample_weight=None, class_weight=None,
                 sample_weight_val=None, **options) -> SweepResult:
    """Fit one L2-penalised logistic regression per value of ``C`` on ``(X, y)``, score each on
    ``(X_val, y_val)`` and keep them all: ``result.best`` is the model of highest validation
    accuracy (the first ``C`` in the given order on ties), ``result.best_params["C"]`` its ``C``,
    ``result.validation_accuracy`` / ``validation_loss`` every model's scores.

    ``C`` is scikit-learn's (``LogisticRegression(C=...)``, mapped to ``l2 = 1 / (C * sum(s))``
    with ``s`` the sample times class weights); default: 25 values, every half decade from 1e-6 to
    1e6. Two classes or many (multinomial, one softmax). The options are ``sweep``'s (``solver``,
    ``steps`` — scikit-learn's ``max_iter`` —, ``tol``, ``standardize``, ``chunk_size``, ...);
    ``result.rows()`` lists ``C`` beside ``l2``. The validation set is checked before anything
    compiles: the same number of features as ``X``, labels among ``y``'s classes.

    ``path`` defaults to ``"auto"``: each model starts from the solution of the next stronger
    penalty where that is estimated to be cheaper (``path=False``: every model from zero, as
    scikit-learn's loop). Either way a model stops when ``max |grad| <= tol`` for its own
    objective, the stopping test of a separate fit, so (the objective being ``l2``-strongly convex)
    its distance to the optimum is at most ``sqrt(P) tol / l2``, the separate fit's bound;
    ``result.config["path"]`` says which ran.
    """
    options.setdefault("path", "auto")
    Cs = as_values("C", C, minimum=0.0, strict=True)
    data = dataset(X, y, sample_weight, class_weight)
    total = float(np.sum(data.sample_weight))
    l2 = [1.0 / (c * total) for c in Cs]
    result = sweep_dataset(data, l2=l2, validation=(X_val, y_val, sample_weight_val),
                           validation_names=("X_val", "y_val", "sample_weight_val"), stacklevel=4, **options)
    C_of = dict(zip(l2, Cs))
    labels = tuple(FrozenDict({"C": C_of[g["l2"]], **g}) for g in result.grid)
    return dataclasses.replace(result, grid=labels)


__all__ = ["linear_probe", "DEFAULT_CS"]
