"""``LogisticRegression`` with scikit-learn's interface, fitted by jaxlr's core; prediction in
NumPy / SciPy from ``coef_``/``intercept_``, so it never compiles."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import BaseEstimator
from sklearn.linear_model._base import LinearClassifierMixin, SparseCoefMixin
from sklearn.utils.validation import validate_data

from .._api.diagnostics import warn_if_separated, warn_on_scale
from .._train.data import from_codes
from .._train.grid import Grid
from .._train.options import Options
from .._train.train import check_init, train
from ._callbacks import Callbacks, FitTask, callback_context
from ._params import (
    PerfectSeparationWarning, check_bool, check_common, checked, core_options, input_dtype, jaxlr_layout, lr_penalty,
    penalties, sklearn_layout, verbose_line, warn_unfinished,
)


class _LogisticMixin(SparseCoefMixin, LinearClassifierMixin):
    """Prediction in NumPy / SciPy from ``coef_``/``intercept_`` (nothing compiles at predict
    time): scikit-learn's ``decision_function``, ``predict``, ``sparsify`` and ``densify``;
    probabilities computed stably from the logits."""

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order
        (sigmoid for two classes, softmax for more)."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = expit(scores)
            return np.column_stack([1 - p, p])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """Log of ``predict_proba``, computed stably from the logits."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([log_expit(-scores), log_expit(scores)])
        return log_softmax(scores, axis=1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        if getattr(self, "solver", None) == "liblinear":
            tags.classifier_tags.multi_class = False
        return tags


class LogisticRegression(Callbacks, _LogisticMixin, BaseEstimator):
    """Logistic regression (binary or multinomial) with scikit-learn's interface, fitted by jaxlr.

    Parameters are those of ``sklearn.linear_model.LogisticRegression`` (1.9) with the same
    meaning: ``C`` (inverse penalty strength, ``np.inf`` for none), ``l1_ratio`` (0: L2, 1: L1,
    between: elastic net), ``fit_intercept``, ``class_weight``, ``tol`` (on the max-norm of the
    gradient of the mean objective, as scikit-learn's lbfgs ``gtol``; with L1 of the
    proximal-gradient step), ``max_iter`` (0 returns the starting model, with a
    ``ConvergenceWarning``), ``warm_start``, ``penalty`` (deprecated as in scikit-learn 1.8+:
    ``"l2"``, ``"l1"``, ``"elasticnet"`` or ``None`` mapped onto ``l1_ratio`` / ``C`` with a
    ``FutureWarning``), ``dual`` (only with ``"liblinear"``, as in scikit-learn; the primal is
    solved, which has the same solution), ``intercept_scaling`` (liblinear), ``random_state``
    (recorded: jaxlr's solvers are deterministic), ``verbose`` (one line per fit when > 0) and
    ``n_jobs`` (no effect, with scikit-learn's ``FutureWarning``).

    ``solver``: a jaxlr name (``"auto"``, the default: Newton for few parameters, L-BFGS for
    many, FISTA with L1; ``"lbfgs"``, ``"newton"``, ``"fista"``, ``"gd"``, ``"adam"``, ...) or a
    scikit-learn name, mapped to the jaxlr solver minimising the same objective:
    ``"lbfgs"`` -> L-BFGS, ``"newton-cholesky"`` -> Newton, ``"newton-cg"``, ``"sag"``,
    ``"saga"`` -> ``"auto"``. ``"liblinear"`` minimises liblinear's objective, which differs
    from the others when ``fit_intercept=True``: the intercept is the weight of a constant
    feature of value ``intercept_scaling``, penalized like the other weights (so a larger
    ``intercept_scaling`` weakens the penalty on the intercept); binary problems only.
    scikit-learn's solver / penalty / dual compatibility errors apply to its names.
    ``learning_rate`` is used by jaxlr's first-order solvers only.

    Three or more classes are fitted as one multinomial (softmax) model. X may be a dense
    array or a scipy.sparse matrix (CSR, CSC, COO), which is passed to the core unchanged.
    Fitting is one call of the core's entrance (``jaxlr._train.train``) with the data checked
    by scikit-learn's ``validate_data`` (and by nothing else).
    """

    def __init__(self, penalty="deprecated", *, C=1.0, l1_ratio=0.0, dual=False, tol=1e-4,
                 fit_intercept=True, intercept_scaling=1, class_weight=None, random_state=None,
                 solver="auto", max_iter=100, verbose=0, warm_start=False, n_jobs=None,
                 learning_rate=0.01):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.learning_rate = learning_rate

    def fit(self, X, y, sample_weight=None):
        """Fit the model; returns ``self``. Callbacks (``set_callbacks``, scikit-learn 1.9) hear
        of the fit and of each iteration (see ``jaxlr.sklearn._callbacks``)."""
        check_common(self)
        check_bool("warm_start", self.warm_start)
        _, C, l1_ratio = lr_penalty(self)
        if self.n_jobs is not None:
            warnings.warn(f"'n_jobs' has no effect since 1.8 and will be removed in 1.10. You provided "
                          f"'n_jobs={self.n_jobs}', please leave it unspecified.", FutureWarning, stacklevel=2)
        X, _, classes, codes = checked(self, X, y, sample_weight, self._validate)
        data = from_codes(X, codes, classes, sample_weight, self.class_weight)
        l1, l2 = penalties(C, l1_ratio, float(data.sample_weight.sum()))
        grid = Grid.of(X.shape[0], l1=l1, l2=l2, learning_rate=self.learning_rate)
        options = Options.resolve(data, grid, caller=type(self).__name__, **core_options(self))
        previous = getattr(self, "coef_", None)
        warm = (self.warm_start and self.solver != "liblinear" and previous is not None and not sp.issparse(previous)
                and previous.shape[1] == X.shape[1] and np.array_equal(getattr(self, "classes_", None), classes))
        init = check_init(self._warm_start_params(len(classes)), 1, data) if warm else None
        self.classes_ = classes
        with callback_context(self):  # the callbacks' teardown, also when the fit fails
            task = FitTask(self, X, y, sample_weight, len(classes))
            task.begin(_start(init, X.shape[1], len(classes), X.dtype))
            result = train(data, options, grid, init=init, observe=task.observe)[0]
            warn_unfinished(self, result.status, result.residual, options.tol, result.n_iter,
                            solver=options.solver.name)
            warn_on_scale(data.X, data.row_weight, stacklevel=3)
            warn_if_separated(result, data, options.fit_intercept, stacklevel=3, category=PerfectSeparationWarning)
            coef, intercept = np.array(result.coef), np.array(result.intercept)
            self.coef_, self.intercept_ = sklearn_layout(coef, intercept, len(classes), bool(self.fit_intercept))
            # the solver's own iterate, so that a warm start continues exactly from it (multinomial
            # coefficients are reported centred; the solver's iterate may differ by a shift)
            self._solution = (self.coef_.copy(), self.intercept_.copy(), (coef, intercept))
            self.n_iter_ = np.asarray([int(result.n_iter)], dtype=np.int32)
            self.status_, self.solver_ = result.status_name, options.solver.name
            verbose_line(self, self.solver_, int(result.n_iter), self.status_)
            task.end()
        return self

    def _validate(self, X, y):
        return validate_data(self, X, y, accept_sparse=("csr", "csc", "coo"), dtype=input_dtype(self.solver),
                             order="C")

    def _warm_start_params(self, n_classes):
        """The previous solution in the core's layout: the solver's iterate itself when
        ``coef_`` / ``intercept_`` are those it produced, else ``coef_`` / ``intercept_``."""
        solution = getattr(self, "_solution", None)
        if (solution is not None and np.array_equal(solution[0], self.coef_)
                and np.array_equal(solution[1], self.intercept_)):
            return solution[2]
        return jaxlr_layout(np.asarray(self.coef_), np.asarray(self.intercept_), n_classes)


def _start(init, n_features: int, n_classes: int, dtype):
    """The model a fit starts from, (coef, intercept) in the core's layout: ``init`` or zeros."""
    if init is not None:
        return init[0][0], init[1][0]
    width = () if n_classes == 2 else (n_classes,)
    return np.zeros((n_features, *width), dtype), np.zeros(width, dtype)


__all__ = ["LogisticRegression"]
