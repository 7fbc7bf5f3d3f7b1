"""scikit-learn estimators on top of the jaxlr core: the only module that imports scikit-learn.

``LogisticRegression`` and ``LogisticRegressionCV`` take scikit-learn's parameters and
expose its fitted attributes; the fitting is ``jaxlr.fit`` (one model) or one ``vmap``ped
``fit_many`` program (every fold x C x l1_ratio at once). Prediction is plain NumPy on
``coef_``/``intercept_``, so it never compiles.

Penalty mapping (scikit-learn's objective is ``C * sum_i s_i loss_i + penalty``):
``l2 = (1 - l1_ratio) / (C * sum(s))``, ``l1 = l1_ratio / (C * sum(s))``, ``s`` the sample
weights times the class weights. ``C=np.inf`` is unpenalized.

To avoid compiling a new program for every training-set size (cross-validation folds
differ by a row or two), the rows are padded with zero-weight copies up to a size with
four significant bits (at most 12.5% more rows); zero-weight rows change nothing.
"""

from __future__ import annotations

import numbers
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning as _SkConvergenceWarning
from sklearn.metrics import get_scorer
from sklearn.model_selection import check_cv
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _data
from ._model import Params
from ._results import ConvergenceWarning as _JaxlrConvergenceWarning
from ._lanes import fit_many
from ._sweep import fold_masks
from ._lanes import check_options, warn_if_unfinished
from ._train import fit as _fit

__all__ = ["LogisticRegression", "LogisticRegressionCV", "ConvergenceWarning"]


class ConvergenceWarning(_JaxlrConvergenceWarning, _SkConvergenceWarning):
    """jaxlr's convergence warning, also a scikit-learn ``ConvergenceWarning`` (so the
    usual ``warnings.filterwarnings("ignore", category=ConvergenceWarning)`` works)."""


# scikit-learn solver names -> the jaxlr solver that minimises the same objective
SOLVER_ALIASES = {"newton-cholesky": "newton", "newton-cg": "newton", "sag": "fista", "saga": "fista"}


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
    """Options shared by both estimators, checked at fit time (scikit-learn's convention)."""
    if not isinstance(est.fit_intercept, (bool, np.bool_)):
        raise TypeError(f"fit_intercept must be a bool, got {est.fit_intercept!r}")
    _data.check_scalar("tol", est.tol, minimum=0.0)
    _data.check_scalar("max_iter", est.max_iter, minimum=1, integer=True)
    _data.check_scalar("learning_rate", est.learning_rate, minimum=0.0, strict=True)
    cw = est.class_weight
    if not (cw is None or cw == "balanced" or isinstance(cw, dict)):
        raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")
    solver = est.solver
    return SOLVER_ALIASES.get(solver, solver) if isinstance(solver, str) else solver


def _penalties(C: float, l1_ratio: float, weight_sum: float) -> tuple[float, float]:
    """(l1, l2) for scikit-learn's ``C`` and ``l1_ratio``."""
    if np.isinf(C):
        return 0.0, 0.0
    scale = 1.0 / (C * weight_sum)
    return l1_ratio * scale, (1.0 - l1_ratio) * scale


def _prepare(est, X, y, sample_weight, reset=True):
    """scikit-learn validation, label encoding and the combined sample x class weights."""
    X, y = validate_data(est, X, y, dtype=[np.float64, np.float32], order="C", reset=reset)
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
    weights = _data.training_weights(sample_weight, est.class_weight, codes, classes, dtype)
    return X, codes, classes, weights


def _sklearn_layout(coef, intercept, n_classes: int, fit_intercept: bool):
    """jaxlr's (n_features,) / (n_features, K) to scikit-learn's (1 or K, n_features).

    Softmax logits are defined up to a constant per sample, so for K >= 3 coefficients and
    intercepts are centred across classes (scikit-learn's lbfgs solution has this form).
    """
    coef, intercept = np.asarray(coef), np.asarray(intercept)
    if n_classes == 2:
        coef_, intercept_ = coef[None, :], np.reshape(intercept, (1,))
    else:
        coef_ = (coef - coef.mean(axis=1, keepdims=True)).T
        intercept_ = intercept - intercept.mean()
    if not fit_intercept:
        intercept_ = np.zeros_like(intercept_)
    return np.ascontiguousarray(coef_), intercept_


def _jaxlr_layout(coef_, intercept_, n_classes: int):
    if n_classes == 2:
        return Params(coef_[0], intercept_[0])
    return Params(coef_.T, intercept_)


def _reemit(caught):
    """Re-issue warnings caught around a jaxlr call, with the scikit-learn-compatible class."""
    for w in caught:
        category = ConvergenceWarning if issubclass(w.category, _JaxlrConvergenceWarning) else w.category
        warnings.warn(str(w.message), category, stacklevel=3)


class _LogisticMixin(ClassifierMixin):
    """Prediction in NumPy from ``coef_``/``intercept_`` (nothing compiles at predict time)."""

    def decision_function(self, X):
        """Logits ``X @ coef_.T + intercept_``: (n_samples,) for binary, else (n_samples, n_classes)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        scores = X @ self.coef_.T + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        """The most probable class label."""
        scores = self.decision_function(X)
        codes = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[codes]

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
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
        tags.input_tags.sparse = False
        return tags


# ----------------------------------------------------------------------------- LogisticRegression


class LogisticRegression(_LogisticMixin, BaseEstimator):
    """Logistic regression (binary or multinomial) with scikit-learn's interface, fitted by jaxlr.

    Parameters follow ``sklearn.linear_model.LogisticRegression``: ``C`` (inverse penalty
    strength, ``np.inf`` for none), ``l1_ratio`` (0: L2, 1: L1, between: elastic net),
    ``fit_intercept``, ``class_weight``, ``tol`` (on the max-norm of the gradient of the
    mean objective, as scikit-learn's lbfgs ``gtol``), ``max_iter``, ``solver`` and
    ``warm_start``. ``solver`` is a jaxlr name (``"auto"``: Newton for few parameters,
    L-BFGS for many, FISTA with L1; ``"lbfgs"``, ``"newton"``, ``"fista"``, ``"gd"``,
    ``"adam"``, ...) or a scikit-learn name (``"lbfgs"``, ``"newton-cholesky"``,
    ``"newton-cg"`` -> Newton, ``"sag"``, ``"saga"`` -> FISTA). ``learning_rate`` is used by
    the first-order solvers only.

    Three or more classes are fitted as one multinomial (softmax) model.
    """

    def __init__(self, *, C=1.0, l1_ratio=0.0, fit_intercept=True, class_weight=None, tol=1e-4,
                 max_iter=100, solver="auto", learning_rate=0.01, warm_start=False):
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.learning_rate = learning_rate
        self.warm_start = warm_start

    def fit(self, X, y, sample_weight=None):
        """Fit the model; returns ``self``."""
        solver = _check_common(self)
        C = _check_C(self.C)
        l1_ratio = _check_l1_ratio(self.l1_ratio)
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise TypeError(f"warm_start must be a bool, got {self.warm_start!r}")
        X, codes, classes, weights = _prepare(self, X, y, sample_weight)
        l1, l2 = _penalties(C, l1_ratio, float(weights.sum()))
        n_classes, n_features = len(classes), X.shape[1]
        # resolve "auto" on the true size (padding must not change the algorithm)
        solver, _ = check_options(
            solver=solver, steps=self.max_iter, tol=self.tol, batch_size=None,
            fit_intercept=self.fit_intercept, n_samples=X.shape[0], n_features=n_features,
            n_classes=n_classes, uses_l1=l1 > 0,
        )
        Xp, cp, wp = _pad(X, codes, weights)
        init = None
        previous = getattr(self, "coef_", None)
        if (self.warm_start and previous is not None and previous.shape[1] == n_features
                and np.array_equal(getattr(self, "classes_", None), classes)):
            init = _pad_params(_jaxlr_layout(self.coef_, self.intercept_, n_classes), Xp.shape[1])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = _fit(Xp, cp, solver=solver, learning_rate=self.learning_rate,
                          steps=self.max_iter, tol=self.tol, l1=l1, l2=l2,
                          fit_intercept=bool(self.fit_intercept), sample_weight=wp, init=init)
        _reemit(caught)
        self.classes_ = classes
        self.coef_, self.intercept_ = _sklearn_layout(result.coef[:n_features], result.intercept,
                                                      n_classes, self.fit_intercept)
        self.n_iter_ = np.asarray([int(result.n_iter)], dtype=np.int32)
        self.status_ = result.status_name
        self.solver_ = result.config["solver"]
        return self


# ----------------------------------------------------------------------------- LogisticRegressionCV


class LogisticRegressionCV(_LogisticMixin, BaseEstimator):
    """Cross-validated ``LogisticRegression``: every fold x C x l1_ratio in ONE vmapped program.

    Parameters follow ``sklearn.linear_model.LogisticRegressionCV``: ``Cs`` (an int n for
    ``np.logspace(-4, 4, n)``, or a list), ``l1_ratios`` (None or a list in [0, 1]), ``cv``
    (None, an int or a splitter; integers mean stratified K-fold as in scikit-learn),
    ``scoring`` (None: accuracy, or any scikit-learn scorer), ``refit``, ``fit_intercept``,
    ``class_weight``, ``tol``, ``max_iter``, ``solver``.

    Fold membership is a 0/1 weight mask, so all models see arrays of one shape. With
    ``refit=True`` the models on the whole training set are extra lanes of the same program.
    Fitted attributes: ``C_``, ``l1_ratio_`` (floats), ``Cs_``, ``l1_ratios_``, ``scores_``
    (n_folds, n_l1_ratios, n_Cs), ``coefs_paths_`` (n_folds, n_l1_ratios, n_Cs, n_classes_or_1,
    n_features + fit_intercept), ``n_iter_`` (n_folds, n_l1_ratios, n_Cs), ``coef_``,
    ``intercept_``, ``classes_``. (These are scikit-learn's ``use_legacy_attributes=False`` shapes.)
    """

    def __init__(self, *, Cs=10, l1_ratios=None, fit_intercept=True, cv=None, scoring=None,
                 solver="auto", tol=1e-4, max_iter=100, class_weight=None, refit=True,
                 learning_rate=0.01):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.scoring = scoring
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.refit = refit
        self.learning_rate = learning_rate

    def _grid(self):
        if isinstance(self.Cs, numbers.Integral) and not isinstance(self.Cs, bool):
            n = _data.check_scalar("Cs", self.Cs, minimum=1, integer=True)
            Cs = np.logspace(-4, 4, n)
        else:
            Cs = np.asarray([_check_C(c, f"Cs[{k}]") for k, c in enumerate(np.ravel(self.Cs))])
            if Cs.size == 0:
                raise ValueError("Cs is an empty sequence")
        if self.l1_ratios is None:
            ratios = np.zeros(1)
        else:
            ratios = np.asarray([_check_l1_ratio(r, f"l1_ratios[{k}]")
                                 for k, r in enumerate(np.ravel(self.l1_ratios))])
            if ratios.size == 0:
                raise ValueError("l1_ratios is an empty sequence")
        return Cs, ratios

    def fit(self, X, y, sample_weight=None):
        """Fit every fold x C x l1_ratio, pick the best mean score, refit; returns ``self``."""
        solver = _check_common(self)
        if not isinstance(self.refit, (bool, np.bool_)):
            raise TypeError(f"refit must be a bool, got {self.refit!r}")
        Cs, ratios = self._grid()
        scorer = None if self.scoring is None else get_scorer(self.scoring)
        X, codes, classes, weights = _prepare(self, X, y, sample_weight)
        y_orig = classes[codes]
        folds = list(check_cv(self.cv, y_orig, classifier=True).split(X, y_orig))
        n_samples, n_features = X.shape
        n_classes, n_folds = len(classes), len(folds)

        masks = fold_masks(folds, n_samples, codes).astype(weights.dtype)
        if self.refit:  # one more "fold": all rows, for the final models
            masks = np.vstack([masks, np.ones((1, n_samples), weights.dtype)])
        W = masks * weights[None, :]
        if (W.sum(axis=1) <= 0).any():
            raise ValueError("cv: a training fold has no rows with positive weight")

        # lanes ordered (fold, l1_ratio, C); the l1 / l2 strengths depend on the fold's weight sum
        fold_ids, pens = [], []
        for f in range(W.shape[0]):
            for r in ratios:
                for C in Cs:
                    fold_ids.append(f)
                    pens.append(_penalties(C, r, float(W[f].sum())))
        uses_l1 = bool(np.any(np.asarray(pens)[:, 0] > 0))
        resolved, tol = check_options(
            solver=solver, steps=self.max_iter, tol=self.tol, batch_size=None,
            fit_intercept=self.fit_intercept, n_samples=n_samples, n_features=n_features,
            n_classes=n_classes, uses_l1=uses_l1,
        )
        _data.check_scalar("learning_rate", self.learning_rate, minimum=0.0, strict=True)
        Xp, cp, _ = _pad(X, codes, weights)
        Wp = np.zeros((W.shape[0], Xp.shape[0]), W.dtype)
        Wp[:, :n_samples] = W
        pens = np.asarray(pens)
        raw = fit_many(Xp, cp, l1=pens[:, 0], l2=pens[:, 1], learning_rate=self.learning_rate,
                       fold=fold_ids, fold_weights=Wp, solver=resolved, steps=int(self.max_iter), tol=tol,
                       fit_intercept=bool(self.fit_intercept))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warn_if_unfinished(raw.status, raw.residual, raw.config['tol'], self.max_iter, label="LogisticRegressionCV: ")
        _reemit(caught)

        n_r, n_c = len(ratios), len(Cs)
        shape = (W.shape[0], n_r, n_c)
        coefs, intercepts = [], []
        lane_coef, lane_intercept = np.asarray(raw.coef)[:, :n_features], np.asarray(raw.intercept)
        for k in range(len(fold_ids)):
            c, b = _sklearn_layout(lane_coef[k], lane_intercept[k], n_classes, self.fit_intercept)
            coefs.append(c)
            intercepts.append(b)
        coefs, intercepts = np.asarray(coefs).reshape(*shape, *coefs[0].shape), \
            np.asarray(intercepts).reshape(*shape, -1)
        n_iter = np.asarray(raw.n_iter).reshape(shape)

        self.classes_ = classes
        scores = np.empty((n_folds, n_r, n_c))
        scoring_model = _Fitted(classes)
        for f, (_, test) in enumerate(folds):
            sw = None if sample_weight is None else np.asarray(sample_weight)[test]
            for i in range(n_r):
                for j in range(n_c):
                    scoring_model.coef_, scoring_model.intercept_ = coefs[f, i, j], intercepts[f, i, j]
                    if scorer is None:
                        scores[f, i, j] = scoring_model.score(X[test], y_orig[test], sample_weight=sw)
                    else:
                        kw = {} if sw is None else {"sample_weight": sw}
                        scores[f, i, j] = scorer(scoring_model, X[test], y_orig[test], **kw)

        if self.refit:
            # scikit-learn: argmax of the summed scores over (C, l1_ratio), first on ties
            summed = scores.sum(axis=0).T  # (n_Cs, n_l1_ratios), scikit-learn's order
            best_c, best_r = np.unravel_index(np.argmax(summed), summed.shape)
            self.C_, self.l1_ratio_ = float(Cs[best_c]), float(ratios[best_r])
            self.coef_, self.intercept_ = coefs[-1, best_r, best_c], intercepts[-1, best_r, best_c]
        else:
            # scikit-learn: each fold's best model, coefficients and C averaged over folds
            flat = scores.transpose(0, 2, 1).reshape(n_folds, -1)
            best_c, best_r = np.unravel_index(np.argmax(flat, axis=1), (n_c, n_r))
            picked = [(coefs[f, best_r[f], best_c[f]], intercepts[f, best_r[f], best_c[f]])
                      for f in range(n_folds)]
            self.coef_ = np.mean([p[0] for p in picked], axis=0)
            self.intercept_ = np.mean([p[1] for p in picked], axis=0)
            self.C_, self.l1_ratio_ = float(np.mean(Cs[best_c])), float(np.mean(ratios[best_r]))

        self.Cs_, self.l1_ratios_ = Cs, ratios
        self.scores_ = scores
        self.coefs_paths_ = np.concatenate(
            [coefs[:n_folds], intercepts[:n_folds, :, :, :, None]], axis=-1
        ) if self.fit_intercept else coefs[:n_folds]
        self.n_iter_ = n_iter[:n_folds]
        self.refit_n_iter_ = n_iter[-1] if self.refit else None
        self.status_ = np.asarray(raw.status).reshape(shape)
        self.solver_ = resolved if isinstance(resolved, str) else repr(resolved)
        return self

    def score(self, X, y, sample_weight=None):
        """``scoring`` on (X, y) (accuracy when ``scoring`` is None)."""
        check_is_fitted(self)
        if self.scoring is None:
            return super().score(X, y, sample_weight=sample_weight)
        kw = {} if sample_weight is None else {"sample_weight": sample_weight}
        return get_scorer(self.scoring)(self, X, y, **kw)


class _Fitted(_LogisticMixin, BaseEstimator):
    """A bare fitted model (``coef_``, ``intercept_``, ``classes_``) for scoring CV lanes."""

    def __init__(self, classes=None):
        self.classes = classes
        self.classes_ = classes

    def __sklearn_is_fitted__(self):
        return True

    def decision_function(self, X):
        scores = np.asarray(X) @ self.coef_.T + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores
