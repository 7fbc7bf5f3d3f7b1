"""Gradient descent against the hardware: one model vs the bandwidth bound, K models vs matmul.

A full-batch GD step reads X twice (``X @ w`` forward, ``X^T r`` backward), so its floor is
``2 * X.nbytes / bandwidth``. K models in one sweep turn both products into matmuls,
``4 m n K`` flops per step, so their ceiling is the matmul FLOP rate.
Timings difference two step budgets of the same compiled program, so validation,
transfer and the loop's fixed costs cancel.
"""

from __future__ import annotations

import time

import numpy as np

from jaxlr._core import programs as _programs
from jaxlr._core.engine import Lanes, Static
from jaxlr._core.problem import Hyper
from jaxlr._core.solvers import SOLVERS
from jaxlr._train import chunks, layout

from .common import block, make_data, per_step


def gd_program(X, y, k: int):
    """``run(steps)``: the compiled training program of a K-model GD sweep (K learning rates,
    one chunk, fixed budget) on X, called with everything prepared, so validation, padding and
    transfers do not count. The budget is traced: every call reuses one program."""
    gd = SOLVERS["gd"]
    prepared = layout.prepare(X, y, np.ones((1, X.shape[0]), X.dtype), transpose=layout.use_transpose(gd, None, None))
    lanes = Lanes(Hyper(np.geomspace(0.05, 1.0, k).astype(X.dtype) if k > 1 else np.full(1, 0.5, X.dtype),
                        *(np.zeros(k, X.dtype) for _ in range(3))), np.zeros(k, np.uint32), np.zeros(k, np.int32))
    static = Static(gd, None, 1)
    theta0 = np.zeros((prepared.design.shape[1] + 1, k), X.dtype)
    args = (prepared.design, prepared.y, prepared.W, lanes, theta0)
    program = _programs.PROGRAMS[_programs.program_kind(*prepared.design.shape, k, 1)]

    def run(steps):
        control = chunks.control(prepared, steps, steps, True, to_tolerance=False)
        state = chunks.CACHE.state_template(*args, control, static)
        return program(state, *args, control, static)[1].objective

    return run


def _delta(est_step: float, seconds: float = 0.5) -> int:
    return int(np.clip(round(seconds / max(est_step, 1e-6)), 3, 400))


def _per_step(run, repeat: int = 3) -> float:
    """Seconds per step: the difference of two budgets of the same program (fixed costs cancel),
    sized from a probe so that the longer run takes ~0.5 s."""
    block(run(2))  # compiles
    probe = 4
    start = time.perf_counter()
    block(run(probe))
    d = _delta((time.perf_counter() - start) / probe)
    return per_step(run, 2, 2 + d, repeat)


def single_step(X, y) -> float:
    """Seconds per full-batch GD step of one model (the compiled loop ``fit`` runs)."""
    return _per_step(gd_program(X, y, 1))


def sweep_step(X, y, k: int) -> float:
    """Seconds per GD step of a K-model sweep (K learning rates, one chunk)."""
    return _per_step(gd_program(X, y, k), repeat=2)


def fixed_cost(tiny: bool = False) -> list[dict]:
    """A warm ``jaxlr.fit(X, y, steps=0)``: everything a call costs besides its steps (checks,
    padding, moving X to the device, the program's call, building the result), median of 5."""
    import statistics
    import time
    import warnings

    import jaxlr

    warnings.filterwarnings("ignore", category=jaxlr.ConvergenceWarning)  # steps=0 stops at its budget
    rows = []
    for m, n in ((100, 4), (2_000, 16) if tiny else (100_000, 100)):
        X, y = make_data(m, n, seed=4)
        jaxlr.fit(X, y, steps=0, solver="gd")  # compiles
        times = []
        for _ in range(5):
            start = time.perf_counter()
            jaxlr.fit(X, y, steps=0, solver="gd")
            times.append(time.perf_counter() - start)
        rows.append({"m": m, "n": n, "seconds": statistics.median(times)})
    return rows


def measure(limits: dict, quick: bool, ks=(1, 4, 16, 64, 256), tiny: bool = False) -> dict:
    """Single-model step vs two reads of X; K-model sweeps vs the matmul rate."""
    m, n = (2_000, 16) if tiny else (50_000, 128) if quick else (200_000, 256)
    X, y = make_data(m, n, seed=1)
    t1 = single_step(X, y)
    bound = 2 * X.nbytes / limits["read_bw_Bps"]
    out = {"m": m, "n": n, "dtype": str(X.dtype), "single_step_s": t1, "two_reads_s": bound,
           "single_vs_bandwidth": bound / t1, "single_vs_one_read": bound / 2 / t1, "sweeps": [],
           "fixed_cost": fixed_cost(tiny)}
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
