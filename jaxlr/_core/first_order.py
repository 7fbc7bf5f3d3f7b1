"""First-order solvers: any ``optax.GradientTransformation``, applied lane by lane (``vmap``) to
the lanes-native gradient. ``"gd"`` is the seed's ``theta -= lr * grad``.

``FirstOrder`` builds its transformation from each lane's learning rate (``make(lr)``, e.g.
``optax.adam``), so a grid of learning rates is one program; ``Transformation`` applies one fixed
transformation (a user's ``optax.adamw(1e-2)``) to every lane. A
``GradientTransformationExtraArgs`` (``optax.lbfgs()``) gets ``value``, ``grad`` and a per-lane
``value_fn``, as optax's contract asks. Optax states are stacked with the lanes axis last, like
every other per-lane array.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar

import jax
import jax.numpy as jnp

from .steps import Solver, StepInfo, lane_max_abs


def optax_factory(name: str, **fixed) -> Callable[[Any], Any]:
    """``lambda lr: optax.<name>(lr, **fixed)``, importing optax at the first call: a fit with
    L-BFGS or Newton never imports it (50 ms of ``import jaxlr``)."""
    def make(learning_rate):
        import optax

        return getattr(optax, name)(learning_rate, **fixed)

    make.__name__ = name
    return make


def _update(tx, problem, value, k, g, s, p):
    import optax

    if isinstance(tx, optax.GradientTransformationExtraArgs):
        updates, s = tx.update(g, s, p, value=value, grad=g, value_fn=problem.lane_fn(k))
    else:
        updates, s = tx.update(g, s, p)
    return optax.apply_updates(p, updates), s


@dataclasses.dataclass(frozen=True)
class FirstOrder(Solver):
    """``make(learning_rate_k)`` per lane: a named optax optimizer or a user's factory."""

    make: Callable[[Any], Any] = dataclasses.field(default=optax_factory("sgd"), repr=False)
    serializable: bool = True  # False for a user's factory: traced in every process
    takes_learning_rate: ClassVar[bool] = True
    minibatch: ClassVar[bool] = True

    def _transformation(self, learning_rate):
        return self.make(learning_rate)

    def init(self, theta, problem):
        return jax.vmap(lambda p, lr: self._transformation(lr).init(p), in_axes=(1, 0), out_axes=-1)(
            theta, problem.learning_rate)

    def step(self, theta, state, problem, active):
        value, grad = problem.value_and_grad(theta)

        def one(g, s, p, lr, v, k):
            return _update(self._transformation(lr), problem, v, k, g, s, p)

        lanes = jnp.arange(theta.shape[1])
        new, state = jax.vmap(one, in_axes=(1, -1, 1, 0, 0, 0), out_axes=(1, -1))(
            grad, state, theta, problem.learning_rate, value, lanes)
        return new, state, StepInfo(value, lane_max_abs(grad))


@dataclasses.dataclass(frozen=True)
class Transformation(FirstOrder):
    """One fixed ``optax.GradientTransformation`` for every lane (the learning rate is its own)."""

    transformation: Any = dataclasses.field(default=None, repr=False)  # an optax.GradientTransformation
    serializable: bool = False  # a user's functions: traced in every process
    takes_learning_rate: ClassVar[bool] = False

    def _transformation(self, learning_rate):
        return self.transformation


__all__ = ["FirstOrder", "Transformation"]
