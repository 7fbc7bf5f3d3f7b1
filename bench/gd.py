"""Gradient descent against the hardware: one model vs the bandwidth bound, K models vs matmul.

A full-batch GD step reads X twice (``X @ w`` forward, ``X^T r`` backward), so its floor is
``2 * X.nbytes / bandwidth``. K models in one sweep turn both products into matmuls,
``4 m n K`` flops per step, so their ceiling is the matmul FLOP rate.
Timings difference two step budgets of the same compiled program, so validation,
transfer and the loop's fixed costs cancel.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import importlib

from jaxlr._model import init_params
from jaxlr._sweep import Lanes
from jaxlr._train import Hyper, Static

from .common import block, make_data

train = importlib.import_module("jaxlr._train")
sweep_mod = importlib.import_module("jaxlr._sweep")  # the package re-exports a function of that name


def _delta(est_step: float, seconds: float = 0.5) -> int:
    return int(np.clip(round(seconds / max(est_step, 1e-6)), 3, 400))


def _gd_static(steps: int) -> Static:
    return Static("gd", int(steps), False, None, True)


def _hyper(lrs, dtype) -> Hyper:
    lrs = jnp.asarray(lrs, dtype)
    zero = jnp.zeros_like(lrs)
    return Hyper(lrs, zero, zero, zero)


def _time_advance(init, advance, repeat: int = 3) -> float:
    """Seconds per step of a compiled ``advance`` chunk: one call to size the chunk, one to
    compile it, then the best of ``repeat`` calls (state donated, as in a real run)."""
    probe = 4
    state = block(init(probe * 3 + 400 * (repeat + 2)))
    state = block(advance(state, 0, probe))  # compiles the probe chunk
    start = time.perf_counter()
    state = block(advance(state, probe, probe))
    d = _delta((time.perf_counter() - start) / probe)
    t0 = 2 * probe
    state = block(advance(state, t0, d))  # compiles the measured chunk
    best = float("inf")
    for r in range(repeat):
        start = time.perf_counter()
        state = block(advance(state, t0 + (r + 1) * d, d))
        best = min(best, time.perf_counter() - start)
    return best / d


def single_step(X, y) -> float:
    """Seconds per full-batch GD step of one model (the compiled ``advance`` loop of ``fit``)."""
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    wj = jnp.ones_like(yj)
    hyper = jax.tree_util.tree_map(lambda a: a[0], _hyper([0.5], X.dtype))
    key = jax.random.key(0)
    params0 = init_params(X.shape[1], 2, X.dtype)
    holder = {}

    def init(steps):
        holder["static"] = _gd_static(steps)
        return train._init_jit(Xj, yj, wj, hyper, key, params0, holder["static"])

    def advance(state, start, n):
        return train._advance_jit(state, start, Xj, yj, wj, hyper, key, holder["static"], n)

    return _time_advance(init, advance)


def sweep_step(X, y, k: int) -> float:
    """Seconds per GD step of a K-model sweep (K learning rates, one chunk)."""
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    W = jnp.ones((1, X.shape[0]), X.dtype)
    lanes = Lanes(_hyper(np.geomspace(0.05, 1.0, k), X.dtype),
                  jax.vmap(jax.random.key)(jnp.arange(k, dtype=jnp.uint32)), jnp.zeros((k,), jnp.int32))
    params0 = init_params(X.shape[1], 2, X.dtype)
    holder = {}

    def init(steps):
        holder["static"] = _gd_static(steps)
        return sweep_mod._init_lanes_jit(Xj, yj, W, lanes, params0, holder["static"])

    def advance(state, start, n):
        return sweep_mod._advance_lanes_jit(state, start, Xj, yj, W, lanes, holder["static"], n)

    return _time_advance(init, advance, repeat=2)


def measure(limits: dict, quick: bool, ks=(1, 4, 16, 64, 256), tiny: bool = False) -> dict:
    """Single-model step vs two reads of X; K-model sweeps vs the matmul rate."""
    m, n = (2_000, 16) if tiny else (50_000, 128) if quick else (200_000, 256)
    X, y = make_data(m, n, seed=1)
    t1 = single_step(X, y)
    bound = 2 * X.nbytes / limits["read_bw_Bps"]
    out = {"m": m, "n": n, "dtype": str(X.dtype), "single_step_s": t1, "two_reads_s": bound,
           "single_vs_bandwidth": bound / t1, "sweeps": []}
    for k in ks:
        t = sweep_step(X, y, k)
        rate = 4.0 * m * n * k / t
        out["sweeps"].append({"K": k, "step_s": t, "flops": rate,
                              "vs_matmul": rate / limits["matmul_f32_flops"]})
    return out


def scaling(quick: bool, tiny: bool = False) -> dict:
    """Seconds per single-model GD step as m and n grow (float32)."""
    base_m, base_n = (1_000, 8) if tiny else (25_000, 64) if quick else (100_000, 128)
    ms = [base_m // 4, base_m // 2, base_m, base_m * 2, base_m * 4]
    ns = [base_n // 4, base_n // 2, base_n, base_n * 2, base_n * 4]
    rows_m = [{"m": m, "n": base_n, "step_s": single_step(*make_data(m, base_n, seed=2))} for m in ms]
    rows_n = [{"m": base_m, "n": n, "step_s": single_step(*make_data(base_m, n, seed=3))} for n in ns]
    return {"by_m": rows_m, "by_n": rows_n}


def slope(xs, ts) -> float:
    """Least-squares slope of log(t) on log(x): 1.0 means time grows linearly."""
    return float(np.polyfit(np.log(xs), np.log(ts), 1)[0])


def plot(gd: dict, scale: dict, path) -> str | None:
    """Log-log PNG of step time against m, n and K; None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    panels = [
        ("m (samples)", [r["m"] for r in scale["by_m"]], [r["step_s"] for r in scale["by_m"]]),
        ("n (features)", [r["n"] for r in scale["by_n"]], [r["step_s"] for r in scale["by_n"]]),
        ("K (models in one sweep)", [r["K"] for r in gd["sweeps"]], [r["step_s"] for r in gd["sweeps"]]),
    ]
    for ax, (label, xs, ts) in zip(axes, panels):
        ax.loglog(xs, ts, "o-", label=f"slope {slope(xs, ts):.2f}")
        ax.loglog(xs, [ts[0] * x / xs[0] for x in xs], ":", color="gray", label="linear")
        ax.set_xlabel(label)
        ax.set_xticks(xs, [f"{x:g}" for x in xs])  # the measured sizes, not overlapping minor labels
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_ylabel("seconds per GD step")
        ax.legend()
    fig.suptitle("jaxlr full-batch gradient descent, float32")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
