"""Beyond grids (issue 16): what successive halving saves, and the hypergradient check.

Halving: breast cancer (standardized), a 27-value ``l2`` grid (1e-6 .. 1, log-spaced) x 3 folds,
the full grid against ``halving=3`` in the same run, counted with the sweep's own counters
(``n_iter`` summed over models: model-iterations; ``config["lane_steps"]``: model-steps the loop
computed, padding and stopped-but-batched lanes included) and timed warm (a first call of each
compiles; its time is reported apart). The setting each picks is the one with the lowest mean
held-out loss over folds (the full grid: over all settings; halving: over its finalists).

Hypergradient: ``d validation_loss / d l2`` through ``jaxlr.solve`` (implicit differentiation)
against central differences of the forward solve (step ``1e-4 l2``), float64, on a fixed
400/169 split of the same data; ``jax.vmap`` of it over the ``l2`` values against a loop.

Tuning: L-BFGS (optax) on ``log l2`` against that validation loss, from ``l2 = 1``, against the
best of the 27-value grid on the same split.

    python -m bench.beyond [--quick]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time

import numpy as np

CONFIGS = (  # (solver, tol, rung_steps): the default schedule, then hand-set first rungs
    ("lbfgs", 1e-4, None), ("lbfgs", 1e-6, None), ("lbfgs", 1e-4, 12), ("newton", 1e-4, None), ("newton", 1e-4, 3),
)


def data():
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y.astype(float)


def split(n: int):
    idx = np.random.default_rng(0).permutation(n)
    return idx[:400], idx[400:]


def _best_index(result, grid_l2, finalists_only: bool) -> int:
    by_setting = collections.defaultdict(list)
    for row in result.rows():
        if not finalists_only or row["status"] != "pruned":
            by_setting[row["l2"]].append(row["validation_loss"])
    means = {k: np.mean(v) for k, v in by_setting.items()}
    return int(np.argmin(np.abs(np.asarray(grid_l2) - min(means, key=means.get))))


def halving(tiny: bool = False) -> list[dict]:
    import jax

    import jaxlr

    X, y = data()
    l2 = list(np.geomspace(1e-6, 1.0, 9 if tiny else 27))
    rows = []
    with jax.enable_x64(True):
        for solver, tol, rung_steps in CONFIGS[:1] if tiny else CONFIGS:
            options = dict(l2=l2, folds=3, solver=solver, tol=tol)
            out = {"solver": solver, "tol": tol, "rung_steps": rung_steps, "n_settings": len(l2), "folds": 3}
            for name, extra in (("full", {}), ("halving", dict(halving=3, rung_steps=rung_steps))):
                first = None
                if not tiny:
                    start = time.perf_counter()
                    jaxlr.sweep(X, y, **options, **extra)  # compiles what it needs
                    first = time.perf_counter() - start
                start = time.perf_counter()
                result = jaxlr.sweep(X, y, **options, **extra)
                seconds = time.perf_counter() - start
                out[name] = {"n_iter": int(np.sum(result.n_iter)), "lane_steps": result.config["lane_steps"],
                             "seconds": seconds, "first_call_s": first,
                             "picked": _best_index(result, l2, finalists_only=name == "halving")}
                if name == "halving":
                    out["rungs"] = list(result.config["rungs"])
            out["n_iter_ratio"] = out["halving"]["n_iter"] / out["full"]["n_iter"]
            out["lane_steps_ratio"] = out["halving"]["lane_steps"] / out["full"]["lane_steps"]
            out["steps_from_best"] = abs(out["halving"]["picked"] - out["full"]["picked"])
            out["met"] = out["n_iter_ratio"] <= 0.5 and out["steps_from_best"] <= 1
            rows.append(out)
    return rows


def hypergradient(tiny: bool = False) -> dict:
    import jax
    import jax.numpy as jnp

    import jaxlr

    X, y = data()
    train, val = split(len(y))
    l2s = [1e-2] if tiny else [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    with jax.enable_x64(True):
        Xt, yt, Xv, yv = X[train], y[train], jnp.asarray(X[val]), jnp.asarray(y[val])

        def validation_loss(l2):
            p = jaxlr.solve(Xt, yt, l2=l2)
            return jaxlr.binary_cross_entropy(Xv @ p.coef + p.intercept, yv)

        grad = jax.jit(jax.grad(validation_loss))
        start = time.perf_counter()
        jax.block_until_ready(grad(l2s[0]))
        first = time.perf_counter() - start
        checks = []
        for l2 in l2s:
            exact = float(grad(l2))
            h = 1e-4 * l2
            numeric = (float(validation_loss(l2 + h)) - float(validation_loss(l2 - h))) / (2 * h)
            checks.append({"l2": l2, "hypergradient": exact, "central_difference": numeric,
                           "relative_error": abs(exact - numeric) / abs(numeric)})
        batched = jax.jit(jax.vmap(grad))
        values = np.asarray(batched(jnp.asarray(l2s)))
        vmap_gap = float(np.max(np.abs(values - [c["hypergradient"] for c in checks])))
        seconds = _best_of(lambda: grad(l2s[0]))
        forward = jax.jit(validation_loss)
        forward_seconds = _best_of(lambda: forward(l2s[0]))
    worst = max(c["relative_error"] for c in checks)
    return {"checks": checks, "max_relative_error": worst, "vmap_max_abs_gap": vmap_gap, "first_call_s": first,
            "hypergradient_s": seconds, "forward_s": forward_seconds, "met": worst <= 1e-4 and vmap_gap <= 1e-10}


def _best_of(fn, repeat: int = 5) -> float:
    import jax

    jax.block_until_ready(fn())
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - start)
    return best


def tuning(tiny: bool = False) -> dict | None:
    """The README example: L-BFGS (optax) on ``log l2`` against the validation loss, vs the grid's
    best on the same split (``folds=[(train, val)]``)."""
    if tiny:
        return None
    import jax
    import jax.numpy as jnp
    import optax

    import jaxlr

    X, y = data()
    train, val = split(len(y))
    grid_l2 = np.geomspace(1e-6, 1.0, 27)
    with jax.enable_x64(True):
        grid = jaxlr.sweep(X, y, l2=grid_l2, folds=[(train, val)], solver="lbfgs", tol=1e-8)
        k = int(np.argmin(grid.validation_loss))
        Xt, yt, Xv, yv = X[train], y[train], jnp.asarray(X[val]), jnp.asarray(y[val])

        def validation_loss(log_l2):
            p = jaxlr.solve(Xt, yt, l2=jnp.exp(log_l2))
            return jaxlr.binary_cross_entropy(Xv @ p.coef + p.intercept, yv)

        opt = optax.lbfgs()
        value_and_grad = optax.value_and_grad_from_state(validation_loss)

        @jax.jit
        def step(log_l2, state):
            value, grad = value_and_grad(log_l2, state=state)
            updates, state = opt.update(grad, state, log_l2, value=value, grad=grad, value_fn=validation_loss)
            return optax.apply_updates(log_l2, updates), state

        log_l2 = jnp.zeros(())  # l2 = 1
        state = opt.init(log_l2)
        start = time.perf_counter()
        for _ in range(10):
            log_l2, state = step(log_l2, state)
        seconds = time.perf_counter() - start
        final, final_grad = jax.value_and_grad(validation_loss)(log_l2)
    return {"grid_best_l2": float(grid_l2[k]), "grid_best_loss": float(grid.validation_loss[k]),
            "tuned_l2": float(jnp.exp(log_l2)), "tuned_loss": float(final), "final_grad": float(final_grad),
            "steps": 10, "seconds": seconds}


def measure(quick: bool = False, tiny: bool = False) -> dict:
    return {"halving": halving(tiny), "hypergradient": hypergradient(tiny), "tuning": tuning(tiny)}


def markdown(res: dict) -> str:
    lines = ["| successive halving, breast cancer, l2 grid x 3 folds, warm | full grid | halving=3 | "
             "halving / full (target <= 0.5) | picked (grid index; target within 1 of full) |",
             "|---|---|---|---|---|"]
    for r in res["halving"]:
        f, h = r["full"], r["halving"]
        schedule = "default rungs" if r["rung_steps"] is None else f"rung_steps={r['rung_steps']}"
        lines.append(
            f"| {r['n_settings']} settings, {r['solver']}, tol {r['tol']:g}, {schedule} {tuple(r['rungs'])} | "
            f"{f['n_iter']} model-iterations, {f['lane_steps']} lane-steps, {f['seconds']:.2f} s | "
            f"{h['n_iter']} model-iterations, {h['lane_steps']} lane-steps, {h['seconds']:.2f} s | "
            f"{r['n_iter_ratio']:.2f} iterations, {r['lane_steps_ratio']:.2f} lane-steps "
            f"{'met' if r['n_iter_ratio'] <= 0.5 else 'not met'} | {h['picked']} vs {f['picked']} "
            f"{'met' if r['steps_from_best'] <= 1 else 'not met'} |")
    g = res["hypergradient"]
    lines += ["", "| hypergradient d val_loss / d l2 (float64) | value |", "|---|---|"]
    for c in g["checks"]:
        lines.append(f"| l2 = {c['l2']:g}: implicit vs central difference | {c['hypergradient']:.10g} vs "
                     f"{c['central_difference']:.10g}, relative error {c['relative_error']:.1e} |")
    lines.append(f"| max relative error (target <= 1e-4) | {g['max_relative_error']:.1e} "
                 f"{'met' if g['max_relative_error'] <= 1e-4 else 'not met'} |")
    lines.append(f"| vmap over l2 vs loop, max abs gap | {g['vmap_max_abs_gap']:.1e} |")
    lines.append(f"| one hypergradient, warm / one forward solve + loss, warm | {g['hypergradient_s'] * 1e3:.2f} ms / "
                 f"{g['forward_s'] * 1e3:.2f} ms (first call, compiling: {g['first_call_s']:.2f} s) |")
    t = res["tuning"]
    if t is not None:
        lines.append(f"| L-BFGS on log l2, {t['steps']} steps from l2 = 1 ({t['seconds']:.2f} s, compiling included), "
                     f"vs the 27-value grid's best | l2 = {t['tuned_l2']:.4g}, val loss {t['tuned_loss']:.6f} "
                     f"(d/d log l2 = {t['final_grad']:.1e}) vs l2 = {t['grid_best_l2']:.4g}, {t['grid_best_loss']:.6f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.beyond", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)
    res = measure(args.quick, args.tiny)
    print(markdown(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
