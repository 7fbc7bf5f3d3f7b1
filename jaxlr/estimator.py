"""scikit-learn estimators on top of the jaxlr core: the only module that imports scikit-learn.

``LogisticRegression`` and ``LogisticRegressionCV`` take every parameter of scikit-learn
1.9's estimators with scikit-learn's meaning (plus jaxlr's ``solver`` names and
``learning_rate``) and expose its fitted attributes; the fitting is ``jaxlr.fit`` (one
model) or one ``vmap``ped ``fit_many`` program (every fold x C x l1_ratio at once).
Prediction is NumPy / SciPy on ``coef_``/``intercept_``, so it never compiles.

Penalty mapping (scikit-learn's objective is ``C * sum_i s_i loss_i + penalty``):
``l2 = (1 - l1_ratio) / (C * sum(s))``, ``l1 = l1_ratio / (C * sum(s))``, ``s`` the sample
weights times the class weights. ``C=np.inf`` is unpenalized.

Solvers: each scikit-learn name maps to a jaxlr solver that minimises the same objective
(``SOLVER_ALIASES``). ``"liblinear"`` minimises liblinear's objective, whose intercept is the
weight of a constant feature of value ``intercept_scaling`` and is penalized like the other
weights (``intercept_ = intercept_scaling * w_last``): the model is fitted on
``[X, intercept_scaling]`` without a separate intercept.

To avoid compiling a new program for every training-set size (cross-validation folds
differ by a row or two), dense rows are padded with zero-weight copies up to a size with
four significant bits (at most 12.5% more rows); zero-weight rows change nothing. Sparse X
is handed to the core as it is (never densified).
"""

from __future__ import annotations

import inspect
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning as _SkConvergenceWarning
from sklearn.linear_model._base import LinearClassifierMixin, SparseCoefMixin
from sklearn.metrics import get_scorer, make_scorer
from sklearn.model_selection import check_cv
from sklearn.utils import Bunch, check_random_state, compute_class_weight, metadata_routing
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.metadata_routing import (
    MetadataRouter, MethodMapping, _raise_for_params, _routing_enabled, process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_method_params, check_is_fitted, validate_data

from . import _data
from ._model import Params
from ._results import ConvergenceWarning as _JaxlrConvergenceWarning
from ._results import PerfectSeparationWarning as _JaxlrPerfectSeparationWarning
from ._results import Status
from ._solvers import SOLVER_NAMES as _JAXLR_SOLVERS
from ._lanes import fit_many
from ._train import fit as _fit

__all__ = ["LogisticRegression", "LogisticRegressionCV", "ConvergenceWarning", "PerfectSeparationWarning"]


class ConvergenceWarning(_JaxlrConvergenceWarning, _SkConvergenceWarning):
    """jaxlr's convergence warning, also a scikit-learn ``ConvergenceWarning`` (so the
    usual ``warnings.filterwarnings("ignore", category=ConvergenceWarning)`` works)."""


class PerfectSeparationWarning(_JaxlrPerfectSeparationWarning, _SkConvergenceWarning):
    """Perfectly separated classes in an unpenalized fit (the maximum-likelihood estimate does
    not exist); also a scikit-learn ``ConvergenceWarning``, which is what scikit-learn's solvers
    report on such data (they stop at ``max_iter``)."""


SKLEARN_SOLVERS = ("lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga")
# scikit-learn name -> the jaxlr solver that minimises the same objective. "auto" is Newton for
# few parameters and L-BFGS for many (L2), FISTA with L1 / elastic net: scikit-learn's newton-cg,
# sag, saga and liblinear have no exact jaxlr counterpart, and these are the fastest that agree.
SOLVER_ALIASES = {"lbfgs": "lbfgs", "newton-cholesky": "newton", "newton-cg": "auto", "sag": "auto",
                  "saga": "auto", "liblinear": "auto"}
_PENALTIES = ("l1", "l2", "elasticnet")
_MULTICLASS_LIBLINEAR = (
    "The 'liblinear' solver does not support multiclass classification (n_classes >= 3). Either use "
    "another solver or wrap the estimator in a OneVsRestClassifier to keep applying a one-versus-rest scheme."
)


# ----------------------------------------------------------------------------- helpers


def padded_size(n: int, minimum: int) -> int:
    """``n`` rounded up to at least ``minimum`` and to a number with at most four significant
    bits (16, 18, 20, ..., 30, 32, 36, ...): few distinct sizes, at most 12.5% padding."""
    n = max(n, minimum)
    shift = max(n.bit_length() - 4, 0)
    return -(-n >> shift) << shift


MIN_ROWS, MIN_FEATURES = 32, 8


def _pad(X, codes, weights):
    """Pad rows with zero-weight copies of row 0 and features with zero columns.

    Both change nothing: a zero-weight row adds nothing to the weighted loss, and a zero
    column has zero gradient, so its coefficient stays exactly 0 from the zero start.
    """
    m, n = X.shape
    rows, cols = padded_size(m, MIN_ROWS), padded_size(n, MIN_FEATURES)
    Xp = np.zeros((rows, cols), X.dtype)
    Xp[:m, :n] = X
    Xp[m:, :n] = X[:1]
    cp = np.concatenate([codes, np.repeat(codes[:1], rows - m)])
    wp = np.concatenate([weights, np.zeros(rows - m, weights.dtype)])
    return Xp, cp, wp


def _pad_params(params: Params, n_cols: int) -> Params:
    coef = np.asarray(params.coef)
    pad = [(0, n_cols - coef.shape[0])] + [(0, 0)] * (coef.ndim - 1)
    return Params(np.pad(coef, pad), np.asarray(params.intercept))


def _core_inputs(X, codes, weights):
    """What the core receives: dense X padded (see the module docstring), sparse X as it is."""
    if sp.issparse(X):
        return X, codes, weights
    return _pad(X, codes, weights)


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _check_C(C, name="C") -> float:
    if isinstance(C, (bool, np.bool_)) or not isinstance(C, numbers.Real):
        raise TypeError(f"{name} must be a positive number (np.inf: no penalty), got {C!r}")
    C = float(C)
    if not C > 0 or np.isnan(C):
        raise ValueError(f"{name} must be > 0, got {C}")
    return C


def _check_l1_ratio(value, name="l1_ratio") -> float:
    value = _data.check_scalar(name, value, minimum=0.0)
    if value > 1:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def _check_common(est):
    """Options both estimators share, checked at fit time (scikit-learn's convention)."""
    _check_bool("fit_intercept", est.fit_intercept)
    _check_bool("dual", est.dual)
    _data.check_scalar("tol", est.tol, minimum=0.0)
    _data.check_scalar("max_iter", est.max_iter, minimum=0, integer=True)
    _data.check_scalar("learning_rate", est.learning_rate, minimum=0.0, strict=True)
    _data.check_scalar("intercept_scaling", est.intercept_scaling, minimum=0.0, strict=True)
    if not isinstance(est.verbose, (bool, np.bool_)):
        _data.check_scalar("verbose", est.verbose, minimum=0, integer=True)
    if est.n_jobs is not None and (isinstance(est.n_jobs, (bool, np.bool_))
                                   or not isinstance(est.n_jobs, numbers.Integral)):
        raise TypeError(f"n_jobs must be None or an int, got {est.n_jobs!r}")
    try:
        check_random_state(est.random_state)
    except ValueError:
        raise ValueError("random_state must be None, an int or a numpy.random.RandomState, "
                         f"got {est.random_state!r}") from None
    cw = est.class_weight
    if not (cw is None or isinstance(cw, dict) or (isinstance(cw, str) and cw == "balanced")):
        raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")
    solver = est.solver
    if isinstance(solver, str) and solver not in SKLEARN_SOLVERS and solver not in _JAXLR_SOLVERS:
        names = ", ".join(repr(s) for s in dict.fromkeys((*_JAXLR_SOLVERS, *SKLEARN_SOLVERS)))
        raise ValueError(f"solver must be one of {names} (scikit-learn's names are aliases: "
                         f"{', '.join(f'{k}->{v}' for k, v in SOLVER_ALIASES.items())}), "
                         f"or an optax.GradientTransformation, got {solver!r}")


def _check_solver(solver, penalty, dual):
    """scikit-learn's solver / penalty / dual compatibility rules, with its messages. jaxlr's
    own solver names follow jaxlr's rules (any L2 solver; L1 with ``"fista"`` / ``"auto"``)."""
    name = solver if isinstance(solver, str) else type(solver).__name__
    if solver in SKLEARN_SOLVERS and solver not in ("liblinear", "saga") and penalty not in ("l2", None):
        raise ValueError(f"Solver {solver} supports only 'l2' or None penalties, got {penalty} penalty. "
                         "(L1 and elastic net: solver='saga', jaxlr's 'fista', or 'auto'.)")
    if solver != "liblinear" and dual:
        raise ValueError(f"Solver {name} supports only dual=False, got dual={dual}")
    if penalty == "elasticnet" and solver in SKLEARN_SOLVERS and solver != "saga":
        raise ValueError(f"Only 'saga' solver supports elasticnet penalty, got solver={solver}.")
    if solver == "liblinear" and penalty is None:
        raise ValueError("C=np.inf as well as penalty=None is not supported for the liblinear solver")
    if solver == "liblinear" and dual and penalty == "l1":
        raise ValueError("Unsupported set of arguments: The combination of penalty='l1' and "
                         "loss='logistic_regression' are not supported when dual=True, Parameters: "
                         "penalty='l1', loss='logistic_regression', dual=True")


def _core_solver(solver):
    return SOLVER_ALIASES.get(solver, solver) if isinstance(solver, str) else solver


def _penalties(C: float, l1_ratio: float, weight_sum: float) -> tuple[float, float]:
    """(l1, l2) for scikit-learn's ``C`` and ``l1_ratio``."""
    if np.isinf(C):
        return 0.0, 0.0
    scale = 1.0 / (C * weight_sum)
    return l1_ratio * scale, (1.0 - l1_ratio) * scale


def _input_dtype(solver):
    """float32 input stays float32, except with liblinear, which computes in float64 (as
    scikit-learn's liblinear does)."""
    return np.float64 if solver == "liblinear" else [np.float64, np.float32]


def _prepare(est, X, y, sample_weight, class_weight):
    """scikit-learn validation, label encoding and the combined sample x class weights."""
    X, y = validate_data(est, X, y, accept_sparse=("csr", "csc", "coo"), dtype=_input_dtype(est.solver),
                         order="C")
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            "This solver needs samples of at least 2 classes in the data, but the data "
            f"contains only one class: {classes[0]!r}"
        )
    dtype = _data.float_dtype(X.dtype)
    if sample_weight is not None and np.size(np.asarray(sample_weight)) and not np.any(np.asarray(sample_weight)):
        raise ValueError("sample_weight: all weights are zero; at least one must be positive")
    codes = codes.reshape(-1).astype(np.int32)
    weights = _data.training_weights(sample_weight, class_weight, codes, classes, dtype)
    return X, codes, classes, weights


def _check_liblinear_data(X, n_classes):
    if n_classes > 2:
        raise ValueError(_MULTICLASS_LIBLINEAR)
    if (X.max() if sp.issparse(X) else np.max(X)) > 1e30:
        # scikit-learn's wording (its liblinear freezes); jaxlr's solvers do not freeze, but none
        # converges at this scale (max|grad| ~ 1e55 after 100 Newton steps on [[0], [1e100]])
        raise ValueError("Using the 'liblinear' solver while X contains a maximum value > 1e30 results in a "
                         "frozen fit. Please choose another solver or rescale the input X. (jaxlr: no solver "
                         "converges at this scale; rescale X.)")


def _with_intercept_column(X, scaling):
    """``[X, scaling]``: liblinear's synthetic intercept feature (sparse stays sparse)."""
    column = np.full((X.shape[0], 1), scaling, dtype=X.dtype)
    if sp.issparse(X):
        return sp.hstack([X, sp.csr_array(column)], format="csr", dtype=X.dtype)
    return np.hstack([X, column])


def _sklearn_layout(coef, intercept, n_classes: int, fit_intercept: bool):
    """jaxlr's (n_features,) / (n_features, K) to scikit-learn's (1 or K, n_features), as new
    (writeable) arrays.

    Softmax logits are defined up to a constant per sample, so for K >= 3 coefficients and
    intercepts are centred across classes (scikit-learn's solutions have this form).
    """
    coef, intercept = np.array(coef), np.array(intercept)
    if n_classes == 2:
        coef_, intercept_ = coef[None, :], np.reshape(intercept, (1,))
    else:
        coef_ = (coef - coef.mean(axis=1, keepdims=True)).T
        intercept_ = intercept - intercept.mean()
    if not fit_intercept:
        intercept_ = np.zeros_like(intercept_)
    return np.array(coef_, order="C"), np.array(intercept_)


def _jaxlr_layout(coef_, intercept_, n_classes: int):
    if n_classes == 2:
        return Params(coef_[0], intercept_[0])
    return Params(coef_.T, intercept_)


_SKLEARN_NOT_CONVERGED = {
    "lbfgs": "lbfgs failed to converge after {n_iter} iteration(s).",
    "newton-cg": "newton-cg failed to converge after {n_iter} iteration(s). Increase the number of iterations.",
    "newton-cholesky": "Newton solver did not converge after {n_iter} iterations.",
    "sag": "The max_iter was reached which means the coef_ did not converge.",
    "saga": "The max_iter was reached which means the coef_ did not converge.",
    "liblinear": "Liblinear failed to converge, increase the number of iterations.",
}


def _reemit(caught, solver, n_iter):
    """Re-issue warnings caught around a jaxlr call with the scikit-learn-compatible classes; a
    convergence warning for a scikit-learn solver name starts with that solver's own wording
    (so filters written for scikit-learn's messages keep working), then jaxlr's diagnostic."""
    for w in caught:
        category, message = w.category, str(w.message)
        if issubclass(category, _JaxlrPerfectSeparationWarning):
            category = PerfectSeparationWarning
        elif issubclass(category, _JaxlrConvergenceWarning):
            category = ConvergenceWarning
            if isinstance(solver, str) and solver in _SKLEARN_NOT_CONVERGED:
                message = f"{_SKLEARN_NOT_CONVERGED[solver].format(n_iter=n_iter)} jaxlr: {message}"
        warnings.warn(message, category, stacklevel=3)


def _warn_zero_iterations(solver):
    prefix = _SKLEARN_NOT_CONVERGED.get(solver, "").format(n_iter=0) if isinstance(solver, str) else ""
    warnings.warn(f"{prefix} jaxlr: max_iter=0, no iteration was run: coef_ and intercept_ are the "
                  "starting model (zeros, or the previous solution with warm_start=True).".strip(),
                  ConvergenceWarning, stacklevel=3)


def _penalty_of_lr(est):
    """``LogisticRegression``'s ``penalty`` / ``l1_ratio`` / ``C`` resolved as scikit-learn 1.9
    does (with its deprecation warnings); returns (penalty, C, effective l1_ratio)."""
    l1_ratio = est.l1_ratio
    if l1_ratio is not None:
        l1_ratio = _check_l1_ratio(l1_ratio)
    C = _check_C(est.C)
    if est.penalty == "deprecated":
        if l1_ratio is None or l1_ratio == 0:
            penalty = "l2"
            if l1_ratio is None:
                warnings.warn("'l1_ratio=None' was deprecated in version 1.8 and will trigger an error in 1.10. "
                              "Use 0<=l1_ratio<=1 instead.", FutureWarning, stacklevel=3)
        elif l1_ratio == 1:
            penalty = "l1"
        else:
            penalty = "elasticnet"
        if np.isinf(C):
            penalty = None
    elif est.penalty is None or (isinstance(est.penalty, str) and est.penalty in _PENALTIES):
        penalty = est.penalty
        warnings.warn("'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid this "
                      "warning, leave 'penalty' set to its default value and use 'l1_ratio' or 'C' instead. "
                      "Use l1_ratio=0 instead of penalty='l2', l1_ratio=1 instead of penalty='l1', l1_ratio "
                      "set to a float between 0 and 1 instead of penalty='elasticnet', and C=np.inf instead "
                      "of penalty=None.", FutureWarning, stacklevel=3)
    else:
        raise ValueError(f"penalty must be 'l1', 'l2', 'elasticnet' or None (deprecated: use l1_ratio and C), "
                         f"got {est.penalty!r}")
    _check_solver(est.solver, penalty, est.dual)
    if penalty != "elasticnet" and l1_ratio is not None and 0 < l1_ratio < 1:
        warnings.warn(f"l1_ratio parameter is only used when penalty is 'elasticnet'. Got (penalty={penalty})",
                      UserWarning, stacklevel=3)
    if (est.penalty == "l2" and l1_ratio != 0) or (est.penalty == "l1" and l1_ratio != 1):
        warnings.warn(f"Inconsistent values: penalty={est.penalty} with l1_ratio={est.l1_ratio}. penalty is "
                      "deprecated. Please use l1_ratio only.", UserWarning, stacklevel=3)
    if penalty == "elasticnet" and l1_ratio is None:
        raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
    if est.penalty is None:
        if est.C != 1.0:
            warnings.warn("Setting penalty=None will ignore the C and l1_ratio parameters", UserWarning,
                          stacklevel=3)
        C, penalty = np.inf, "l2"
    effective = {"l2": 0.0, "l1": 1.0, None: 0.0}.get(penalty, l1_ratio)
    return penalty, C, effective


def _verbose_line(est, solver, n_iter, status):
    if est.verbose:
        print(f"[{type(est).__name__}] solver={solver!r}: {n_iter} iteration(s), {status}", flush=True)


# ----------------------------------------------------------------------------- prediction


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


# ----------------------------------------------------------------------------- LogisticRegression


class LogisticRegression(_LogisticMixin, BaseEstimator):
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
        """Fit the model; returns ``self``."""
        _check_common(self)
        _check_bool("warm_start", self.warm_start)
        penalty, C, l1_ratio = _penalty_of_lr(self)
        if self.n_jobs is not None:
            warnings.warn(f"'n_jobs' has no effect since 1.8 and will be removed in 1.10. You provided "
                          f"'n_jobs={self.n_jobs}', please leave it unspecified.", FutureWarning, stacklevel=2)
        X, codes, classes, weights = _prepare(self, X, y, sample_weight, self.class_weight)
        n_classes, n_features = len(classes), X.shape[1]
        liblinear = self.solver == "liblinear"
        if liblinear:
            _check_liblinear_data(X, n_classes)
        # liblinear's intercept: a penalized constant feature of value intercept_scaling
        augment = liblinear and bool(self.fit_intercept)
        scaling = float(self.intercept_scaling)
        l1, l2 = _penalties(C, l1_ratio, float(weights.sum()))

        previous = getattr(self, "coef_", None)
        warm = (self.warm_start and not liblinear and previous is not None and not sp.issparse(previous)
                and previous.shape[1] == n_features and np.array_equal(getattr(self, "classes_", None), classes))
        self.classes_ = classes
        if self.max_iter == 0:
            _warn_zero_iterations(self.solver)
            if warm:
                self.coef_, self.intercept_ = np.array(previous, dtype=X.dtype), np.array(self.intercept_, X.dtype)
            else:
                width = 1 if n_classes == 2 else n_classes
                self.coef_, self.intercept_ = np.zeros((width, n_features), X.dtype), np.zeros(width, X.dtype)
            self.n_iter_ = np.zeros(1, dtype=np.int32)
            self.status_, self.solver_ = Status.MAX_ITER.label, _core_solver(self.solver)
            return self

        init = self._warm_start_params(n_classes) if warm else None
        options = dict(learning_rate=self.learning_rate, tol=self.tol, l1=l1, l2=l2)
        n_iter, caught = 0, []
        if augment and l1 > 0:
            # liblinear's problem is badly scaled in its constant feature (curvature ~ intercept_scaling^2),
            # which a first-order L1 solver feels: first solve with an unpenalized intercept (well scaled),
            # then continue on liblinear's objective from there.
            result, n_iter, caught = self._core_fit(X, codes, weights, init, options, fit_intercept=True,
                                                    steps=self.max_iter)
            init = Params(np.append(np.asarray(result.coef)[:n_features], float(result.intercept) / scaling), 0.0)
        Xc = _with_intercept_column(X, scaling) if augment else X
        if self.max_iter - n_iter > 0:
            result, more, caught = self._core_fit(Xc, codes, weights, init, options, steps=self.max_iter - n_iter,
                                                  fit_intercept=bool(self.fit_intercept) and not augment)
            n_iter += more
        else:  # the first stage spent the budget: it did not converge
            result = None
        _reemit(caught, self.solver, n_iter)
        if result is None:
            coef, intercept = init.coef, init.intercept
            status, solver_ = Status.MAX_ITER.label, _core_solver(self.solver)
        else:
            coef, intercept = np.asarray(result.coef)[: Xc.shape[1]], np.asarray(result.intercept)
            status, solver_ = result.status_name, result.config["solver"]
        raw = Params(np.array(coef), np.array(intercept))
        if augment:
            coef, intercept = coef[:n_features], coef[n_features] * scaling
        self.coef_, self.intercept_ = _sklearn_layout(coef, intercept, n_classes, bool(self.fit_intercept))
        # the solver's own iterate, so that a warm start continues exactly from it (multinomial
        # coefficients are reported centred; the solver's iterate may differ by a shift)
        self._solution = (self.coef_.copy(), self.intercept_.copy(), raw)
        self.n_iter_ = np.asarray([n_iter], dtype=np.int32)
        self.status_, self.solver_ = status, solver_
        _verbose_line(self, self.solver_, n_iter, self.status_)
        return self

    def _warm_start_params(self, n_classes):
        """The previous solution in the core's layout: the solver's iterate itself when
        ``coef_`` / ``intercept_`` are those it produced, else ``coef_`` / ``intercept_``."""
        solution = getattr(self, "_solution", None)
        if (solution is not None and np.array_equal(solution[0], self.coef_)
                and np.array_equal(solution[1], self.intercept_)):
            return solution[2]
        return _jaxlr_layout(np.asarray(self.coef_), np.asarray(self.intercept_), n_classes)

    def _core_fit(self, X, codes, weights, init, options, *, fit_intercept, steps):
        """One ``jaxlr.fit`` (dense X padded, see the module docstring); returns the result,
        its iterations and the warnings it raised."""
        Xp, cp, wp = _core_inputs(X, codes, weights)
        if init is not None and not sp.issparse(Xp):
            init = _pad_params(init, Xp.shape[1])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = _fit(Xp, cp, solver=_core_solver(self.solver), steps=int(steps), fit_intercept=fit_intercept,
                          sample_weight=wp, init=init, **options)
        return result, int(result.n_iter), list(caught)


# ----------------------------------------------------------------------------- LogisticRegressionCV


class LogisticRegressionCV(LogisticRegression):
    """Cross-validated ``LogisticRegression``: every fold x C x l1_ratio in ONE vmapped program.

    Parameters are those of ``sklearn.linear_model.LogisticRegressionCV`` (1.9), with its
    defaults and deprecations: ``Cs`` (an int n for ``np.logspace(-4, 4, n)``, or a list),
    ``l1_ratios`` (array-like in [0, 1]; the default warns as scikit-learn's does and means
    ``None``, i.e. L2), ``cv`` (None: 5 folds, an int or a splitter; integers mean stratified
    K-fold as in scikit-learn), ``scoring`` (None: accuracy, or any scikit-learn scorer; the
    default warns that scikit-learn will change it to ``"neg_log_loss"``), ``refit``,
    ``use_legacy_attributes`` (default ``True`` with scikit-learn's ``FutureWarning``),
    ``penalty`` (deprecated), ``dual``, ``intercept_scaling``, ``random_state``, ``n_jobs``
    (accepted: all lanes run in one program anyway), ``verbose``, ``fit_intercept``,
    ``class_weight``, ``tol``, ``max_iter``, ``solver`` (as ``LogisticRegression``'s) and
    ``learning_rate``.

    ``sample_weight`` trains every lane and, as in scikit-learn, reaches the scorer (and the
    splitter) through metadata routing when it is enabled, or the scorer directly otherwise.
    A scorer whose metric takes ``labels`` (``neg_log_loss``, ``neg_brier_score``) is rebuilt
    with the known classes, so it works on test folds that lack a class.

    Fold membership is a 0/1 weight mask, so all models see arrays of one shape. With
    ``refit=True`` the models on the whole training set are extra lanes of the same program.
    Fitted attributes as in scikit-learn: ``C_``, ``l1_ratio_``, ``Cs_``, ``l1_ratios_``,
    ``scores_``, ``coefs_paths_``, ``n_iter_`` (legacy dict / array shapes, or with
    ``use_legacy_attributes=False``: floats, ``scores_`` (n_folds, n_l1_ratios, n_Cs),
    ``coefs_paths_`` (n_folds, n_l1_ratios, n_Cs, n_classes_or_1, n_features + fit_intercept),
    ``n_iter_`` (n_folds, n_l1_ratios, n_Cs)), ``coef_``, ``intercept_``, ``classes_``; and
    jaxlr's ``status_`` (n_folds, n_l1_ratios, n_Cs) and ``solver_``.
    """

    # the scorer, not the estimator, consumes score's sample_weight (as scikit-learn declares it)
    __metadata_request__score = {"sample_weight": metadata_routing.UNUSED}

    def __init__(self, *, Cs=10, l1_ratios="warn", fit_intercept=True, cv=None, dual=False,
                 penalty="deprecated", scoring="warn", solver="auto", tol=1e-4, max_iter=100,
                 class_weight=None, n_jobs=None, verbose=0, refit=True, intercept_scaling=1.0,
                 random_state=None, use_legacy_attributes="warn", learning_rate=0.01):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.dual = dual
        self.penalty = penalty
        self.scoring = scoring
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.refit = refit
        self.intercept_scaling = intercept_scaling
        self.random_state = random_state
        self.use_legacy_attributes = use_legacy_attributes
        self.learning_rate = learning_rate

    def _Cs(self):
        if isinstance(self.Cs, numbers.Integral) and not isinstance(self.Cs, (bool, np.bool_)):
            return np.logspace(-4, 4, _data.check_scalar("Cs", self.Cs, minimum=1, integer=True))
        if isinstance(self.Cs, str) or np.ndim(self.Cs) == 0:
            raise TypeError(f"Cs must be an int or a sequence of positive numbers, got {self.Cs!r}")
        Cs = np.asarray([_check_C(c, f"Cs[{k}]") for k, c in enumerate(np.ravel(np.asarray(self.Cs, dtype=object)))])
        if Cs.size == 0:
            raise ValueError("Cs is an empty sequence")
        return Cs

    def _options(self):
        """scikit-learn 1.9's resolution of l1_ratios / penalty / scoring / legacy attributes,
        with its warnings. Returns (penalty, l1_ratios (None or a list), scoring, legacy)."""
        l1_ratios = self.l1_ratios
        if isinstance(l1_ratios, str):
            if l1_ratios != "warn":
                raise ValueError(f"l1_ratios must be None or an array-like of numbers in [0, 1], got {l1_ratios!r}")
            l1_ratios = None
            warnings.warn("The default value for l1_ratios will change from None to (0.0,) in version 1.10. "
                          "From version 1.10 onwards, only array-like with values in [0, 1] will be allowed, "
                          "None will be forbidden. To avoid this warning, explicitly set a value, e.g. "
                          "l1_ratios=(0,).", FutureWarning, stacklevel=3)
        elif l1_ratios is not None:
            if np.ndim(l1_ratios) == 0:
                raise TypeError(f"l1_ratios must be None or an array-like of numbers in [0, 1], got {l1_ratios!r}")
            l1_ratios = list(np.ravel(np.asarray(l1_ratios, dtype=object)))
        if self.penalty == "deprecated":
            if self.l1_ratios is None:
                warnings.warn("'l1_ratios=None' was deprecated in version 1.8 and will trigger an error in 1.10. "
                              "Use an array-like with valuesin [0, 1] instead.", FutureWarning, stacklevel=3)
            if l1_ratios is None or np.all(np.asarray(l1_ratios) == 0):
                penalty = "l2"
            elif np.all(np.asarray(l1_ratios) == 1):
                penalty = "l1"
            else:
                penalty = "elasticnet"
        elif isinstance(self.penalty, str) and self.penalty in _PENALTIES:
            penalty = self.penalty
            warnings.warn("'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid this "
                          "warning, leave 'penalty' set to its default value and use 'l1_ratios' and 'Cs' "
                          "instead. Use l1_ratios=(0,) instead of penalty='l2', l1_ratios=(1,) instead of "
                          "penalty='l1', l1_ratios set to floats between 0 and 1 instead of "
                          "penalty='elasticnet', and Cs=(np.inf,) instead of penalty=None.",
                          FutureWarning, stacklevel=3)
        else:
            raise ValueError(f"penalty must be 'l1', 'l2' or 'elasticnet' (deprecated: use l1_ratios and Cs), "
                             f"got {self.penalty!r}")
        scoring = self.scoring
        if isinstance(scoring, str) and scoring == "warn":
            warnings.warn("The default value of the parameter 'scoring' will change from None, i.e. accuracy, "
                          "to 'neg_log_loss' in version 1.11. To silence this warning, explicitly set the "
                          "scoring parameter: scoring='neg_log_loss' for the new, scoring='accuracy' or "
                          "scoring=None for the old default.", FutureWarning, stacklevel=3)
            scoring = None
        legacy = self.use_legacy_attributes
        if isinstance(legacy, str) and legacy == "warn":
            name = type(self).__name__
            warnings.warn(f"The fitted attributes of {name} will be simplified in scikit-learn 1.10 to remove "
                          "redundancy. Set`use_legacy_attributes=False` to enable the new behavior now, or set "
                          "it to `True` to silence this warning during the transition period while keeping the "
                          "deprecated behavior for the time being. The default value of use_legacy_attributes "
                          f"will change from True to False in scikit-learn 1.10. See the docstring of {name} for "
                          "more details.", FutureWarning, stacklevel=3)
            legacy = True
        legacy = _check_bool("use_legacy_attributes", legacy)
        _check_solver(self.solver, penalty, self.dual)
        if penalty == "elasticnet":
            if l1_ratios is None or len(l1_ratios) == 0 or any(
                    not isinstance(r, numbers.Number) or isinstance(r, (bool, np.bool_)) or not 0 <= r <= 1
                    for r in l1_ratios):
                raise ValueError("l1_ratios must be an array-like of numbers between 0 and 1; got "
                                 f"(l1_ratios={self.l1_ratios!r})")
        else:
            if l1_ratios is not None and self.penalty != "deprecated":
                warnings.warn(f"l1_ratios parameter is only used when penalty is 'elasticnet'. Got "
                              f"(penalty={penalty})", UserWarning, stacklevel=3)
            if l1_ratios is not None:
                if len(l1_ratios) == 0:
                    raise ValueError("l1_ratios is an empty sequence")
                for k, r in enumerate(l1_ratios):
                    _check_l1_ratio(r, f"l1_ratios[{k}]")
        return penalty, l1_ratios, scoring, legacy

    def _get_scorer(self):
        """The scorer ``score`` uses: ``scoring``, accuracy when it is None (scikit-learn's)."""
        if isinstance(self.scoring, str) and self.scoring == "warn":
            return get_scorer("accuracy")
        return get_scorer(self.scoring or "accuracy")

    def get_metadata_routing(self):
        """Metadata routing (as scikit-learn's): ``fit``'s extra parameters go to the splitter's
        ``split`` and to the scorer, ``score``'s to the scorer."""
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(splitter=self.cv, method_mapping=MethodMapping().add(caller="fit", callee="split"))
            .add(scorer=self._get_scorer(),
                 method_mapping=MethodMapping().add(caller="score", callee="score").add(caller="fit", callee="score"))
        )

    def fit(self, X, y, sample_weight=None, **params):
        """Fit every fold x C x l1_ratio, pick the best mean score, refit; returns ``self``.

        ``params`` go to the splitter and the scorer (metadata routing must be enabled)."""
        _raise_for_params(params, self, "fit")
        _check_common(self)
        _check_bool("refit", self.refit)
        penalty, l1_ratios, scoring, legacy = self._options()
        Cs = self._Cs()
        scorer = None if scoring is None else get_scorer(scoring)  # a bad name fails before compiling
        liblinear = self.solver == "liblinear"
        X, y = validate_data(self, X, y, accept_sparse=("csr", "csc", "coo"), dtype=_input_dtype(self.solver),
                             order="C")
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        codes = codes.reshape(-1).astype(np.int32)
        n_classes, (n_samples, n_features) = len(classes), X.shape
        if n_classes < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, but the data "
                             f"contains only one class: {classes[0]}.")
        if liblinear:
            _check_liblinear_data(X, n_classes)
        self.classes_ = classes

        if _routing_enabled():
            routed = process_routing(self, "fit", sample_weight=sample_weight, **params)
        else:
            score_kwargs = dict(params)
            if sample_weight is not None:
                score_kwargs["sample_weight"] = sample_weight
            routed = Bunch(splitter=Bunch(split={}), scorer=Bunch(score=score_kwargs))
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y, **routed.splitter.split))
        n_folds = len(folds)

        class_weight = self.class_weight
        if isinstance(class_weight, dict):
            if not set(class_weight) <= set(classes.tolist()):
                raise ValueError("The given class_weight dict must have the class labels as keys; "
                                 f"classes={classes} but key={class_weight.keys()}")
        elif class_weight == "balanced":  # computed once on all of y, as scikit-learn does
            class_weight = dict(zip(classes.tolist(), compute_class_weight(
                "balanced", classes=classes, y=y, sample_weight=sample_weight)))
        dtype = _data.float_dtype(X.dtype)
        if sample_weight is not None and np.size(np.asarray(sample_weight)) and not np.any(np.asarray(sample_weight)):
            raise ValueError("sample_weight: all weights are zero; at least one must be positive")
        weights = _data.training_weights(sample_weight, class_weight, codes, classes, dtype)

        # lanes ordered (fold, l1_ratio, C); one more "fold" of all rows for the refit models
        ratios = [None] if l1_ratios is None else l1_ratios
        effective = [{"l2": 0.0, "l1": 1.0}.get(penalty, r) for r in ratios]
        masks = np.zeros((n_folds + bool(self.refit), n_samples), weights.dtype)
        for f, (train, _) in enumerate(folds):
            masks[f, train] = 1.0
        if self.refit:
            masks[-1] = 1.0
        W = masks * weights[None, :]
        if (W.sum(axis=1) <= 0).any():
            raise ValueError("cv: a training fold has no rows with positive weight")
        shape = (W.shape[0], len(ratios), len(Cs))
        fold_ids = np.repeat(np.arange(W.shape[0]), len(ratios) * len(Cs))
        pens = np.asarray([_penalties(C, r, float(W[f].sum()))
                           for f in range(W.shape[0]) for r in effective for C in Cs])

        augment = liblinear and bool(self.fit_intercept)
        scaling = float(self.intercept_scaling)
        width = 1 if n_classes == 2 else n_classes
        if self.max_iter == 0:
            _warn_zero_iterations(self.solver)
            lane_coef = np.zeros((len(fold_ids), n_features) + ((n_classes,) if n_classes > 2 else ()), dtype)
            lane_intercept = np.zeros((len(fold_ids),) + ((n_classes,) if n_classes > 2 else ()), dtype)
            n_iter = np.zeros(shape, np.int32)
            status = np.full(shape, int(Status.MAX_ITER))
            self.solver_ = _core_solver(self.solver)
        else:
            Xc = _with_intercept_column(X, scaling) if augment else X
            Xp, cp, _ = _core_inputs(Xc, codes, weights)
            Wp = np.zeros((W.shape[0], Xp.shape[0]), W.dtype)
            Wp[:, :n_samples] = W
            # every lane starts from zero (no warm-started path='auto'), so each is exactly
            # LogisticRegression on its fold: warm starts stop elsewhere inside the tolerance ball
            raw = fit_many(Xp, cp, l1=pens[:, 0], l2=pens[:, 1], learning_rate=self.learning_rate,
                           fold=fold_ids, fold_weights=Wp, solver=_core_solver(self.solver),
                           steps=int(self.max_iter), tol=self.tol,
                           fit_intercept=bool(self.fit_intercept) and not augment)
            status = np.asarray(raw.status).reshape(shape)
            n_iter = np.asarray(raw.n_iter).reshape(shape)
            self.solver_ = raw.config["solver"]
            self._warn_unfinished(status, np.asarray(raw.residual).reshape(shape), raw.config["tol"], n_iter)
            lane_coef = np.asarray(raw.coef)[:, : Xc.shape[1]]
            lane_intercept = np.asarray(raw.intercept)
            if augment:
                lane_intercept = lane_coef[:, n_features] * scaling
                lane_coef = lane_coef[:, :n_features]

        coefs, intercepts = [], []
        for k in range(len(fold_ids)):
            c, b = _sklearn_layout(lane_coef[k], lane_intercept[k], n_classes, bool(self.fit_intercept))
            coefs.append(c)
            intercepts.append(b)
        coefs = np.asarray(coefs).reshape(*shape, width, n_features)
        intercepts = np.asarray(intercepts).reshape(*shape, width)
        scores = self._cv_scores(X, y, folds, coefs, intercepts, scorer, routed.scorer.score, sample_weight)
        self._set_attributes(X, classes, Cs, l1_ratios, ratios, penalty, legacy, coefs, intercepts,
                             scores, n_iter, n_folds)
        self.status_ = status[:n_folds]
        _verbose_line(self, self.solver_, int(n_iter.sum()), f"{int(np.sum(status == Status.CONVERGED))} of "
                      f"{status.size} models converged")
        return self

    def _warn_unfinished(self, status, residual, tol, n_iter):
        stuck, diverged = status == Status.MAX_ITER, status == Status.DIVERGED
        if stuck.any():
            prefix = _SKLEARN_NOT_CONVERGED.get(self.solver, "") if isinstance(self.solver, str) else ""
            prefix = prefix.format(n_iter=int(n_iter[stuck].max()))
            warnings.warn(f"{prefix} jaxlr: LogisticRegressionCV: {int(stuck.sum())} of {status.size} model(s) "
                          f"stopped at max_iter={self.max_iter} with max|grad| = {float(residual[stuck].max()):.3g}"
                          f" > tol = {tol}. Increase max_iter, standardize X, or try solver='newton' (few "
                          "features) or 'lbfgs'.".strip(), ConvergenceWarning, stacklevel=3)
        if diverged.any():
            warnings.warn(f"jaxlr: LogisticRegressionCV: {int(diverged.sum())} model(s) diverged (objective not "
                          "finite or above its start); lower the learning rate or use a line-search solver "
                          "('lbfgs', 'newton').", ConvergenceWarning, stacklevel=3)

    def _cv_scores(self, X, y, folds, coefs, intercepts, scorer, score_params, sample_weight):
        """(n_folds, n_l1_ratios, n_Cs) scores on the test folds, as scikit-learn computes them
        (``scorer`` None: accuracy with the test fold's sample weights)."""
        classes = self.classes_
        Xs = X.tocsr() if sp.issparse(X) and X.format == "coo" else X
        model = _Fitted(classes, X.shape[1])
        if scorer is not None and hasattr(scorer, "_score_func"):
            # rebuilt with the known labels: a test fold may lack a class (scikit-learn does the same)
            sig = inspect.signature(scorer._score_func).parameters
            if "labels" in sig:
                pos_label = {"pos_label": classes[-1]} if len(classes) <= 2 and "pos_label" in sig else {}
                scorer = make_scorer(scorer._score_func, greater_is_better=scorer._sign == 1,
                                     response_method=scorer._response_method, labels=classes, **pos_label,
                                     **getattr(scorer, "_kwargs", {}))
        n_folds, n_r, n_c = len(folds), coefs.shape[1], coefs.shape[2]
        scores = np.empty((n_folds, n_r, n_c))
        for f, (_, test) in enumerate(folds):
            X_test, y_test = Xs[test], y[test]
            if scorer is None:
                sw = None if sample_weight is None else np.asarray(sample_weight)[test]
                scores[f] = _accuracy_of_lanes(X_test, y_test, coefs[f], intercepts[f], classes, sw)
                continue
            kw = _check_method_params(X, params=score_params or {}, indices=test)
            for i in range(n_r):
                for j in range(n_c):
                    model.coef_, model.intercept_ = coefs[f, i, j], intercepts[f, i, j]
                    scores[f, i, j] = scorer(model, X_test, y_test, **kw)
        return scores

    def _set_attributes(self, X, classes, Cs, l1_ratios, ratios, penalty, legacy, coefs, intercepts, scores,
                        n_iter, n_folds):
        """scikit-learn 1.9's fitted attributes, legacy or not, from the (fold, l1_ratio, C) lanes."""
        n_classes, n_features = len(classes), X.shape[1]
        is_binary = n_classes == 2
        n_r, n_c = len(ratios), len(Cs)
        width = 1 if is_binary else n_classes
        keys = classes[1:] if is_binary else classes
        # scikit-learn's internal layout: (width, n_folds, n_Cs, n_l1_ratios, n_dof)
        paths = np.concatenate([coefs, intercepts[..., None]], axis=-1) if self.fit_intercept else coefs
        paths = np.moveaxis(paths[:n_folds], (0, 1, 2, 3), (1, 3, 2, 0))
        fold_scores = np.swapaxes(scores, 1, 2)  # (n_folds, n_Cs, n_l1_ratios)
        self.Cs_ = Cs
        self.n_iter_ = np.swapaxes(n_iter[:n_folds], 1, 2)[None, ...]
        self.scores_ = dict(zip(keys, np.tile(fold_scores[None], (width, 1, 1, 1))))
        self.coefs_paths_ = dict(zip(keys, paths))

        C_, l1_ratio_ = [], []
        if self.refit:
            summed = fold_scores.sum(axis=0)  # (n_Cs, n_l1_ratios): argmax, first on ties
            best_c, best_r = np.unravel_index(np.argmax(summed), summed.shape)
            C_.append(Cs[best_c])
            l1_ratio_.append(ratios[best_r])
            coef, intercept = coefs[-1, best_r, best_c], intercepts[-1, best_r, best_c]
        else:  # each fold's best model; coefficients, C and l1_ratio averaged over folds
            flat = fold_scores.reshape(n_folds, -1)
            best_c, best_r = np.unravel_index(np.argmax(flat, axis=1), (n_c, n_r))
            coef = np.mean([coefs[f, best_r[f], best_c[f]] for f in range(n_folds)], axis=0)
            intercept = np.mean([intercepts[f, best_r[f], best_c[f]] for f in range(n_folds)], axis=0)
            C_.append(np.mean(Cs[best_c]))
            l1_ratio_.append(np.mean(np.asarray(ratios)[best_r]) if penalty == "elasticnet" else 0.0)
        self.coef_ = np.array(coef, order="C")
        self.intercept_ = np.array(intercept, dtype=np.float64) if self.fit_intercept else np.zeros(width)
        if not is_binary:
            C_, l1_ratio_ = np.tile(C_, n_classes), np.tile(np.asarray(l1_ratio_, dtype=object), n_classes)
        self.C_ = np.asarray(C_)
        self.l1_ratio_ = np.asarray(list(l1_ratio_))
        self.l1_ratios_ = np.asarray(ratios)
        if l1_ratios is None:  # no elastic net: the l1_ratios axis is dropped
            self.coefs_paths_ = {k: v[:, :, 0, :] for k, v in self.coefs_paths_.items()}
            self.scores_ = {k: v[:, :, 0] for k, v in self.scores_.items()}
            self.n_iter_ = self.n_iter_[:, :, :, 0]

        if not legacy:
            self.C_ = float(self.C_[0])
            self.l1_ratio_ = (1.0 if self.penalty == "l1" else 0.0) if l1_ratios is None else float(self.l1_ratio_[0])
            self.coefs_paths_ = np.moveaxis(paths, (0, 1, 3), (3, 0, 1))  # (n_folds, n_l1, n_Cs, width, n_dof)
            self.scores_ = np.swapaxes(fold_scores, 1, 2)  # (n_folds, n_l1_ratios, n_Cs)
            self.n_iter_ = n_iter[:n_folds]

    def score(self, X, y, sample_weight=None, **score_params):
        """``scoring`` on (X, y) (accuracy when ``scoring`` is None); ``score_params`` go to the
        scorer (metadata routing must be enabled)."""
        _raise_for_params(score_params, self, "score")
        if sample_weight is not None:
            score_params["sample_weight"] = sample_weight
        scorer = self._get_scorer()
        if _routing_enabled():
            kw = process_routing(self, "score", **score_params).scorer.score
        else:
            kw = {} if score_params.get("sample_weight") is None else {"sample_weight": score_params["sample_weight"]}
        return scorer(self, X, y, **kw)


def _accuracy_of_lanes(X, y, coefs, intercepts, classes, sample_weight):
    """Accuracy of every (l1_ratio, C) model of one fold, (n_l1_ratios, n_Cs), from one product
    ``X @ [coef_1 ... coef_L]^T`` (one model at a time through the scorer was ~40% of a small CV).
    Predictions as ``predict``: ``classes[score > 0]`` binary, ``classes[argmax]`` otherwise."""
    n_r, n_c = coefs.shape[:2]
    coef = np.asarray(coefs).reshape(n_r * n_c, -1, coefs.shape[-1])  # (models, width, n_features)
    width = coef.shape[1]
    scores = safe_sparse_dot(X, coef.reshape(-1, coef.shape[-1]).T, dense_output=True)
    scores = scores.reshape(X.shape[0], n_r * n_c, width) + np.asarray(intercepts).reshape(n_r * n_c, width)
    picked = (scores[..., 0] > 0).astype(np.intp) if width == 1 else np.argmax(scores, axis=-1)
    correct = np.asarray(classes)[picked] == np.asarray(y)[:, None]
    return np.average(correct, axis=0, weights=sample_weight).reshape(n_r, n_c)


class _Fitted(_LogisticMixin, BaseEstimator):
    """A bare fitted model (``coef_``, ``intercept_``, ``classes_``) for scoring CV lanes."""

    def __init__(self, classes=None, n_features=None):
        self.classes = classes
        self.n_features = n_features
        self.classes_ = classes
        self.n_features_in_ = n_features

    def __sklearn_is_fitted__(self):
        return True

    def decision_function(self, X):
        scores = safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores
