"""Wald inference for fitted models: standard errors, z, p-values, confidence intervals.

The covariance comes from the exact Hessian of the total weighted negative log-likelihood
``L(theta) = sum_i s_i loss_i`` (``jax.hessian``, no closed forms), i.e. ``S * objective``
with ``S = sum_i s_i``, so weights act as frequency weights (a weight of 2 = a row seen
twice), exactly as in the fitting objective.

- model-based (default): ``cov = H^{-1}``, statsmodels ``Logit(...).fit().bse``;
- ``robust=True``: the HC0 sandwich ``H^{-1} (sum_i s_i g_i g_i^T) H^{-1}`` with ``g_i`` the
  per-sample score, statsmodels ``cov_type="HC0"``.

Penalized fits: with ``l1 > 0`` there is no Hessian at zero coefficients and no valid Wald
test after selection, so ``inference`` refuses (ValueError). With ``l2 > 0`` the numbers are
those of the Laplace approximation to the Bayesian posterior under the Gaussian prior
``w ~ N(0, 1 / (S * l2))`` that the penalty encodes (intercept flat): ``coef`` is the
posterior mode, ``std_err`` the posterior standard deviation from the penalized Hessian,
``ci_low``/``ci_high`` approximate credible intervals and ``p_value`` the normal tail mass
beyond zero. They are NOT frequentist tests (the ridge estimate is biased toward zero);
the table says so. ``robust=True`` with a penalty is refused.

Sparse X (scipy.sparse, BCOO/BCSR): the same Hessian, assembled from the design's weighted
Gram matrices ``X^T diag(d) X`` (``SparseDesign.gram``) with ``d`` the loss's second
derivative in the logits (from ``jax.hessian`` of the per-sample loss), so X is never
densified; the (p x p) Hessian itself must fit (``MAX_SPARSE_PARAMS``).

Multinomial models (unpenalized only): softmax coefficients are identified only up to a
shift across classes, so, as statsmodels' ``MNLogit`` does, the table reports each class
``k >= 1`` relative to the first class (``w_k - w_0``, ``b_k - b_0``; rows named
``"<class>:<feature>"``, one block per class with its intercept last).
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import norm

from .._core.losses import log_loss
from .._core.problem import augmented_gram
from .._core.sparse import SparseDesign, sparse
from .._core.status import Status
from .._train.checks import check_scalar
from .._train.data import dataset
from .._core.model import Params
from .._train.results import ConvergenceWarning, PerfectSeparationWarning
from .diagnostics import separated_models, separates

COLUMNS = ("coef", "std_err", "z", "p_value", "ci_low", "ci_high")
MAX_SPARSE_PARAMS = 8192  # a (p x p) float64 Hessian of 512 MiB, inverted in O(p^3)


def _logits(theta, X, fit_intercept: bool, n_classes: int):
    """Binary: ``theta = [w..., b]``. K classes: K-1 blocks ``[w_k..., b_k]`` relative to
    class 0, whose logit is fixed at 0 (statsmodels' ``MNLogit`` parametrization)."""
    n = X.shape[1]
    if n_classes == 2:
        return X @ theta[:n] + (theta[n] if fit_intercept else 0.0)
    blocks = theta.reshape(n_classes - 1, n + int(fit_intercept))
    z = X @ blocks[:, :n].T + (blocks[:, n] if fit_intercept else 0.0)
    return jnp.concatenate([jnp.zeros((X.shape[0], 1), z.dtype), z], axis=1)


def _total_loss(theta, X, y, s, l2, fit_intercept: bool, n_classes: int = 2):
    """``sum_i s_i loss_i + 0.5 * S * l2 * ||w||^2`` (the L2 term for binary models only)."""
    loss = jnp.dot(s, log_loss(_logits(theta, X, fit_intercept, n_classes), y))
    if n_classes == 2:
        loss = loss + 0.5 * jnp.sum(s) * l2 * jnp.sum(theta[: X.shape[1]] ** 2)
    return loss


def _theta_gram(design, Q, fit_intercept: bool):
    """``sum_i Q_i kron (x~_i x~_i^T)`` in theta's order (blocks ``[w_k..., b_k]``), for
    per-sample (B, B) weights ``Q`` (m, B, B) and ``x~ = [x, 1]`` (``[x]`` without intercept):
    the Hessian (and the sandwich's meat) of a loss that depends on theta through the logits."""
    m, n = design.shape
    B = Q.shape[1]
    blocks = augmented_gram(design, Q.reshape(m, B * B))  # (B*B, n + 1, n + 1)
    if not fit_intercept:
        blocks = blocks[:, :n, :n]
    d = blocks.shape[-1]
    return blocks.reshape(B, B, d, d).transpose(0, 2, 1, 3).reshape(B * d, B * d)


def _sparse_hessian_and_meat(theta, design, y, s, l2, fit_intercept: bool, n_classes: int, robust: bool):
    """The exact Hessian of ``_total_loss`` (and the HC0 meat) for a sparse design, from the
    loss's derivatives in the free logits (``jax.grad``/``jax.hessian``) and ``_theta_gram``."""
    n = design.shape[1]
    B = 1 if n_classes == 2 else n_classes - 1
    width = n + int(fit_intercept)
    blocks = theta.reshape(B, width)
    z = design.matmul(blocks[:, :n].T) + (blocks[:, n] if fit_intercept else 0.0)  # (m, B)

    def sample_loss(zi, yi):  # the loss of one sample in its free logits (B,)
        if n_classes == 2:
            return log_loss(zi[0][None], yi[None])[0]
        return log_loss(jnp.concatenate([jnp.zeros((1,), zi.dtype), zi])[None], yi[None])[0]

    curvature = jax.vmap(jax.hessian(sample_loss))(z, y)  # (m, B, B)
    hessian = _theta_gram(design, s[:, None, None] * curvature, fit_intercept)
    if n_classes == 2:
        penalty = jnp.zeros(width, theta.dtype).at[:n].set(jnp.sum(s) * l2)
        hessian = hessian + jnp.diag(penalty)
    meat = None
    if robust:
        score = jax.vmap(jax.grad(sample_loss))(z, y)  # (m, B)
        meat = _theta_gram(design, s[:, None, None] * score[:, :, None] * score[:, None, :], fit_intercept)
    return hessian, meat


def wald(theta, X, y, s, l2, alpha, fit_intercept: bool, robust: bool, n_classes: int = 2):
    """The six columns (each of theta's shape) and the covariance matrix, for one model.
    ``X`` is a dense array or a ``SparseDesign``."""
    if isinstance(X, SparseDesign):
        hessian, meat = _sparse_hessian_and_meat(theta, X, y, s, l2, fit_intercept, n_classes, robust)
        h_inv = jnp.linalg.inv(hessian)
        cov = h_inv @ meat @ h_inv if robust else h_inv
        return _columns(theta, cov, alpha), cov
    hessian = jax.hessian(_total_loss)(theta, X, y, s, l2, fit_intercept, n_classes)
    h_inv = jnp.linalg.inv(hessian)
    if robust:
        def one(x, yi):
            return jax.grad(_total_loss)(theta, x[None, :], yi[None], jnp.ones((1,), X.dtype), 0.0,
                                         fit_intercept, n_classes)

        scores = jax.vmap(one)(X, y)  # per-sample score g_i, (m, d)
        meat = (scores * s[:, None]).T @ scores
        cov = h_inv @ meat @ h_inv
    else:
        cov = h_inv
    return _columns(theta, cov, alpha), cov


def _columns(theta, cov, alpha):
    std_err = jnp.sqrt(jnp.diagonal(cov))
    z = theta / std_err
    p_value = 2 * norm.sf(jnp.abs(z))
    q = norm.ppf(1 - alpha / 2)
    return theta, std_err, z, p_value, theta - q * std_err, theta + q * std_err


_wald_jit = jax.jit(wald, static_argnames=("fit_intercept", "robust", "n_classes"))


def wald_many(theta, X, y, s, l2, alpha, fit_intercept: bool, robust: bool, n_classes: int = 2):
    """``wald`` for K models at once: ``theta`` (K, d), ``s`` (K, m), ``l2`` (K,)."""
    def one(t, w, lam):
        return wald(t, X, y, w, lam, alpha, fit_intercept, robust, n_classes)

    return jax.vmap(one)(theta, s, l2)


_wald_many = jax.jit(wald_many, static_argnames=("fit_intercept", "robust", "n_classes"))


class InferenceTable(NamedTuple):
    """One row per coefficient (the intercept last); for a sweep, a leading models axis.

    ``kind`` says what the numbers are: ``"MLE"``, ``"MLE, robust HC0"`` or
    ``"Laplace posterior (l2 penalty)"``.
    """

    names: list
    coef: np.ndarray
    std_err: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    covariance: np.ndarray
    alpha: float
    kind: Any  # str, or a list of str (one per model) for a sweep

    @property
    def is_sweep(self) -> bool:
        return self.coef.ndim == 2

    def rows(self) -> list[dict]:
        """One mapping per (model and) coefficient: name and the six columns."""
        out = []
        cols = [np.atleast_2d(getattr(self, c)) for c in COLUMNS]
        for k in range(cols[0].shape[0]):
            for j, name in enumerate(self.names):
                row = {"model": k} if self.is_sweep else {}
                row["name"] = name
                row.update({c: float(v[k, j]) for c, v in zip(COLUMNS, cols)})
                out.append(row)
        return out

    def to_pandas(self):
        import pandas as pd  # optional: only when asked for

        frame = pd.DataFrame(self.rows())
        return frame.set_index(["model", "name"] if self.is_sweep else "name")

    def __str__(self) -> str:
        level = f"{100 * (1 - self.alpha):g}%"
        kinds = [self.kind] if isinstance(self.kind, str) else list(self.kind)
        title = [f"Wald inference, {level} intervals" + (f" ({kinds[0]})" if not self.is_sweep else "")]
        if any("Laplace" in k for k in kinds):
            title.append("l2-penalized: posterior mode / sd under the penalty's Gaussian prior, "
                         "not frequentist tests")
        head = ["name", *COLUMNS]
        lines = []  # a str is a model header, a list a row of cells
        for row in self.rows():
            if self.is_sweep and row["name"] == self.names[0]:
                lines.append(f"model {row['model']} ({kinds[row['model']]})")
            lines.append([str(row["name"])] + [f"{row[c]:.6g}" for c in ("coef", "std_err", "z")]
                         + [f"{row['p_value']:.3g}", f"{row['ci_low']:.6g}", f"{row['ci_high']:.6g}"])
        cells = [r for r in lines if isinstance(r, list)]
        widths = [max(len(h), *(len(r[j]) for r in cells)) for j, h in enumerate(head)]
        fmt = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
        return "\n".join(title + [fmt(head)] + [fmt(r) if isinstance(r, list) else r for r in lines])

    __repr__ = __str__


def _penalties(result) -> tuple[np.ndarray, np.ndarray]:
    if getattr(result, "is_sweep", False):
        return (np.asarray([g.get("l1", 0.0) for g in result.grid], float),
                np.asarray([g.get("l2", 0.0) for g in result.grid], float))
    return np.asarray([result.config.get("l1", 0.0)]), np.asarray([result.config.get("l2", 0.0)])


def inference(result, X, y, alpha: float = 0.05, sample_weight=None, robust: bool = False,
              feature_names=None) -> InferenceTable:
    """Wald table for a ``FitResult`` (or every model of a ``SweepResult``, vmapped).

    ``X``, ``y``, ``sample_weight`` must be the training data of the fit (for a sweep with
    folds, each model uses its fold's training weights). Columns: ``coef``, ``std_err``,
    ``z``, ``p_value`` (two-sided), ``ci_low``, ``ci_high`` (level ``1 - alpha``); rows:
    features then the intercept. See the module docstring for penalized fits.
    """
    if not hasattr(result, "config") or not hasattr(result, "coef"):
        raise TypeError(f"result must be a FitResult or a SweepResult, got {type(result).__name__}")
    if feature_names is None and hasattr(X, "columns"):
        feature_names = [str(c) for c in X.columns]
    return inference_dataset(result, dataset(X, y, sample_weight), alpha, robust, feature_names)


def inference_dataset(result, ds, alpha: float = 0.05, robust: bool = False, feature_names=None) -> InferenceTable:
    """``inference`` on a validated ``Dataset`` (the command line checks its file once); its
    ``sample_weight`` is the fit's."""
    batched = bool(getattr(result, "is_sweep", False))
    coef, intercept = np.asarray(result.coef), np.asarray(result.intercept)
    n_classes = len(np.asarray(result.classes))
    n_features = coef.shape[int(batched)]
    if ds.X.shape[1] != n_features:
        raise ValueError(f"X has {ds.X.shape[1]} features but the model has {n_features}")
    if list(np.asarray(ds.classes)) != list(np.asarray(result.classes)):
        raise ValueError(f"y has classes {ds.classes.tolist()} but the model was fitted on "
                         f"{np.asarray(result.classes).tolist()}")
    alpha = check_scalar("alpha", alpha, minimum=0.0, strict=True)
    if alpha >= 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not isinstance(robust, (bool, np.bool_)):
        raise TypeError(f"robust must be a bool, got {robust!r}")
    l2, penalized = _check_penalties(result, robust, n_classes)
    fit_intercept = bool(result.config.get("fit_intercept", True))
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(n_features)]
    if len(names) != n_features:
        raise ValueError(f"feature_names has {len(names)} names for {n_features} features")
    theta, names = _parameters(coef, intercept, names + (["intercept"] if fit_intercept else []), fit_intercept,
                               np.asarray(result.classes))
    dtype = ds.X.dtype
    if ds.is_sparse:
        n_params = theta.shape[-1]
        if n_params > MAX_SPARSE_PARAMS:
            raise ValueError(f"X: inference needs the ({n_params} x {n_params}) Hessian of all parameters, more "
                             f"than {MAX_SPARSE_PARAMS} parameters; select features first")
        Xj = sparse(ds.X, transpose=True)  # never densified: the Hessian comes from gram
    else:
        Xj = jnp.asarray(ds.X)
    yj = jnp.asarray(ds.y)
    if batched:
        fold_w = getattr(result, "fold_weights", None)
        if fold_w is not None:
            folds = np.asarray([g.get("fold", 0) for g in result.grid])
            weights = np.asarray(fold_w, dtype)[folds]
        else:
            weights = np.broadcast_to(ds.sample_weight, (len(l2), ds.X.shape[0]))
        cols, cov = _wald_many(jnp.asarray(theta, dtype), Xj, yj, jnp.asarray(weights, dtype),
                               jnp.asarray(l2, dtype), alpha, fit_intercept, bool(robust), n_classes)
        kind = [_kind(p, robust, n_classes) for p in penalized]
    else:
        cols, cov = _wald_jit(jnp.asarray(theta, dtype), Xj, yj, jnp.asarray(ds.sample_weight),
                              jnp.asarray(l2[0], dtype), alpha, fit_intercept, bool(robust), n_classes)
        kind = _kind(penalized[0], robust, n_classes)
    _warn_if_separated(result, ds, l2, fit_intercept, batched)
    cols = [np.asarray(c) for c in cols]
    return InferenceTable(names, *cols, np.asarray(cov), alpha, kind)


def _warn_if_separated(result, ds, l2, fit_intercept: bool, batched: bool) -> None:
    """``PerfectSeparationWarning`` when an unpenalized model separates its training rows: its
    MLE does not exist, and the table describes wherever the solver stopped."""
    if batched:
        folds = [g.get("fold", 0) for g in result.grid]
        bad = separated_models(result, ds, np.zeros_like(l2), l2, folds, fit_intercept)
        if bad.size == 0:
            return
        what = f"{bad.size} unpenalized model(s) (index {', '.join(map(str, bad[:5]))}) separate"
    else:
        params = Params(np.asarray(result.coef), np.asarray(result.intercept))
        if not (l2[0] == 0 and separates(params, ds.X, ds.y, ds.sample_weight, fit_intercept)):
            return
        what = "the unpenalized model separates"
    warnings.warn(f"inference: {what} the classes perfectly: the maximum-likelihood estimate does not exist, "
                  "so the standard errors, z and p-values describe wherever the solver stopped and mean "
                  "nothing (they grow with the iterations); add a penalty (l2 > 0) or remove the separating "
                  "feature(s)", PerfectSeparationWarning, stacklevel=3)


def _check_penalties(result, robust: bool, n_classes: int):
    """(l2 per model, penalized per model), refusing what Wald tables cannot describe; a
    ``ConvergenceWarning`` when a model did not converge."""
    l1, l2 = _penalties(result)
    if (l1 > 0).any():
        raise ValueError("inference: the fit has an L1 penalty (l1 > 0); Wald standard errors are not "
                         "valid after L1 selection. Refit the selected features without L1.")
    penalized = l2 > 0
    if robust and penalized.any():
        raise ValueError("inference: robust=True needs an unpenalized fit (l2 = 0)")
    if n_classes > 2 and penalized.any():
        raise ValueError("inference: a penalized multinomial fit (l2 > 0) has no reference-class form "
                         "(the penalty is not invariant to shifting coefficients across classes); "
                         "refit with l2 = 0")
    if not np.all(np.asarray(result.status) == Status.CONVERGED):
        warnings.warn("inference: the fit did not converge (status != 'converged'); the standard errors "
                      "assume the objective is at its minimum", ConvergenceWarning, stacklevel=3)
    return l2, penalized


def _parameters(coef, intercept, names: list, fit_intercept: bool, classes):
    """theta (..., d) in the table's order and its row names: binary ``[w..., b]``; K classes
    relative to the first, one block ``[w_k..., b_k]`` per other class."""
    n_classes = len(classes)
    if n_classes > 2:
        coef = np.swapaxes(coef[..., 1:] - coef[..., :1], -1, -2)  # (..., K-1, n)
        intercept = intercept[..., 1:] - intercept[..., :1]
        names = [f"{classes[k]}:{name}" for k in range(1, n_classes) for name in names]
    theta = np.concatenate([coef, intercept[..., None]], axis=-1) if fit_intercept else coef
    if n_classes > 2:
        theta = theta.reshape(*theta.shape[:-2], -1)
    return theta, names


def _kind(penalized: bool, robust: bool, n_classes: int) -> str:
    if penalized:
        return "Laplace posterior (l2 penalty)"
    kind = "MLE, robust HC0" if robust else "MLE"
    return kind + (", relative to the first class" if n_classes > 2 else "")


__all__ = ["inference_dataset", "inference", "InferenceTable", "wald"]
