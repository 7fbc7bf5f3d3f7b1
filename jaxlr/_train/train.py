"""The one entrance to the core: ``train(data, options, grid)`` trains any set of models.

``fit``, ``fit_many``, ``sweep`` (and its halving rungs), the scikit-learn estimators and the
command line all come here with three validated values: the data (``Dataset``), how to train
(``Options``) and which models (``Grid``). Nothing below validates, re-encodes or pads again:
``Trainer`` standardizes and pads the data and places them on the device(s) once, then trains
any subset of the grid on them (successive halving trains rung after rung on one ``Trainer``).
"""

from __future__ import annotations

import time
from typing import Callable

import jax
import numpy as np

from .._core.engine import Lanes, Static
from .._core.problem import Hyper
from .checks import ArgumentTypeError, ArgumentValueError
from .chunks import Checkpoint, RawResult, Run
from .data import Dataset
from .grid import FrozenDict, Grid
from .layout import keeps_rows, on_mesh, prepare, use_host_sparse, use_transpose
from .mesh import to_host
from .options import Options
from .path import path_points
from .results import SweepResult
from .scaling import Scaling


def check_init(init, n_models: int, data: Dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """Starting parameters as host arrays with a models axis: ``coef`` (K, n[, C]), ``intercept``
    (K[, C]); from ``Params``/``FitResult`` (shared by all models) or a ``SweepResult`` / batched
    ``Params`` (one per model). ``None``: zeros (the seed's ``theta = 0``)."""
    if init is None:
        return None
    n_features, n_classes = data.X.shape[1], data.n_classes
    coef_shape = (n_features,) if n_classes == 2 else (n_features, n_classes)
    icpt_shape = () if n_classes == 2 else (n_classes,)
    pair = (init[0], init[1]) if isinstance(init, tuple) else (getattr(init, "coef", None), getattr(init, "intercept", None))
    coef, intercept = (np.asarray(to_host(a)) if a is not None else None for a in pair)
    if coef is None or intercept is None:
        raise ArgumentTypeError("init", f"must be Params, a FitResult or a SweepResult, got {type(init).__name__}")
    if coef.shape == coef_shape and intercept.shape == icpt_shape:
        coef, intercept = np.broadcast_to(coef, (n_models,) + coef_shape), np.broadcast_to(intercept, (n_models,) + icpt_shape)
    elif not (coef.shape == (n_models,) + coef_shape and intercept.shape == (n_models,) + icpt_shape):
        raise ArgumentValueError(
            "init", f"must have coef {coef_shape} and intercept {icpt_shape} (or one per model, with a leading "
            f"axis of {n_models}), got {coef.shape} and {intercept.shape}")
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ArgumentValueError("init", "contains NaN or inf")
    return coef.astype(data.X.dtype), intercept.astype(data.X.dtype)


class Trainer:
    """``data`` standardized (``options.standardize``), padded and placed once for ``grid``'s
    folds; calling it trains ``grid`` or any subset of it (``Grid.take``). ``resample`` (a
    ``_core.resample.Resample``): each lane trains on the data's weights times row multipliers
    drawn in the program from its seed, its ``fold`` giving the mode (``jaxlr.bootstrap``)."""

    def __init__(self, data: Dataset, options: Options, grid: Grid, resample=None):
        self.data, self.options = data, options
        # max_time counts from here, for every call (successive halving's rungs share it)
        self.deadline = None if options.max_time is None else time.perf_counter() + options.max_time
        dtype = data.X.dtype
        self.W = np.asarray(grid.training_weights(data.sample_weight), dtype)
        self.fold_weights = None if grid.fold_weights is None else self.W
        X = data.X
        # centring only with an unpenalized intercept, which absorbs it (see scaling)
        center = options.fit_intercept and options.intercept_scaling is None
        self.scaling = Scaling(X, data.row_weight, data.n_classes, center) if options.standardize else None
        if self.scaling is not None:
            X = self.scaling.apply(X)
        transpose = use_transpose(options.solver, options.batch_size, options.mesh, data.is_sparse, options.steps)
        self.prepared = prepare(X, data.y, self.W, transpose=transpose,
                                keep_rows=keeps_rows(options.solver, transpose, len(grid)),
                                host=data.is_sparse and use_host_sparse(options.solver, transpose, options.mesh),
                                mesh=options.mesh)
        self.static = Static(options.solver, options.batch_size, data.n_outputs, resample)

    def __call__(self, grid: Grid, *, init=None, steps: int | None = None, progress: Callable | None = None,
                 checkpoint: Checkpoint | None = None, observe: Callable | None = None) -> SweepResult:
        """Train ``grid`` (from ``init``: checked starting arrays, or None for zeros) for ``steps``
        (default: the options' budget); ``progress(done, total)`` hears of the model-steps done;
        ``observe(params, n_iter)`` sees a chunk's models (in the units of X) after every step and
        stops them by returning True (scikit-learn's callbacks)."""
        o = self.options
        steps = o.steps if steps is None else int(steps)
        n_lane_dev, _ = o.lane_devices()
        dtype = self.data.X.dtype
        hyper = Hyper(*(np.asarray(v, dtype) for v in (grid.learning_rate, grid.l1, grid.l2,
                                                      np.full(len(grid), 0.0 if o.tol is None else o.tol))))
        lanes = Lanes(hyper, grid.seed.astype(np.uint32), grid.fold.astype(np.int32))
        if observe is not None and self.scaling is not None:
            observe = (lambda params, n_iter, inner=observe: inner(self.scaling.out(params), n_iter))
        run = Run(self.prepared, self.static, o, steps, progress, self.deadline, observe=observe)
        start = init if self.scaling is None else self.scaling.into(init)
        chunk_size = min(o.chunk_size, -(-len(grid) // n_lane_dev) * n_lane_dev)
        points = path_points(grid) if o.path else None
        if points is None:
            raw = run.lanes(lanes, start, chunk_size, checkpoint)
        else:
            raw = _run_path(run, lanes, start, points, chunk_size)
        return self._result(raw, grid, steps, run.lane_steps, path=points is not None)

    def _result(self, raw: RawResult, grid: Grid, steps: int, lane_steps: int, path: bool) -> SweepResult:
        params = raw.params if self.scaling is None else self.scaling.out(raw.params)
        config = {**self.options.describe(), "steps": int(steps), "path": path, "lane_steps": int(lane_steps)}
        arrays = (params.coef, params.intercept, raw.loss_history, raw.n_iter, raw.status, raw.objective, raw.residual)
        mesh = self.options.mesh
        if mesh is not None:  # results stay on the mesh, split over "models" where the count divides
            arrays = tuple(on_mesh(a, mesh, self.options.lane_devices()[0]) for a in arrays)
        return SweepResult(*arrays, fold_weights=self.fold_weights, grid=grid.labels,
                           classes=tuple(self.data.classes.tolist()), config=FrozenDict(config))


def _run_path(run: Run, lanes: Lanes, init, points, chunk_size) -> RawResult:
    """Each path point's lanes through ``run.lanes``, warm-started from the previous point's
    solutions (the first from ``init``), with its solver state where the solver reprices it
    (``engine.carry_state``); one program serves every point (same lane count)."""
    n_models = int(lanes.fold.shape[0])
    out, previous, carry = None, init, {}
    report = run.progress
    for p, idx in enumerate(points):
        sub = jax.tree_util.tree_map(lambda a: np.asarray(a)[idx], lanes)
        start = None if previous is None else (previous[0][idx] if p == 0 else previous[0],
                                                  previous[1][idx] if p == 0 else previous[1])
        tell = None if report is None else (
            lambda done, total, p=p: report(p * len(idx) * run.steps + done, n_models * run.steps))
        part = run.lanes(sub, start, min(chunk_size, len(idx)), report=tell, carry=carry)
        previous = (part.params.coef, part.params.intercept)
        if out is None:
            out = jax.tree_util.tree_map(lambda a: np.zeros((n_models,) + a.shape[1:], a.dtype), part)
        for leaf_out, leaf in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(part)):
            leaf_out[idx] = leaf
    return out


def train(data: Dataset, options: Options, grid: Grid, *, init=None, progress: Callable | None = None,
          checkpoint: Checkpoint | None = None, observe: Callable | None = None) -> SweepResult:
    """Train every model of ``grid`` on ``data`` with ``options``: one compiled program per
    (solver, dtype, shape bucket, chunk width); model ``k`` equals a lone fit with its settings
    (or, with ``options.path``, its point of a warm-started regularization path)."""
    return Trainer(data, options, grid)(grid, init=init, progress=progress, checkpoint=checkpoint, observe=observe)


__all__ = ["train", "Trainer", "check_init"]
