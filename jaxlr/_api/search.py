"""Search spaces beyond grids: distributions ``jaxlr.sweep`` draws hyperparameter values from.

    jaxlr.sweep(X, y, l2=jaxlr.loguniform(1e-6, 1.0), l1=[0.0, 1e-3], n_samples=64, seed=0)

draws 64 values of ``l2`` and crosses them with the grid values of the other hyperparameters
(here two ``l1`` values: 128 settings). Several distributions are drawn jointly: sample ``i``
takes the ``i``-th draw of each.

Draws are made on the host with NumPy (nothing compiles): hyperparameter ``h`` gets
``dist.sample(numpy.random.default_rng([seed, STREAMS[h]]), n_samples)``, one stream per
hyperparameter (``learning_rate`` 0, ``l2`` 1, ``l1`` 2), so making ``l1`` random leaves the
``l2`` draws of the same seed unchanged, and the same ``seed`` and ``n_samples`` always give the
same values on every machine (NumPy's ``Generator`` streams are stable across platforms).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from .._train.checks import ArgumentValueError, as_values, check_scalar

STREAMS = {"learning_rate": 0, "l2": 1, "l1": 2}


class Distribution:
    """A one-dimensional distribution of hyperparameter values."""

    low: float  # the smallest value it can draw (checked against the hyperparameter's range)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class LogUniform(Distribution):
    """``exp(U(log low, log high))``: every decade between ``low`` and ``high`` equally likely."""

    low: float
    high: float

    def sample(self, rng, n):
        return np.exp(rng.uniform(math.log(self.low), math.log(self.high), n))

    def __repr__(self):
        return f"loguniform({self.low:g}, {self.high:g})"


@dataclasses.dataclass(frozen=True)
class Uniform(Distribution):
    """``U(low, high)``."""

    low: float
    high: float

    def sample(self, rng, n):
        return rng.uniform(self.low, self.high, n)

    def __repr__(self):
        return f"uniform({self.low:g}, {self.high:g})"


@dataclasses.dataclass(frozen=True)
class Choice(Distribution):
    """One of ``values``, each equally likely (with replacement)."""

    values: tuple

    @property
    def low(self):
        return min(self.values)

    def sample(self, rng, n):
        return np.asarray(self.values, float)[rng.integers(0, len(self.values), n)]

    def __repr__(self):
        return f"choice({list(self.values)})"


def _bounds(name: str, low, high) -> tuple[float, float]:
    low = check_scalar(f"{name}: low", low)
    high = check_scalar(f"{name}: high", high)
    if not low < high:
        raise ValueError(f"{name}: low must be < high, got low={low:g}, high={high:g}")
    return low, high


def loguniform(low: float, high: float) -> LogUniform:
    """Values ``exp(U(log low, log high))`` (``0 < low < high``), for scale parameters such as
    ``l2``: each decade between the bounds is drawn equally often."""
    low, high = _bounds("loguniform", low, high)
    if not low > 0:
        raise ValueError(f"loguniform: low must be > 0, got {low:g}")
    return LogUniform(low, high)


def uniform(low: float, high: float) -> Uniform:
    """Values ``U(low, high)`` (``low < high``)."""
    return Uniform(*_bounds("uniform", low, high))


def choice(values: Sequence[float]) -> Choice:
    """One of ``values`` per draw, each equally likely."""
    return Choice(as_values("choice", values))


def draw(name: str, dist: Distribution, n_samples: int, seed: int, *, minimum: float, strict: bool = False) -> tuple:
    """``n_samples`` values of hyperparameter ``name`` from its stream of ``seed``, after checking
    that ``dist`` cannot draw below the hyperparameter's ``minimum``."""
    if dist.low < minimum or (strict and dist.low <= minimum):
        raise ArgumentValueError(name, f"must be {'>' if strict else '>='} {minimum:g}, but {dist!r} can draw "
                                             f"values {'<=' if strict else '<'} {minimum:g}")
    values = dist.sample(np.random.default_rng([seed, STREAMS[name]]), n_samples)
    return tuple(float(v) for v in values)


__all__ = ["Distribution", "LogUniform", "Uniform", "Choice", "loguniform", "uniform", "choice", "draw", "STREAMS"]
