"""The bench on an accelerator (issue 22, item 5): within about 10 minutes on one GPU (sized for an
H200), installing nothing, measure the device's own limits and report jaxlr's figures against them.

    python -m bench.accelerator --out DIR            # on the GPU machine: DIR/accelerator.json and .md
    python -m bench.accelerator --tiny --out DIR     # the same code paths on CPU in seconds (smoke test)

Sections, in order, each timed and kept even when a later one fails (the JSON and the table are
rewritten after every section, so a run cut short still leaves what it measured):

1. **limits**: dense float32 matmul rate (``jnp.dot``, square, default precision: what jaxlr's
   products get) and read bandwidth (``jnp.sum`` over a large float32 array), measured now.
2. **first answer**: a user's first ``jaxlr.fit`` (wine) in a fresh process, imports and device
   start included, with an empty and a warm compilation cache, against scikit-learn's fresh process.
3. **K-sweep**: one model's full-batch GD step against two reads of X (bandwidth), and a K=64 GD
   sweep's FLOP rate (``4 m n K`` a step) against the matmul rate, on a big dense X.
4. **probe**: ``jaxlr.linear_probe`` at cyanure_gpu's ImageNet features and classes (2048 float32
   features, 1000 classes, 50,000 validation rows), trimmed to fit the time and the memory:
   ``--probe-rows`` training rows (default 150,000 of ImageNet's 1.28M: the engine budgets 14
   logit-sized (rows x classes) arrays per L-BFGS lane, 67 GiB a lane at 1.28M rows, so only one
   lane a chunk would fit and the lanes would run one after another; at 150,000 rows the 8 lanes
   share one chunk of ``memory_budget`` 96 GiB), ``--probe-C`` values of C over 1e-6..1e6 and
   ``max_time`` seconds of training (models still running stop, status max_iter);
   its FLOP rate (at least ``4 m d classes`` per model-iteration: the forward and backward
   products) against the matmul rate. No scikit-learn loop at this size (days on a CPU).
5. **sparse**: one L-BFGS fit of a large random CSR (first call and compiled), its iteration time
   against reading the CSR's values and column indices twice at the measured bandwidth.

CI never depends on this script beyond its ``--tiny`` smoke test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

SIZES = {  # per section; "tiny" runs on a CPU in seconds
    "tiny": dict(matmul=256, bandwidth_bytes=16 * 2**20, gd_m=2_000, gd_n=16, gd_K=(1, 4),
                 probe="tiny", probe_C=4, probe_rows=None, probe_seconds=10.0, memory_budget=None,
                 sparse_m=2_000, sparse_n=500, sparse_per_row=5),
    "gpu": dict(matmul=8192, bandwidth_bytes=2 * 2**30, gd_m=1_000_000, gd_n=1024, gd_K=(1, 64),
                probe="accelerator", probe_C=8, probe_rows=150_000, probe_seconds=180.0,
                memory_budget=96 * 2**30,
                sparse_m=1_000_000, sparse_n=100_000, sparse_per_row=50),
}


def limits(size: dict) -> dict:
    import jax.numpy as jnp

    from .machine import matmul_flops, read_bandwidth

    return {"matmul_size": size["matmul"], "matmul_f32_flops": matmul_flops(size["matmul"], jnp.float32),
            "bandwidth_bytes": size["bandwidth_bytes"], "read_bw_Bps": read_bandwidth(size["bandwidth_bytes"])}


FIRST_JAXLR = """import jaxlr
jaxlr.enable_compilation_cache(CACHE)
r = jaxlr.fit(X, y, l2=1 / len(y))
r.coef.sum()"""
FIRST_SKLEARN = """from sklearn.linear_model import LogisticRegression
LogisticRegression(max_iter=1000).fit(X, y)"""


def first_answer(tiny: bool, tmp: Path) -> dict:
    """Fresh processes, imports included: jaxlr with an empty cache, and unless ``tiny`` with a
    warm one and scikit-learn's; one run each (the device's time is short)."""
    from .first_answer import _programs, _run, _script

    cold = _run(_script("wine", FIRST_JAXLR, str(tmp / "cold"), True))
    out = {"jaxlr_cold_s": cold["wall_s"], "compile_s": sum(p["compile"] for p in _programs(cold["events"]).values())}
    if not tiny:
        _run(_script("wine", FIRST_JAXLR, str(tmp / "warm"), False))  # fills the cache
        out["jaxlr_warm_s"] = _run(_script("wine", FIRST_JAXLR, str(tmp / "warm"), True))["wall_s"]
        out["sklearn_s"] = _run(_script("wine", FIRST_SKLEARN, None, False))["wall_s"]
    return out


def _rate(flops: float) -> str:
    return f"{flops / 1e12:.3g} TFLOP/s" if flops >= 1e12 else f"{flops / 1e9:.3g} GFLOP/s"


def k_sweep(size: dict, lim: dict) -> dict:
    from . import gd
    from .common import make_data

    m, n = size["gd_m"], size["gd_n"]
    X, y = make_data(m, n, seed=1)
    t1 = gd.single_step(X, y)
    bound = 2 * X.nbytes / lim["read_bw_Bps"]
    out = {"m": m, "n": n, "single_step_s": t1, "two_reads_s": bound, "single_vs_bandwidth": bound / t1, "sweeps": []}
    for k in size["gd_K"]:
        if k == 1:
            continue
        t = gd.sweep_step(X, y, k)
        out["sweeps"].append({"K": k, "step_s": t, "flops": 4.0 * m * n * k / t,
                              "vs_matmul": 4.0 * m * n * k / t / lim["matmul_f32_flops"]})
    return out


def probe(size: dict, lim: dict, seconds: float) -> dict:
    """The probe at the accelerator's shape, trimmed by ``max_time``; its FLOP rate counts the
    forward and backward products of every model-iteration (line-search trials not counted)."""
    from . import probe as _probe

    spec = {**_probe.SIZES[size["probe"]], "n_C": size["probe_C"]}
    if size["probe_rows"]:
        spec["m"] = size["probe_rows"]
    options = {"max_time": seconds}
    if size["memory_budget"]:
        options["memory_budget"] = size["memory_budget"]
    start = time.perf_counter()
    X, y, Xv, yv = _probe.make_data(**spec)
    data_s = time.perf_counter() - start
    _probe._CompileClock.start()
    import jaxlr

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = jaxlr.linear_probe(X, y, Xv, yv, C=_probe.Cs(spec["n_C"]), steps=_probe.MAX_ITER, **options)
    seconds_total = time.perf_counter() - start
    n_iter = np.asarray(result.n_iter)
    flops = 4.0 * spec["m"] * spec["d"] * (1 if spec["classes"] == 2 else spec["classes"]) * float(n_iter.sum())
    train_s = max(seconds_total - _probe._CompileClock.seconds, 1e-9)
    k = result.best_index
    return {"spec": spec, "max_time": seconds, "data_s": data_s, "seconds": seconds_total,
            "compile_s": _probe._CompileClock.seconds, "n_iter": n_iter.tolist(), "status": list(result.status_name),
            "chunk_size": int(result.config["chunk_size"]), "solver": result.config["solver"],
            "best_C": float(result.best_params["C"]), "best_accuracy": float(result.validation_accuracy[k]),
            "flops": flops / train_s, "vs_matmul": flops / train_s / lim["matmul_f32_flops"]}


def sparse_fit(size: dict, lim: dict) -> dict:
    import jaxlr

    from .sparse import planted_labels, random_csr

    X = random_csr(size["sparse_m"], size["sparse_n"], size["sparse_per_row"])
    y = planted_labels(X)
    l2 = 1.0 / X.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        jaxlr.fit(X, y, l2=l2, solver="lbfgs")
        first = time.perf_counter() - start
        start = time.perf_counter()
        r = jaxlr.fit(X, y, l2=l2, solver="lbfgs")
        warm = time.perf_counter() - start
    n_iter = max(int(r.n_iter), 1)
    bound = 2 * X.nnz * (X.data.itemsize + X.indices.itemsize) / lim["read_bw_Bps"]
    return {"m": X.shape[0], "n": X.shape[1], "nnz": int(X.nnz), "first_call_s": first, "seconds": warm,
            "n_iter": int(r.n_iter), "status": r.status_name, "iteration_s": warm / n_iter,
            "two_reads_s": bound, "vs_bandwidth": bound / (warm / n_iter)}


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"Device: {', '.join(m['devices'])} ({', '.join(m['device_kinds'])}); backend {m['backend']}; "
             f"host {m['cpu']}, {m['cpu_count']} cores; jax {m['versions']['jax']}; mode "
             f"{'--tiny (CPU smoke run)' if res['tiny'] else 'gpu'}; total {res.get('total_s', 0):.0f} s", "",
             "| measurement | value | device limit | fraction of the limit |", "|---|---|---|---|"]
    lim = res.get("limits")
    if lim:
        lines.append(f"| matmul float32, {lim['matmul_size']}^2 | {_rate(lim['matmul_f32_flops'])} | | |")
        lines.append(f"| read bandwidth, {lim['bandwidth_bytes'] / 2**20:.0f} MiB | {lim['read_bw_Bps'] / 1e9:.0f} GB/s | | |")
    fa = res.get("first_answer")
    if fa:
        more = (f", warm cache {fa['jaxlr_warm_s']:.2f} s; scikit-learn {fa['sklearn_s']:.2f} s"
                if "jaxlr_warm_s" in fa else "")
        lines.append(f"| first answer: `fit` on wine in a fresh process | jaxlr {fa['jaxlr_cold_s']:.2f} s empty cache "
                     f"(XLA compile {fa['compile_s']:.2f} s){more} | | |")
    ks = res.get("k_sweep")
    if ks:
        lines.append(f"| 1 model GD step, {ks['m']:,} x {ks['n']} float32 | {ks['single_step_s'] * 1e3:.2f} ms | "
                     f"two reads of X {ks['two_reads_s'] * 1e3:.2f} ms | {ks['single_vs_bandwidth']:.2f} |")
        for s in ks["sweeps"]:
            lines.append(f"| K={s['K']} GD sweep, {ks['m']:,} x {ks['n']} | {s['step_s'] * 1e3:.2f} ms/step, "
                         f"{_rate(s['flops'])} | matmul | {s['vs_matmul']:.2f} |")
    p = res.get("probe")
    if p:
        s = p["spec"]
        done = sum(st == "converged" for st in p["status"])
        lines.append(f"| linear probe {s['m']:,} x {s['d']}, {s['classes']} classes, {s['n_C']} C, max_time "
                     f"{p['max_time']:.0f} s ({p['solver']}, {p['chunk_size']} lanes a chunk) | {p['seconds']:.1f} s "
                     f"(compile {p['compile_s']:.1f} s, data {p['data_s']:.1f} s); {done}/{len(p['status'])} converged, "
                     f"iterations {min(p['n_iter'])}-{max(p['n_iter'])}; best C {p['best_C']:.3g}, validation "
                     f"accuracy {100 * p['best_accuracy']:.2f}% | matmul; {_rate(p['flops'])} in products "
                     f"| {p['vs_matmul']:.2f} |")
    sp = res.get("sparse")
    if sp:
        lines.append(f"| sparse lbfgs fit, {sp['m']:,} x {sp['n']:,}, {sp['nnz']:,} non-zeros | "
                     f"{sp['seconds']:.2f} s compiled ({sp['first_call_s']:.2f} s first call), {sp['n_iter']} "
                     f"iterations, {sp['status']}, {sp['iteration_s'] * 1e3:.1f} ms each | two reads of the CSR "
                     f"{sp['two_reads_s'] * 1e3:.2f} ms | {sp['vs_bandwidth']:.2f} |")
    for name, err in res.get("errors", {}).items():
        lines.append(f"| {name} | failed: {err.strip().splitlines()[-1][:200]} | | |")
    for name in res.get("skipped", []):
        lines.append(f"| {name} | skipped: out of time | | |")
    return "\n".join(lines)


def run(tiny: bool, out: Path | None, budget_s: float = 540.0, probe_seconds: float | None = None,
        probe_C: int | None = None, probe_rows: int | None = None) -> dict:
    """Every section within ``budget_s`` seconds (a section that cannot start in time is skipped);
    the results are written to ``out`` after each one."""
    import tempfile

    from . import machine

    start = time.perf_counter()
    size = dict(SIZES["tiny" if tiny else "gpu"])
    if probe_C:
        size["probe_C"] = probe_C
    if probe_rows:
        size["probe_rows"] = probe_rows
    res = {"tiny": tiny, "machine": machine.describe(), "errors": {}, "skipped": [], "seconds": {}}

    def save():
        res["total_s"] = time.perf_counter() - start
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "accelerator.json").write_text(json.dumps(res, indent=1, default=float))
            (out / "accelerator.md").write_text(markdown(res) + "\n")

    def section(name, fn, needs_s):
        left = budget_s - (time.perf_counter() - start)
        if left < needs_s:
            res["skipped"].append(name)
            return
        t0 = time.perf_counter()
        try:
            res[name] = fn()
        except Exception:  # noqa: BLE001 -- keep the other sections' figures
            res["errors"][name] = traceback.format_exc()
        res["seconds"][name] = time.perf_counter() - t0
        save()

    scale = 0.02 if tiny else 1.0  # the seconds each section needs to be worth starting
    section("limits", lambda: limits(size), 20 * scale)
    lim = res.get("limits") or {"matmul_f32_flops": float("nan"), "read_bw_Bps": float("nan")}
    with tempfile.TemporaryDirectory() as tmp:
        section("first_answer", lambda: first_answer(tiny, Path(tmp)), 40 * scale)
    section("k_sweep", lambda: k_sweep(size, lim), 60 * scale)
    seconds = probe_seconds if probe_seconds is not None else size["probe_seconds"]
    left = budget_s - (time.perf_counter() - start)
    seconds = max(1.0, min(seconds, left - (120 if not tiny else 0)))  # leave time for the sparse fit
    section("probe", lambda: probe(size, lim, seconds), 60 * scale)
    section("sparse", lambda: sparse_fit(size, lim), 45 * scale)
    save()
    return res


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.accelerator", description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="directory for accelerator.json and accelerator.md")
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run: every section on tiny shapes")
    parser.add_argument("--budget", type=float, default=540.0, help="seconds for the whole run (default 540)")
    parser.add_argument("--probe-seconds", type=float, default=None, help="the probe's max_time (default 180 s)")
    parser.add_argument("--probe-C", type=int, default=None, help="number of C values in the probe (default 8)")
    parser.add_argument("--probe-rows", type=int, default=None, help="the probe's training rows (default 150,000)")
    args = parser.parse_args(argv)
    res = run(args.tiny, Path(args.out) if args.out else None, args.budget, args.probe_seconds, args.probe_C,
              args.probe_rows)
    print(markdown(res))
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
