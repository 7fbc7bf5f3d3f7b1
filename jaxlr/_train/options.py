"""How to train: ``Options``, every option checked and every ``"auto"`` resolved in one place.

``Options.resolve(data, grid, **given)`` is the one constructor: it checks each option the user
gave, resolves ``solver="auto"``, ``tol="auto"``, ``path="auto"`` and the chunk size from the data
and the grid, and returns a frozen value that every layer below receives as it is. A new option
is a field here (with its check in ``resolve``) plus the code that uses it: the Python API takes
options as keyword arguments and the command line builds its flags from the fields' metadata.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .._core import solvers as _solvers
from .._core.steps import Solver
from .checks import ArgumentTypeError, ArgumentValueError, check_bool, check_scalar
from .data import Dataset
from .grid import Grid
from .layout import MIN_ROWS, bucket, chunk_size_for, n_parameters
from .path import decide_path

DEFAULT_TOL = 1e-4
DEFAULT_MEMORY_BUDGET = 512 * 2**20  # bytes of per-model temporaries in one chunk
MAX_STEPS = 2**31 - 1  # the loop counts steps in int32


def option(default, help: str, cli: dict | None = None):
    """A field of ``Options``: its default, its help text, and how the command line spells it
    (``cli``: ``commands`` it belongs to, ``kind`` of value, ``metavar``, ``flag``; None: not a flag)."""
    return dataclasses.field(default=default, metadata={"help": help, "cli": cli})


@dataclasses.dataclass(frozen=True)
class Options:
    """How models are trained (the keyword arguments of ``fit``, ``fit_many`` and ``sweep``)."""

    solver: Any = option("auto", (
        "'auto' (newton / lbfgs, fista with l1, gd with minibatches or a learning-rate grid), a name "
        "(gd, momentum, nesterov, adam, adamw, adagrad, rmsprop, lbfgs, newton, fista), an "
        "optax.GradientTransformation or a factory learning_rate -> transformation"),
        cli=dict(commands=("fit", "sweep"), kind="solver", metavar="NAME"))
    steps: int = option(1000, "iteration budget, >= 0 (0: the starting model, status max_iter)",
                        cli=dict(commands=("fit", "sweep"), kind="integer", metavar="N"))
    tol: Any = option("auto", (
        "stop a model once its optimality residual (max|grad|; with l1 of the proximal step) is <= tol; "
        "None runs all steps; 'auto': 1e-4, None with batch_size"),
        cli=dict(commands=("fit", "sweep"), kind="tol", metavar="TOL"))
    fit_intercept: bool = option(True, "fit an unpenalized intercept",
                                 cli=dict(commands=("fit", "sweep"), kind="negate", flag="--no-intercept"))
    batch_size: int | None = option(None, "minibatches of this many rows, reshuffled every epoch (first-order solvers)",
                                    cli=dict(commands=("fit", "sweep"), kind="integer", metavar="B"))
    standardize: bool = option(False, (
        "fit on columns divided by their standard deviation (weighted by sample_weight, not class_weight; dense "
        "X also centred), reporting coefficients in the units of X: StandardScaler's model, whatever X's storage"),
        cli=dict(commands=("fit", "sweep"), kind="flag"))
    path: Any = option(False, (
        "solve models that differ only in their penalty as warm-started regularization paths "
        "(True, False or 'auto': when estimated cheaper)"))
    max_time: float | None = option(None, (
        "seconds the training may take: models still running then stop with status max_iter (the lanes run "
        "in rounds of at most a quarter second, so it ends within about one round of the limit)"),
        cli=dict(commands=("fit", "sweep"), kind="number", metavar="SECONDS"))
    chunk_size: int | None = option(None, "models per compiled chunk (default: as many as fit in memory_budget)",
                                    cli=dict(commands=("sweep",), kind="integer", metavar="M"))
    memory_budget: int = option(DEFAULT_MEMORY_BUDGET, "bytes of per-model temporaries in one chunk")
    progress_every: int | None = option(None, "steps between progress reports (default: 1/50 of the budget)")
    mesh: Any = option(None, "a jax.sharding.Mesh with axes 'models' and/or 'data'")
    intercept_scaling: float | None = option(None, (
        "liblinear's objective: the intercept is penalized like the weight of a constant feature of this "
        "value (intercept = intercept_scaling x that weight); None: an unpenalized intercept"))

    @classmethod
    def resolve(cls, data: Dataset, grid: Grid, *, checkpoint: bool = False, caller: str = "fit",
                **given) -> "Options":
        """Options for training ``grid`` on ``data``: each given option checked (errors name it),
        every ``"auto"`` resolved. Unknown names are a ``TypeError`` naming ``caller``."""
        names = {f.name for f in dataclasses.fields(cls)}
        for name in given:
            if name not in names:
                raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}")
        o = {f.name: given.get(f.name, f.default) for f in dataclasses.fields(cls)}
        n_samples, n_features = data.X.shape
        o["steps"] = check_scalar("steps", o["steps"], minimum=0, maximum=MAX_STEPS, integer=True)
        o["fit_intercept"] = check_bool("fit_intercept", o["fit_intercept"])
        o["standardize"] = check_bool("standardize", o["standardize"])
        if o["batch_size"] is not None:
            o["batch_size"] = check_scalar("batch_size", o["batch_size"], minimum=1, integer=True)
            if o["batch_size"] > n_samples:
                raise ArgumentValueError("batch_size", f"must be <= n_samples ({n_samples}), got {o['batch_size']}")
        o["tol"] = _tol(o["tol"], o["batch_size"])
        o["solver"] = _solver(o["solver"], data, grid, o)
        o["memory_budget"] = check_scalar("memory_budget", o["memory_budget"], minimum=1, integer=True)
        if o["progress_every"] is not None:
            o["progress_every"] = check_scalar("progress_every", o["progress_every"], minimum=1, integer=True)
        if o["max_time"] is not None:
            o["max_time"] = check_scalar("max_time", o["max_time"], minimum=0.0, strict=True)
        if o["intercept_scaling"] is not None:
            o["intercept_scaling"] = check_scalar("intercept_scaling", o["intercept_scaling"], minimum=0.0, strict=True)
        o["mesh"], (n_lane_dev, n_row_dev) = _mesh(o["mesh"], data, o["batch_size"])
        n_params = n_parameters(n_features, data.n_classes, o["fit_intercept"])
        o["chunk_size"] = _chunk_size(o, grid, n_params, data, n_lane_dev, n_row_dev)
        o["path"] = decide_path(o["path"], o["solver"], o["tol"], checkpoint, o["mesh"], grid, n_samples, n_params)
        return cls(**o)

    def lane_devices(self) -> tuple[int, int]:
        """(devices along "models", devices along "data") of the mesh; (1, 1) without one."""
        if self.mesh is None:
            return 1, 1
        from .mesh import AXES, axis_size

        return tuple(axis_size(self.mesh, a) for a in AXES)

    @property
    def intercept_weight(self) -> float:
        """The intercept's share of the penalties: 0, or ``1 / intercept_scaling``."""
        return 0.0 if self.intercept_scaling is None else 1.0 / self.intercept_scaling

    def describe(self) -> dict:
        """The options as plain values (the ``config`` of a result)."""
        extra = {} if self.intercept_scaling is None else {"intercept_scaling": self.intercept_scaling}
        return dict(solver=self.solver.name, tol=self.tol, steps=self.steps, fit_intercept=self.fit_intercept,
                    batch_size=self.batch_size, chunk_size=self.chunk_size, standardize=self.standardize,
                    path=self.path, **extra)


def _tol(tol, batch_size) -> float | None:
    if isinstance(tol, str):
        if tol != "auto":
            raise ArgumentValueError("tol", f"must be a non-negative number, None or 'auto', got {tol!r}")
        return None if batch_size else DEFAULT_TOL
    if tol is None:
        return None
    tol = check_scalar("tol", tol, minimum=0.0)
    if batch_size:
        raise ArgumentValueError("tol", "must be None (or 'auto') with batch_size: minibatch gradients cannot "
                                 "certify convergence")
    return tol


def _solver(spec, data: Dataset, grid: Grid, o: dict) -> Solver:
    """The solver ``spec`` names, checked against the problem, or ``"auto"``'s choice."""
    try:
        solver = _solvers.get(spec)
    except TypeError:
        raise ArgumentTypeError("solver", f"must be a name or an optax.GradientTransformation, got {spec!r}") from None
    except KeyError:
        raise ArgumentValueError("solver", f"must be one of {', '.join(_solvers.NAMES)}, got {spec!r}") from None
    minibatch = o["batch_size"] is not None
    if solver is None:
        n_params = n_parameters(data.X.shape[1], data.n_classes, o["fit_intercept"])
        return _solvers.choose(uses_l1=grid.uses_l1, minibatch=minibatch, learning_rate_grid=grid.learning_rate_grid,
                               n_samples=data.X.shape[0], n_params=n_params, n_models=len(grid))
    if grid.uses_l1 and not solver.handles_l1:
        what = "an optax transformation, which" if not isinstance(spec, str) else repr(spec)
        raise ArgumentValueError("solver", f"{what} cannot handle an L1 penalty (l1 > 0); use solver='fista' or 'auto'")
    if minibatch and not solver.minibatch:
        raise ArgumentValueError("solver", f"{spec!r} needs full batches; batch_size works with first-order solvers")
    if grid.learning_rate_grid and not solver.takes_learning_rate:
        raise ArgumentValueError("learning_rate", f"has several values but solver {solver.name!r} does not use a "
                                 "learning rate; give one value")
    return solver


def _mesh(mesh, data: Dataset, batch_size):
    if mesh is None:
        return None, (1, 1)
    from .mesh import AXES, axis_size, check_mesh

    try:
        mesh = check_mesh(mesh)
    except TypeError as err:
        raise ArgumentTypeError("mesh", str(err).split(" ", 1)[1]) from None
    n_lane_dev, n_row_dev = (axis_size(mesh, a) for a in AXES)
    if data.is_sparse:
        raise ArgumentValueError("mesh", "cannot hold a sparse X yet; pass mesh=None (or a dense X)")
    if batch_size and data.X.shape[0] % n_row_dev:
        raise ArgumentValueError("mesh", f"with batch_size needs n_samples ({data.X.shape[0]}) to be a multiple of "
                                 f"the 'data' axis size ({n_row_dev}); padding rows would change the minibatches")
    return mesh, (n_lane_dev, n_row_dev)


def _chunk_size(o: dict, grid: Grid, n_params: int, data: Dataset, n_lane_dev: int, n_row_dev: int) -> int:
    """Models per chunk: given, or as many as fit in ``memory_budget`` (per device), in whole
    lanes per device."""
    n_models = len(grid)
    if o["chunk_size"] is None:
        rows = -(-bucket(data.X.shape[0], MIN_ROWS) // n_row_dev)
        per_device = chunk_size_for(-(-n_models // n_lane_dev), rows, data.n_outputs, n_params, o["steps"],
                                    data.X.dtype.itemsize, o["solver"], o["memory_budget"])
        return per_device * n_lane_dev
    size = min(check_scalar("chunk_size", o["chunk_size"], minimum=1, integer=True), n_models)
    return -(-size // n_lane_dev) * n_lane_dev


__all__ = ["Options", "DEFAULT_TOL", "DEFAULT_MEMORY_BUDGET", "option"]
