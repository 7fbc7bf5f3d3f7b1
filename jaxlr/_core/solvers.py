"""The solvers by name, and ``"auto"``: the one table of solver names.

Each solver is a value that knows its facts (``steps.Solver``): whether it takes a learning rate
or L1, works on minibatches, its memory per lane, its typical steps and how it does along a
regularization path. ``get`` turns a user's ``solver=`` (a name, an ``optax.GradientTransformation``
or a factory ``learning_rate -> transformation``) into one; ``choose`` resolves ``"auto"``.

- first-order (``first_order``): ``"gd"`` (the seed's ``theta -= lr * grad``), ``"momentum"``,
  ``"nesterov"``, ``"adam"``, ``"adamw"``, ``"adagrad"``, ``"rmsprop"``, or any optax
  transformation;
- ``"lbfgs"`` (``lbfgs``): L-BFGS with a batched backtracking line search (Moré-Thuente's for its
  first step, as L-BFGS-B);
- ``"newton"`` (``newton``): exact Hessian, Cholesky per lane, damped, Armijo backtracking;
- ``"fista"`` (``fista``): accelerated proximal gradient for L1 / elastic net.
"""

from __future__ import annotations

from typing import Any

import sys

from .first_order import FirstOrder, Transformation, optax_factory
from .fista import Fista
from .lbfgs import Lbfgs
from .newton import NEWTON_MAX_PARAMS, Newton
from .steps import Solver

SOLVERS: dict[str, Solver] = {s.name: s for s in (
    FirstOrder("gd", make=optax_factory("sgd")),
    FirstOrder("momentum", make=optax_factory("sgd", momentum=0.9)),
    FirstOrder("nesterov", make=optax_factory("sgd", momentum=0.9, nesterov=True)),
    FirstOrder("adam", make=optax_factory("adam")),
    FirstOrder("adamw", make=optax_factory("adamw", weight_decay=0.0)),
    FirstOrder("adagrad", make=optax_factory("adagrad")),
    FirstOrder("rmsprop", make=optax_factory("rmsprop")),
    Lbfgs("lbfgs"),
    Newton("newton"),
    Fista("fista"),
)}
NAMES = ("auto", *SOLVERS)


def get(spec: Any) -> Solver | None:
    """The solver a user's ``solver=`` names (``None`` for ``"auto"``); ``TypeError``/``KeyError``
    for anything else (the caller words the error)."""
    if isinstance(spec, Solver):
        return spec
    optax = sys.modules.get("optax")  # not imported: a user cannot have passed an optax object
    if optax is not None and isinstance(spec, optax.GradientTransformation):
        return Transformation(type(spec).__name__, transformation=spec)
    if callable(spec) and not isinstance(spec, str):
        return FirstOrder(getattr(spec, "__name__", "factory"), make=spec, serializable=False)
    if not isinstance(spec, str):
        raise TypeError(spec)
    return None if spec == "auto" else SOLVERS[spec]


def choose(*, uses_l1: bool, minibatch: bool, learning_rate_grid: bool, n_samples: int, n_params: int,
           n_models: int) -> Solver:
    """``"auto"``: FISTA with L1; gradient descent with minibatches or a grid of learning rates
    (the only thing a learning rate changes is a first-order solver); else Newton while its
    Hessians are cheap (``Newton.cheap``), L-BFGS otherwise."""
    if uses_l1:
        return SOLVERS["fista"]
    if minibatch or learning_rate_grid:
        return SOLVERS["gd"]
    newton = SOLVERS["newton"]
    return newton if newton.cheap(n_samples, n_params, n_models) else SOLVERS["lbfgs"]


__all__ = ["SOLVERS", "NAMES", "get", "choose", "Solver", "NEWTON_MAX_PARAMS"]
