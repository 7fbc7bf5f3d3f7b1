"""scikit-learn 1.9's parameter semantics, mapped onto jaxlr's core: checks with scikit-learn's
messages, solver names, penalties, coefficient layouts and warning classes.

Penalty mapping (scikit-learn's objective is ``C * sum_i s_i loss_i + penalty``):
``l2 = (1 - l1_ratio) / (C * sum(s))``, ``l1 = l1_ratio / (C * sum(s))``, ``s`` the sample
weights times the class weights. ``C=np.inf`` is unpenalized. ``"liblinear"`` minimises
liblinear's objective, whose intercept is the weight of a constant feature of value
``intercept_scaling``, penalized like the other weights: the core's ``intercept_scaling`` option.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning as _SkConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets

from .._core.model import Params
from .._core.solvers import NAMES as JAXLR_SOLVERS
from .._train.checks import check_scalar
from .._train.options import MAX_STEPS
from .._train.results import ConvergenceWarning as _JaxlrConvergenceWarning
from .._train.results import PerfectSeparationWarning as _JaxlrPerfectSeparationWarning


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
PENALTIES = ("l1", "l2", "elasticnet")
NOT_CONVERGED = {  # scikit-learn's own wording, first in jaxlr's convergence warnings
    "lbfgs": "lbfgs failed to converge after {n_iter} iteration(s).",
    "newton-cg": "newton-cg failed to converge after {n_iter} iteration(s). Increase the number of iterations.",
    "newton-cholesky": "Newton solver did not converge after {n_iter} iterations.",
    "sag": "The max_iter was reached which means the coef_ did not converge.",
    "saga": "The max_iter was reached which means the coef_ did not converge.",
    "liblinear": "Liblinear failed to converge, increase the number of iterations.",
}
_MULTICLASS_LIBLINEAR = (
    "The 'liblinear' solver does not support multiclass classification (n_classes >= 3). Either use "
    "another solver or wrap the estimator in a OneVsRestClassifier to keep applying a one-versus-rest scheme."
)


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def check_C(C, name="C") -> float:
    if isinstance(C, (bool, np.bool_)) or not isinstance(C, numbers.Real):
        raise TypeError(f"{name} must be a positive number (np.inf: no penalty), got {C!r}")
    C = float(C)
    if not C > 0 or np.isnan(C):
        raise ValueError(f"{name} must be > 0, got {C}")
    return C


def check_l1_ratio(value, name="l1_ratio") -> float:
    value = check_scalar(name, value, minimum=0.0)
    if value > 1:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def check_common(est):
    """Options both estimators share, checked at fit time (scikit-learn's convention)."""
    check_bool("fit_intercept", est.fit_intercept)
    check_bool("dual", est.dual)
    check_scalar("tol", est.tol, minimum=0.0)
    check_scalar("max_iter", est.max_iter, minimum=0, maximum=MAX_STEPS, integer=True)
    check_scalar("learning_rate", est.learning_rate, minimum=0.0, strict=True)
    check_scalar("intercept_scaling", est.intercept_scaling, minimum=0.0, strict=True)
    if not isinstance(est.verbose, (bool, np.bool_)):
        check_scalar("verbose", est.verbose, minimum=0, integer=True)
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
    if isinstance(solver, str) and solver not in SKLEARN_SOLVERS and solver not in JAXLR_SOLVERS:
        names = ", ".join(repr(s) for s in dict.fromkeys((*JAXLR_SOLVERS, *SKLEARN_SOLVERS)))
        raise ValueError(f"solver must be one of {names} (scikit-learn's names are aliases: "
                         f"{', '.join(f'{k}->{v}' for k, v in SOLVER_ALIASES.items())}), "
                         f"or an optax.GradientTransformation, got {solver!r}")


def check_solver(solver, penalty, dual):
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


def penalties(C: float, l1_ratio: float, weight_sum) -> tuple:
    """(l1, l2) for scikit-learn's ``C`` and ``l1_ratio`` (arrays broadcast: one per fold)."""
    if np.isinf(C):
        return 0.0 * weight_sum, 0.0 * weight_sum
    scale = 1.0 / (C * weight_sum)
    return l1_ratio * scale, (1.0 - l1_ratio) * scale


def core_options(est) -> dict:
    """The core's options for an estimator's parameters: its solver (scikit-learn names mapped,
    ``SOLVER_ALIASES``), ``max_iter`` as the budget, ``tol``, the intercept, liblinear's
    intercept penalty."""
    solver = SOLVER_ALIASES.get(est.solver, est.solver) if isinstance(est.solver, str) else est.solver
    liblinear = est.solver == "liblinear" and bool(est.fit_intercept)
    return dict(solver=solver, steps=int(est.max_iter), tol=est.tol, fit_intercept=bool(est.fit_intercept),
                intercept_scaling=float(est.intercept_scaling) if liblinear else None)


def checked(est, X, y, sample_weight, validate, cv: bool = False):
    """scikit-learn's validation (``validate(X, y)``: ``validate_data`` with the estimator's
    settings) and label checks, with its messages: the one check of X and of the labels on
    the estimators' paths. Returns ``(X, y, classes, codes)``."""
    X, y = validate(X, y)
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        one = f"{classes[0]}." if cv else repr(classes[0])
        raise ValueError("This solver needs samples of at least 2 classes in the data, but the data "
                         f"contains only one class: {one}")
    if est.solver == "liblinear":
        check_liblinear_data(X, len(classes))
    if sample_weight is not None and np.size(np.asarray(sample_weight)) and not np.any(np.asarray(sample_weight)):
        raise ValueError("sample_weight: all weights are zero; at least one must be positive")
    return X, y, classes, codes


def input_dtype(solver):
    """float32 input stays float32, except with liblinear, which computes in float64 (as
    scikit-learn's liblinear does)."""
    return np.float64 if solver == "liblinear" else [np.float64, np.float32]


def check_liblinear_data(X, n_classes):
    import scipy.sparse as sp

    if n_classes > 2:
        raise ValueError(_MULTICLASS_LIBLINEAR)
    if (X.max() if sp.issparse(X) else np.max(X)) > 1e30:
        # scikit-learn's wording (its liblinear freezes); jaxlr's solvers do not freeze, but none
        # converges at this scale (max|grad| ~ 1e55 after 100 Newton steps on [[0], [1e100]])
        raise ValueError("Using the 'liblinear' solver while X contains a maximum value > 1e30 results in a "
                         "frozen fit. Please choose another solver or rescale the input X. (jaxlr: no solver "
                         "converges at this scale; rescale X.)")


def sklearn_layout(coef, intercept, n_classes: int, fit_intercept: bool):
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


def jaxlr_layout(coef_, intercept_, n_classes: int):
    if n_classes == 2:
        return Params(coef_[0], intercept_[0])
    return Params(coef_.T, intercept_)


def warn_unfinished(est, status, residual, tol, n_iter, label: str = "", solver: str | None = None) -> None:
    """The core's warning for unfinished models, led by the scikit-learn solver's own wording
    (so filters written for scikit-learn's messages keep working) and of scikit-learn's class."""
    from .._train.results import warn_unfinished as warn

    wording = NOT_CONVERGED.get(est.solver, "") if isinstance(est.solver, str) else ""
    stuck = np.asarray(status) == 2  # Status.MAX_ITER
    prefix = wording.format(n_iter=int(np.max(np.asarray(n_iter)[stuck], initial=0))) if wording else ""
    warn(status, residual, tol, est.max_iter, label=label, prefix=prefix, stacklevel=4, category=ConvergenceWarning,
         budget="max_iter", solver=solver)


def verbose_line(est, solver, n_iter, status):
    if est.verbose:
        print(f"[{type(est).__name__}] solver={solver!r}: {n_iter} iteration(s), {status}", flush=True)


def lr_penalty(est):
    """``LogisticRegression``'s ``penalty`` / ``l1_ratio`` / ``C`` resolved as scikit-learn 1.9
    does (with its deprecation warnings); returns (penalty, C, effective l1_ratio)."""
    l1_ratio = est.l1_ratio
    if l1_ratio is not None:
        l1_ratio = check_l1_ratio(l1_ratio)
    C = check_C(est.C)
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
    elif est.penalty is None or (isinstance(est.penalty, str) and est.penalty in PENALTIES):
        penalty = est.penalty
        warnings.warn("'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid this "
                      "warning, leave 'penalty' set to its default value and use 'l1_ratio' or 'C' instead. "
                      "Use l1_ratio=0 instead of penalty='l2', l1_ratio=1 instead of penalty='l1', l1_ratio "
                      "set to a float between 0 and 1 instead of penalty='elasticnet', and C=np.inf instead "
                      "of penalty=None.", FutureWarning, stacklevel=3)
    else:
        raise ValueError(f"penalty must be 'l1', 'l2', 'elasticnet' or None (deprecated: use l1_ratio and C), "
                         f"got {est.penalty!r}")
    check_solver(est.solver, penalty, est.dual)
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


__all__ = ["ConvergenceWarning", "PerfectSeparationWarning", "SKLEARN_SOLVERS", "SOLVER_ALIASES"]
