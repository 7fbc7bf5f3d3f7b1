"""What a fit returns: ``FitResult`` and ``SweepResult``, and the warning for unfinished models.

Both results are pytrees (``jax.tree_util.register_dataclass``): the arrays are leaves, the
classes, configuration and grid are static metadata, so ``jax.tree_util.tree_map`` maps over a
result, ``jit`` returns one and ``vmap`` stacks them. They share their names: a sweep result
indexed at ``k`` is a fit result (``sweep[k].coef == sweep.coef[k]``), and a fit result is a
sweep of one model without the models axis.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import jax
import numpy as np

from .._core.model import Params
from .._core.status import HISTORY_HEAD, Status, history_steps
from .grid import FIELDS, FrozenDict


class ConvergenceWarning(UserWarning):
    """A fit stopped at its iteration budget before reaching ``tol``, or diverged."""


class PerfectSeparationWarning(UserWarning):
    """The classes are perfectly separated: the unpenalized MLE does not exist."""


@dataclasses.dataclass(frozen=True)
class _Common:
    """What both results hold and offer; arrays may carry a leading models axis (sweeps)."""

    coef: Any
    intercept: Any
    loss_history: Any
    n_iter: Any
    status: Any
    objective: Any
    residual: Any

    is_sweep: ClassVar[bool] = False

    @property
    def params(self) -> Params:
        return Params(self.coef, self.intercept)

    @property
    def converged(self):
        """``status == converged`` (a NumPy bool, or a bool array for a sweep)."""
        return np.asarray(self.status) == Status.CONVERGED

    @property
    def loss_history_steps(self) -> np.ndarray:
        """The step each ``loss_history`` entry was recorded at (see ``history_steps``)."""
        return history_steps(int(self.config["steps"]), np.shape(self.loss_history)[-1], HISTORY_HEAD)


@dataclasses.dataclass(frozen=True)
class FitResult(_Common):
    """One fitted model.

    ``coef`` (n_features,) or (n_features, n_classes), ``intercept`` () or (n_classes,);
    ``loss_history[j]`` the objective before step ``loss_history_steps[j]`` (every step when
    ``steps <= 1024``; then the first 512 and every k-th; minibatch objective with
    ``batch_size``); once the model stops it holds the final value. ``status`` is a ``Status``
    code; ``residual`` the max-norm of the gradient (with L1, of the proximal-gradient step) at
    the final parameters; ``objective`` the objective there.
    """

    classes: tuple = ()
    config: FrozenDict = dataclasses.field(default_factory=FrozenDict)

    @property
    def status_name(self) -> str:
        return Status(int(self.status)).label

    @property
    def status_message(self) -> str:
        return Status(int(self.status)).message

    def rows(self) -> list[dict]:
        """One mapping: settings, status, iterations, objective, residual."""
        return [_row(self.config, self.status_name, self.n_iter, self.objective, self.residual)]


@dataclasses.dataclass(frozen=True)
class SweepResult(_Common):
    """K fitted models: arrays have a leading models axis, ``grid[k]`` says what model ``k`` is.

    ``fold_weights`` (n_folds, n_samples) holds each fold's training weights when the sweep used
    folds (model ``k`` trained on row ``grid[k]["fold"]``). ``validation_loss`` (K,): with folds,
    each model's weighted mean log-loss on its fold's held-out rows (no penalty). ``rung`` (K,):
    with successive halving, the rung at which the model's setting was ranked out (0 the first;
    status ``pruned``), or the number of rungs for the finalists.

    With a validation set (``sweep(..., validation=(X_val, y_val))``, ``linear_probe``),
    ``validation_loss`` and ``validation_accuracy`` (K,) score every model on it, and
    ``best_index`` / ``best`` / ``best_params`` name the model of highest validation accuracy
    (the first on ties).
    """

    fold_weights: Any = None
    validation_loss: Any = None
    rung: Any = None
    validation_accuracy: Any = None
    grid: tuple = ()
    classes: tuple = ()
    config: FrozenDict = dataclasses.field(default_factory=FrozenDict)

    is_sweep: ClassVar[bool] = True

    def __len__(self) -> int:
        return len(self.grid)

    @property
    def status_name(self) -> tuple[str, ...]:
        return tuple(Status(int(s)).label for s in np.asarray(self.status).reshape(-1))

    def __getitem__(self, k: int) -> FitResult:
        """Model ``k`` as a ``FitResult`` (its settings: the sweep's config with ``grid[k]``)."""
        k = range(len(self))[k]  # negative indices; IndexError past the end
        leaves = {name: getattr(self, name)[k] for name in _ARRAYS}
        return FitResult(**leaves, classes=self.classes, config=FrozenDict({**self.config, **self.grid[k]}))

    @property
    def best_index(self) -> int:
        """The model of highest ``validation_accuracy`` (the first on ties); needs a sweep with a
        validation set."""
        if self.validation_accuracy is None:
            raise ValueError("best_index needs a validation set: sweep(..., validation=(X_val, y_val)) or "
                             "jaxlr.linear_probe(...)")
        return int(np.argmax(np.nan_to_num(np.asarray(self.validation_accuracy), nan=-np.inf)))

    @property
    def best(self) -> FitResult:
        """The best model on the validation set (``self[best_index]``)."""
        return self[self.best_index]

    @property
    def best_params(self) -> dict:
        """The settings of the best model on the validation set (``grid[best_index]``)."""
        return dict(self.grid[self.best_index])

    def rows(self) -> list[dict]:
        """One mapping per model: its grid values, status, iterations, objective, residual (and,
        when the sweep has them, validation loss and accuracy and halving rung)."""
        n_iter, objective, residual = (np.asarray(a) for a in (self.n_iter, self.objective, self.residual))
        rows = [{**{k: v for k, v in g.items() if k not in FIELDS}, **_row(g, name, n_iter[k], objective[k], residual[k])}
                for k, (g, name) in enumerate(zip(self.grid, self.status_name))]
        if self.validation_loss is not None:
            for row, v in zip(rows, np.asarray(self.validation_loss)):
                row["validation_loss"] = float(v)
        if self.validation_accuracy is not None:
            for row, v in zip(rows, np.asarray(self.validation_accuracy)):
                row["validation_accuracy"] = float(v)
        if self.rung is not None:
            for row, r in zip(rows, np.asarray(self.rung)):
                row["rung"] = int(r)
        return rows

    def table(self, max_rows: int | None = 40) -> str:
        """The rows as an aligned text table."""
        return format_table(self.rows(), max_rows)

    def to_pandas(self):
        import pandas as pd  # optional: only when asked for

        return pd.DataFrame(self.rows())


_ARRAYS = ("coef", "intercept", "loss_history", "n_iter", "status", "objective", "residual")

jax.tree_util.register_dataclass(FitResult, data_fields=list(_ARRAYS), meta_fields=["classes", "config"])
jax.tree_util.register_dataclass(SweepResult, data_fields=[*_ARRAYS, "fold_weights", "validation_loss", "rung",
                                                          "validation_accuracy"],
                                 meta_fields=["grid", "classes", "config"])


def _row(settings: Mapping, status: str, n_iter, objective, residual) -> dict:
    return {**{k: settings[k] for k in FIELDS if k in settings}, "status": status, "n_iter": int(n_iter),
            "objective": float(objective), "residual": float(residual)}


def format_table(rows: list[dict], max_rows: int | None = 40) -> str:
    """Mappings with the same keys as a right-aligned text table."""
    shown = rows if max_rows is None else rows[:max_rows]
    cols = list(rows[0])
    cells = [[_fmt(r[c]) for c in cols] for r in shown]
    widths = [max(len(c), *(len(row[j]) for row in cells)) for j, c in enumerate(cols)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
    if len(shown) < len(rows):
        lines.append(f"... {len(rows) - len(shown)} more rows")
    return "\n".join(lines)


def _fmt(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


# what to try when models stop at their budget, by the solver that stopped (not itself)
_OTHER_SOLVERS = {"newton": "solver='newton' (few features)", "lbfgs": "solver='lbfgs'"}


def warn_unfinished(status, residual, tol, steps, label: str = "", prefix: str = "", stacklevel: int = 3,
                    category: type = ConvergenceWarning, budget: str = "steps", solver: str | None = None) -> None:
    """``ConvergenceWarning`` for models that stopped at the budget or diverged: the one place this
    warning is worded (``prefix``: the estimators' scikit-learn wording, ``label``: whose models,
    ``solver``: the solver that ran, so the advice names only the others)."""
    status, residual = np.atleast_1d(np.asarray(status)), np.atleast_1d(np.asarray(residual))
    stuck = int(np.sum(status == Status.MAX_ITER))
    diverged = int(np.sum(status == Status.DIVERGED))
    lead = f"{prefix} jaxlr: " if prefix else ""
    if stuck:
        worst = float(np.max(residual[status == Status.MAX_ITER]))
        of = f" of {status.size}" if prefix and status.size > 1 else ""
        others = " or ".join(tip for name, tip in _OTHER_SOLVERS.items() if name != solver)
        warnings.warn(
            f"{lead}{label}{stuck}{of} model(s) stopped at the budget of {budget}={steps} with max|grad| = "
            f"{worst:.3g} > tol = {tol}. Increase {budget}, standardize X (standardize=True), or try {others}.",
            category, stacklevel=stacklevel)
    if diverged:
        warnings.warn(
            f"{'jaxlr: ' if prefix else ''}{label}{diverged} model(s) diverged (objective not finite or above its "
            "start); lower the learning rate or use a line-search solver ('lbfgs', 'newton').",
            category, stacklevel=stacklevel)


__all__ = ["FitResult", "SweepResult", "ConvergenceWarning", "PerfectSeparationWarning", "FrozenDict",
           "format_table", "warn_unfinished"]
