"""Regularization paths: whether to solve a penalty grid strongest first, each point warm-started
from its neighbour, and which lanes form each step of the paths.

Models that differ only in their penalty strength (same seed, learning rate, fold and l1/l2 mix)
form a path; all paths (folds, seeds, ...) advance together as lanes, one path point at a time.
"""

from __future__ import annotations

import numpy as np

from .checks import ArgumentTypeError, ArgumentValueError

STEP_OVERHEAD = 2e6  # per-step overhead of a program step in multiply-add equivalents (XLA:CPU)
# each point of a path is a call from the host: 3-5 ms of set-up and results on top of its steps
# (LogisticRegressionCV on breast cancer, 6 lanes of Newton: 4.5-11.7 ms a point for 2-4 steps),
# at the ~7e9 multiply-adds/s an L-BFGS step of 60 lanes reaches on the bench's 20,000 x 50
POINT_OVERHEAD = 3e7


def decide_path(path, solver, tol, checkpoint: bool, mesh, grid, n_rows: int, n_params: int) -> bool:
    """Whether to solve as regularization paths (``path``: True, False or "auto")."""
    if isinstance(path, str):
        if path != "auto":
            raise ArgumentValueError("path", f"must be True, False or 'auto', got {path!r}")
    elif not isinstance(path, (bool, np.bool_)):
        raise ArgumentTypeError("path", f"must be True, False or 'auto', got {path!r}")
    if path is False or len(grid) < 2:
        return False
    if tol is None or checkpoint or mesh is not None:
        if path is True:
            raise ArgumentValueError("path", "cannot be True without a tolerance (tol), on a mesh or with a checkpoint")
        return False
    if path == "auto":
        # the points of one path (penalties can differ between paths: CV folds scale theirs by
        # their own weight sums, so distinct values would overcount)
        points = path_points(grid)
        return points is not None and path_pays(solver, len(points), len(grid), n_rows, n_params)
    return True


def path_pays(solver, n_points: int, n_models: int, n_rows: int, n_params: int) -> bool:
    """Whether a warm-started path (``n_points`` points of ``n_models / n_points`` lanes, one
    after another) is estimated to cost less than all ``n_models`` lanes in parallel, from the
    solver's iterations cold and warm (``Solver.path_iterations``, measured on breast cancer and
    synthetic grids and cross-validation grids) and a host call per point."""
    if solver.path_iterations is None or n_points < 3:
        return False
    cold, warm = solver.path_iterations
    per_lane = solver.step_cost(n_rows, n_params)
    parallel = cold * (STEP_OVERHEAD + n_models * per_lane)
    path = n_points * (POINT_OVERHEAD + warm * (STEP_OVERHEAD + n_models / n_points * per_lane))
    return path < parallel


def path_points(grid) -> list[np.ndarray] | None:
    """Lanes grouped into paths, ordered by decreasing penalty: ``points[p]`` holds the lane
    indices at step ``p`` of every path. None when the paths differ in length (not a grid)."""
    total = np.add(grid.l1, grid.l2)
    mix = np.where(total > 0, np.divide(grid.l1, np.where(total > 0, total, 1.0)), -1.0)
    groups: dict = {}
    keys = zip(grid.seed.tolist(), grid.learning_rate.tolist(), grid.fold.tolist(), np.round(mix, 12).tolist())
    for k, key in enumerate(keys):
        groups.setdefault(key, []).append(k)
    lengths = {len(g) for g in groups.values()}
    if len(lengths) != 1:
        return None
    ordered = [sorted(g, key=lambda k: -total[k]) for g in groups.values()]
    return [np.asarray([g[p] for g in ordered]) for p in range(lengths.pop())]


__all__ = ["decide_path", "path_pays", "path_points"]
