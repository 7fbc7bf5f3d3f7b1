"""``LogisticRegressionCV``: every fold x C x l1_ratio (and the refit models) as lanes of ONE
call of the core's entrance, scored by the core's held-out scorer (accuracy) or by a
scikit-learn scorer adapted here."""

from __future__ import annotations

import inspect
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.metrics import get_scorer, make_scorer
from sklearn.model_selection import check_cv
from sklearn.utils import Bunch, compute_class_weight, metadata_routing
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.metadata_routing import (
    MetadataRouter, MethodMapping, _raise_for_params, _routing_enabled, process_routing,
)
from sklearn.utils.validation import _check_method_params

from .._core.status import Status
from .._train.checks import check_scalar
from .._train.data import from_codes
from .._train.grid import Grid, split_masks
from .._train.options import Options
from .._train.scoring import lane_scores
from .._train.train import train
from ._logistic import LogisticRegression, _LogisticMixin
from ._params import (
    PENALTIES, check_bool, check_C, check_common, check_l1_ratio, check_solver, checked, core_options, penalties,
    sklearn_layout, verbose_line, warn_unfinished,
)


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
    jaxlr's ``status_`` (n_folds, n_l1_ratios, n_Cs), ``solver_`` and ``path_``.

    Like scikit-learn's, each fold's Cs may be solved as a regularization path, strongest
    penalty first, each C warm-started from the previous C's solution on the same fold (the
    refit models form one more path, on all rows): jaxlr does so where its cost model says the
    path is cheaper than every lane from zero (``path_`` says which was done). A warm-started lane
    stops at ``tol`` like a cold one, so it equals the separate fit to the tolerance of the fit,
    not bit for bit; with ``max_iter`` reached, the warm start is also what keeps the weakly
    penalized lanes near scikit-learn's.
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
            return np.logspace(-4, 4, check_scalar("Cs", self.Cs, minimum=1, integer=True))
        if isinstance(self.Cs, str) or np.ndim(self.Cs) == 0:
            raise TypeError(f"Cs must be an int or a sequence of positive numbers, got {self.Cs!r}")
        Cs = np.asarray([check_C(c, f"Cs[{k}]") for k, c in enumerate(np.ravel(np.asarray(self.Cs, dtype=object)))])
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
        elif isinstance(self.penalty, str) and self.penalty in PENALTIES:
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
        legacy = check_bool("use_legacy_attributes", legacy)
        check_solver(self.solver, penalty, self.dual)
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
                    check_l1_ratio(r, f"l1_ratios[{k}]")
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
        check_common(self)
        check_bool("refit", self.refit)
        penalty, l1_ratios, scoring, legacy = self._options()
        Cs = self._Cs()
        scorer = None if scoring is None else get_scorer(scoring)  # a bad name fails before compiling
        X, y, classes, codes = checked(self, X, y, sample_weight, self._validate, cv=True)
        self.classes_ = classes
        routed = self._routed(sample_weight, params)
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y, **routed.splitter.split))
        data = from_codes(X, codes, classes, sample_weight, self._class_weight(y, classes, sample_weight))
        ratios = [None] if l1_ratios is None else l1_ratios
        grid = self._grid(data, folds, ratios, penalty, Cs)
        # each fold's Cs as a warm-started path, strongest penalty first, as scikit-learn's
        # LogisticRegressionCV solves them, where the cost model says the path is cheaper (larger
        # data); a path never crosses folds, so no fold's start depends on another fold's rows
        options = Options.resolve(data, grid, caller=type(self).__name__, path="auto", **core_options(self))
        raw = train(data, options, grid)
        shape = (len(grid.fold_weights), len(ratios), len(Cs))
        status, n_iter = np.asarray(raw.status).reshape(shape), np.asarray(raw.n_iter).reshape(shape)
        self.solver_ = options.solver.name
        self.path_ = bool(raw.config["path"])
        warn_unfinished(self, status, np.asarray(raw.residual).reshape(shape), options.tol, n_iter,
                        label="LogisticRegressionCV: ", solver=self.solver_)
        n_classes, width = len(classes), 1 if len(classes) == 2 else len(classes)
        layout = [sklearn_layout(c, b, n_classes, bool(self.fit_intercept)) for c, b in zip(raw.coef, raw.intercept)]
        coefs = np.asarray([c for c, _ in layout]).reshape(*shape, width, X.shape[1])
        intercepts = np.asarray([b for _, b in layout]).reshape(*shape, width)
        scores = self._cv_scores(X, y, folds, raw, coefs, intercepts, scorer, routed.scorer.score, sample_weight)
        self._set_attributes(X, classes, Cs, l1_ratios, ratios, penalty, legacy, coefs, intercepts,
                             scores, n_iter, len(folds))
        self.status_ = status[:len(folds)]
        verbose_line(self, self.solver_, int(n_iter.sum()), f"{int(np.sum(status == Status.CONVERGED))} of "
                     f"{status.size} models converged")
        return self

    def _routed(self, sample_weight, params):
        if _routing_enabled():
            return process_routing(self, "fit", sample_weight=sample_weight, **params)
        score_kwargs = dict(params)
        if sample_weight is not None:
            score_kwargs["sample_weight"] = sample_weight
        return Bunch(splitter=Bunch(split={}), scorer=Bunch(score=score_kwargs))

    def _class_weight(self, y, classes, sample_weight):
        """``class_weight``; "balanced" computed once on all of y, as scikit-learn does."""
        class_weight = self.class_weight
        if isinstance(class_weight, dict):
            if not set(class_weight) <= set(classes.tolist()):
                raise ValueError("The given class_weight dict must have the class labels as keys; "
                                 f"classes={classes} but key={class_weight.keys()}")
        elif class_weight == "balanced":
            class_weight = dict(zip(classes.tolist(), compute_class_weight(
                "balanced", classes=classes, y=y, sample_weight=sample_weight)))
        return class_weight

    def _grid(self, data, folds, ratios, penalty, Cs) -> Grid:
        """The lanes, ordered (fold, l1_ratio, C), with one more "fold" of all rows for the refit
        models; each fold's penalties from its own weight sum (as scikit-learn's ``C`` scales)."""
        masks = split_masks(folds, data.X.shape[0])[0]
        if self.refit:
            masks = np.concatenate([masks, np.ones((1, masks.shape[1]))])
        W = masks * data.sample_weight[None, :]
        if (W.sum(axis=1) <= 0).any():
            raise ValueError("cv: a training fold has no rows with positive weight")
        effective = [{"l2": 0.0, "l1": 1.0}.get(penalty, r) for r in ratios]
        pens = np.asarray([penalties(C, r, float(W[f].sum())) for f in range(len(W)) for r in effective for C in Cs])
        fold_ids = np.repeat(np.arange(len(W)), len(ratios) * len(Cs))
        return Grid.of(data.X.shape[0], l1=pens[:, 0], l2=pens[:, 1], learning_rate=self.learning_rate,
                       fold=fold_ids, fold_weights=masks)

    def _cv_scores(self, X, y, folds, raw, coefs, intercepts, scorer, score_params, sample_weight):
        """(n_folds, n_l1_ratios, n_Cs) scores on the test folds, as scikit-learn computes them:
        ``scorer`` None is accuracy with the test folds' sample weights (the core's held-out
        scorer, every lane of a fold from one product), else scikit-learn's scorer per model."""
        n_folds, n_r, n_c = len(folds), coefs.shape[1], coefs.shape[2]
        if scorer is None:
            test = split_masks(folds, X.shape[0])[1]
            weights = test if sample_weight is None else test * np.asarray(sample_weight, float)[None, :]
            lanes = n_folds * n_r * n_c
            codes = np.searchsorted(self.classes_, y)
            accuracy = lane_scores(X, codes, np.asarray(raw.coef)[:lanes], np.asarray(raw.intercept)[:lanes],
                                   weights, np.repeat(np.arange(n_folds), n_r * n_c), metrics=("accuracy",))
            return accuracy.reshape(n_folds, n_r, n_c)
        scorer = _with_labels(scorer, self.classes_)
        Xs = X.tocsr() if sp.issparse(X) and X.format == "coo" else X
        model = _Fitted(self.classes_, X.shape[1])
        scores = np.empty((n_folds, n_r, n_c))
        for f, (_, test) in enumerate(folds):
            kw = _check_method_params(X, params=score_params or {}, indices=test)
            for i in range(n_r):
                for j in range(n_c):
                    model.coef_, model.intercept_ = coefs[f, i, j], intercepts[f, i, j]
                    scores[f, i, j] = scorer(model, Xs[test], y[test], **kw)
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


def _with_labels(scorer, classes):
    """A scorer whose metric takes ``labels`` (``neg_log_loss``, ``neg_brier_score``) rebuilt with
    the known classes, so it works on test folds that lack a class: what scikit-learn's own
    ``LogisticRegressionCV`` does (``_log_reg_scoring_path``), reading the same attributes."""
    if not hasattr(scorer, "_score_func"):
        return scorer
    sig = inspect.signature(scorer._score_func).parameters
    if "labels" not in sig:
        return scorer
    pos_label = {"pos_label": classes[-1]} if len(classes) <= 2 and "pos_label" in sig else {}
    return make_scorer(scorer._score_func, greater_is_better=scorer._sign == 1,
                       response_method=scorer._response_method, labels=classes, **pos_label,
                       **getattr(scorer, "_kwargs", {}))


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


__all__ = ["LogisticRegressionCV"]
