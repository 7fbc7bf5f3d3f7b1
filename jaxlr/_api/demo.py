"""The seed experiment, reproduced, and what jaxlr adds on top of it.

The seed: 100 samples from ``np.random.seed(42)``, a bias column and two standard-normal
features, ``theta_true = [1, 2, 3]``, label noise 0.2, the 80/20 split of
``train_test_split(test_size=0.2, random_state=42)``, gradient descent with learning rate
0.01 for 1000 steps from zeros; it prints the test log-loss 0.27879988486...
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import numpy as np

from .._core.losses import binary_cross_entropy
from .._core.model import logits
from .fit import fit
from .sweep import sweep

SEED_TEST_LOSS = 0.27879988486425317  # what the seed script prints


class SeedData(NamedTuple):
    X_train: np.ndarray  # (80, 2) features, without the bias column
    X_test: np.ndarray
    y_train: np.ndarray  # bool, as the seed has them
    y_test: np.ndarray


def seed_data() -> SeedData:
    """The seed's data and split, bit for bit (no scikit-learn needed).

    ``train_test_split(test_size=0.2, random_state=42)`` draws
    ``RandomState(42).permutation(m)`` and takes the first 20% as the test set.
    """
    np.random.seed(42)
    m, n = 100, 2
    X = np.random.randn(m, n)
    X = np.hstack((np.ones((m, 1)), X))
    theta_true = np.array([1, 2, 3])
    y = (X.dot(theta_true) + np.random.randn(m) * 0.2) > 0
    perm = np.random.RandomState(42).permutation(m)
    n_test = int(np.ceil(0.2 * m))
    test, train = perm[:n_test], perm[n_test:]
    return SeedData(X[train, 1:], X[test, 1:], y[train], y[test])


def seed_fit(data: SeedData | None = None):
    """The seed's model fitted by ``jaxlr.fit`` (gradient descent, learning rate 0.01, 1000 steps
    from zeros) and its test log-loss: ``(test_loss, result)``. In float64 the loss is the seed's,
    ``SEED_TEST_LOSS``, bit for bit."""
    d = seed_data() if data is None else data
    result = fit(d.X_train, d.y_train, solver="gd", learning_rate=0.01, steps=1000, tol=None)
    return float(binary_cross_entropy(logits(result.params, d.X_test), d.y_test)), result


class DemoReport(NamedTuple):
    test_loss: float
    coef: np.ndarray
    intercept: float
    sweep_table: str
    n_models: int
    sweep_compile_s: float  # first call: trace + compile + run
    sweep_s: float  # warm: all models in one compiled call
    loop_s: float  # warm: the same models, one fit call each
    dtype: str


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    return out, time.perf_counter() - start


def run_demo(seeds=(0, 1, 2, 3, 4, 5, 6, 7), learning_rates=(0.01, 0.03, 0.1, 0.3),
             batch_size: int = 16, steps: int = 1000) -> DemoReport:
    """Fit the seed's model, then a seeds x learning-rates minibatch sweep, timed against
    a Python loop of single fits (both warm, in the same run)."""
    d = seed_data()
    test_loss, result = seed_fit(d)

    options = dict(solver="gd", steps=steps, tol=None, batch_size=batch_size)

    def run_sweep():
        return sweep(d.X_train, d.y_train, seeds=seeds, learning_rate=learning_rates, **options).coef

    def run_loop():
        return [fit(d.X_train, d.y_train, seed=s, learning_rate=lr, **options).coef
                for s in seeds for lr in learning_rates]

    _, compile_s = _timed(run_sweep)
    run_loop()  # warm-up: compiles the single-model program once
    sweep_s = min(_timed(run_sweep)[1] for _ in range(3))
    loop_s = min(_timed(run_loop)[1] for _ in range(2))
    grid = sweep(d.X_train, d.y_train, seeds=seeds, learning_rate=learning_rates, **options)
    return DemoReport(test_loss, np.asarray(result.coef), float(result.intercept), grid.table(max_rows=12),
                      len(grid), compile_s, sweep_s, loop_s, str(np.asarray(result.coef).dtype))
