"""Tests run in float64 (x64 on); float32 cases ask for it explicitly."""

import os
import signal

os.environ.setdefault("XLA_FLAGS", "")
# The signal tests play a user pressing Ctrl-C in a terminal. A runner started in the background
# by a non-interactive shell inherits SIGINT ignored, and so would every CLI the tests start (a
# process rightly keeps an ignored SIGINT ignored); a handler here is reset to the default at exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# jaxlr's own store of compiled programs is off in the test processes (a test counting compiles
# must not find a program kept by another test); tests/core/test_programs.py turns it on.
os.environ.setdefault("JAXLR_CACHE_DIR", "")
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("jaxlr", deadline=None, max_examples=25, derandomize=True)
settings.load_profile("jaxlr")

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


class _Traces:
    """How often jit traced a function, by name, from JAX's own monitoring events (the library
    keeps no counters): ``traces()`` is the number of traces of the training program
    (``jaxlr._core.engine.run``), i.e. of its compilations in this process."""

    def __init__(self):
        self.by_name: dict = {}
        jax.monitoring.register_event_duration_secs_listener(self._on_duration)

    def _on_duration(self, event, duration, fun_name=None, **_):
        if event == "/jax/core/compile/jaxpr_trace_duration":
            self.by_name[fun_name] = self.by_name.get(fun_name, 0) + 1

    def __call__(self, name: str = "run") -> int:
        return self.by_name.get(name, 0)


traces = _Traces()


@pytest.fixture(autouse=True, scope="session")
def _one_openmp_thread():
    """scikit-learn's OpenMP threads spin badly on a loaded 2-core machine (a digits fit went
    from 0.18 s to 23 s), so the oracles run on one thread."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def cancer():
    """scikit-learn's breast-cancer data, standardized (the parity tests' real dataset)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture
def seed_problem():
    from jaxlr._api.demo import seed_data

    return seed_data()


def make_problem(m=60, n=4, seed=0, dtype=np.float64, separable=False):
    """A small random, non-separable binary problem."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)).astype(dtype)
    w = rng.standard_normal(n)
    noise = 0.0 if separable else 1.5
    y = (X @ w + 0.3 + noise * rng.standard_normal(m) > 0).astype(dtype)
    return X, y
