"""scikit-learn 1.9's callbacks (``set_callbacks``, ``sklearn.callback.ProgressBar``,
``ScoringMonitor``, ...) on jaxlr's estimators.

A fit is one task; with callbacks set, its solver runs in rounds of one step (the core's
``observe`` hook) and every iteration is a subtask, as scikit-learn's lbfgs reports it: each
iteration task begins with the model before the step and ends with the model after it
(``fitted_estimator`` is ready to predict), at least one iteration task is reported, and one
empty task closes the list. A callback whose ``on_fit_task_end`` returns True stops the fit
after that iteration (status ``max_iter``). Without callbacks nothing changes (one compiled call).

scikit-learn's own solver names keep scikit-learn's rule, so the estimator stays a drop-in:
callbacks with ``"lbfgs"`` only, the others warn and run without iteration tasks; jaxlr's solver
names (``"auto"``, ``"newton"``, ``"fista"``, ``"gd"``, ...) all support them (every jaxlr
solver runs in the same loop). Before scikit-learn 1.9 there is no ``sklearn.callback`` and
nothing here does anything.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from ._params import SKLEARN_SOLVERS, sklearn_layout

try:
    from sklearn.callback import CallbackSupportMixin
    from sklearn.callback._callback_support import callback_management_context as callback_context
except ImportError:  # scikit-learn < 1.9
    CallbackSupportMixin = object

    def callback_context(estimator):
        return contextlib.nullcontext()


class Callbacks(CallbackSupportMixin):
    """``set_callbacks`` (scikit-learn's, with its warning for its solvers other than lbfgs)."""

    def set_callbacks(self, *callbacks):
        """Set callbacks for the estimator (see ``sklearn.callback``); returns ``self``."""
        if not iterates_with_callbacks(self.solver):
            warnings.warn(f"Callbacks are only supported in {type(self).__name__} for solver='lbfgs' (of "
                          "scikit-learn's solver names; jaxlr's own, 'auto' included, all support them). This "
                          f"estimator has solver='{self.solver}', callbacks will be ignored during the solving of the "
                          "regression.", UserWarning, stacklevel=2)
        return super().set_callbacks(*callbacks)


def iterates_with_callbacks(solver) -> bool:
    """Iteration tasks for ``solver``: scikit-learn's "lbfgs" and every jaxlr solver."""
    return not (isinstance(solver, str) and solver in SKLEARN_SOLVERS and solver != "lbfgs")


class FitTask:
    """The callback tasks of one fit: ``begin()``, then ``observe`` for the core (one call per
    step), then ``end()``. Inactive (free) without callbacks or before scikit-learn 1.9."""

    def __init__(self, est, X, y, sample_weight, n_classes: int):
        self.est, self.X, self.y, self.n_classes = est, X, y, n_classes
        self.metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        self.active = bool(getattr(est, "_skl_callbacks", None)) and hasattr(est, "_init_callback_context")
        self.iterates = self.active and iterates_with_callbacks(est.solver)
        self.ctx = self.iteration = self.params = None
        self.n_iter = 0

    def _attributes(self, params):
        coef, intercept = sklearn_layout(np.asarray(params[0]), np.asarray(params[1]), self.n_classes,
                                         bool(self.est.fit_intercept))
        return {"coef_": coef, "intercept_": intercept}

    def _hook(self, ctx, name, params):
        getattr(ctx, f"call_on_fit_task_{name}")(
            estimator=self.est, X=self.X, y=self.y, metadata=self.metadata,
            reconstruction_attributes=None if params is None else (lambda: self._attributes(params)))

    def begin(self, start) -> None:
        """The fit task begins; with iterations, so does the first, from ``start`` (coef, intercept)."""
        if not self.active:
            return
        self.ctx = self.est._init_callback_context(max_subtasks=max(int(self.est.max_iter), 1) + 1)
        self._hook(self.ctx, "begin", None)
        if self.iterates:
            self._next(start)

    def _next(self, params) -> None:
        self.iteration, self.params = self.ctx.subcontext(task_name="iter"), params
        self._hook(self.iteration, "begin", params)

    @property
    def observe(self):
        """The core's per-step hook (None: no rounds of one step)."""
        return self._observe if self.iterates else None

    def _observe(self, params, n_iter) -> bool:
        if int(n_iter[0]) == self.n_iter:  # a step that did not move the model (it converged there)
            return False
        self.n_iter = int(n_iter[0])
        current = (params.coef[0], params.intercept[0])
        stop = self.iteration.call_on_fit_task_end(
            estimator=self.est, X=self.X, y=self.y, metadata=self.metadata,
            reconstruction_attributes=lambda: self._attributes(current))
        self._next(current)
        return bool(stop)

    def end(self) -> None:
        """The last iteration task (empty; after a fit of no step, one with the start first)
        and the fit task end."""
        if not self.active:
            return
        if self.iterates:
            if self.n_iter == 0:  # at least one iteration task, as scikit-learn's lbfgs reports
                self._hook(self.iteration, "end", self.params)
                self._next(self.params)
            self.iteration.call_on_fit_task_end(estimator=self.est)
        self.ctx.call_on_fit_task_end(estimator=self.est, X=self.X, y=self.y, metadata=self.metadata,
                                      reconstruction_attributes={})


__all__ = ["Callbacks", "FitTask", "callback_context", "iterates_with_callbacks"]
