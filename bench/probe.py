"""The linear probe (issue 22): CLIP's protocol on frozen-embedding-like features, jaxlr against
scikit-learn's loop in the same run.

Radford et al. (2021, appendix A.3) fit ``LogisticRegression(lbfgs)`` on frozen features for every
C of a log grid (96 values over 1e-6..1e6) and keep the best on a validation split. Here: dense
float32 features shaped like embeddings (class centres plus noise, rows L2-normalised), a log grid
of C values, a validation split; jaxlr's ``linear_probe`` (the whole grid as lanes of one program,
every lane scored on the validation set by the held-out scorer) against a loop of
``sklearn.linear_model.LogisticRegression(C=c, max_iter=1000)`` (lbfgs, tol 1e-4, as CLIP) scored
by ``.score``, in its own process. Reported: times (jaxlr warm, and its first call with the XLA
compile seconds apart), the speed-up, each side's best C and validation accuracy, and whether they
agree (same C, accuracy within 0.5 points).

    python -m bench.probe [--size tiny|quick|full|accelerator] [--out FILE.json]

``accelerator`` is cyanure_gpu's ImageNet shape (1.28M x 2048, 1000 classes, 50,000 validation
rows): jaxlr only (scikit-learn's loop would take days; CLIP's authors report about 8 days for an
ImageNet probe on one CPU), trimmed by ``max_time``; ``bench/accelerator.py`` runs it on a GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np

from .common import best_over_blas_threads, run_fresh, write_results

# rows, validation rows, features, classes, number of C values (log-spaced over 1e-6..1e6)
SIZES = {
    "tiny": dict(m=600, m_val=300, d=32, classes=5, n_C=6),
    "quick": dict(m=12_000, m_val=3_000, d=128, classes=20, n_C=24),
    "full": dict(m=12_000, m_val=3_000, d=512, classes=20, n_C=24),
    "accelerator": dict(m=1_281_167, m_val=50_000, d=2048, classes=1000, n_C=24),
}
MAX_ITER = 1000  # scikit-learn's max_iter in CLIP's probe; jaxlr's steps
SEPARATION = 3.0  # class centres' norm against unit noise per dimension
AGREE_POINTS = 0.5  # best validation accuracies agree when within this many percentage points


def Cs(n_C: int) -> np.ndarray:
    return np.logspace(-6, 6, n_C)


def make_data(m: int, m_val: int, d: int, classes: int, seed: int = 0, dtype=np.float32, **_):
    """Embedding-like features: random unit class centres times ``SEPARATION`` plus standard
    normal noise (validation accuracy ~80% at the quick size, the best C inside the grid, as on
    real probes), every row L2-normalised (as CLIP's features are
    used); generated in float32 blocks (the accelerator size is 10 GB). Returns
    ``X, y, X_val, y_val``; the same arguments give the same arrays in any process."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, d)).astype(dtype)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    scale = dtype(SEPARATION)
    total = m + m_val
    y = rng.integers(0, classes, total)
    X = np.empty((total, d), dtype)
    block = max(1, 2**24 // d)
    for lo in range(0, total, block):
        hi = min(total, lo + block)
        part = rng.standard_normal((hi - lo, d), dtype=dtype)
        part += scale * centres[y[lo:hi]]
        part /= np.linalg.norm(part, axis=1, keepdims=True)
        X[lo:hi] = part
    return X[:m], y[:m], X[m:], y[m:]


def sklearn_side(spec: dict, repeat: int = 1) -> dict:
    """scikit-learn's loop (CLIP's): one ``LogisticRegression`` per C, scored on the validation set;
    at the faster of one and the default number of BLAS threads."""
    from sklearn.linear_model import LogisticRegression

    warnings.simplefilter("ignore")
    X, y, Xv, yv = make_data(**spec)

    def loop():
        acc, n_iter = [], []
        for C in Cs(spec["n_C"]):
            model = LogisticRegression(C=C, max_iter=MAX_ITER).fit(X, y)
            acc.append(float(model.score(Xv, yv)))
            n_iter.append(int(np.max(model.n_iter_)))
        return acc, n_iter

    best_s, (acc, n_iter), threads = best_over_blas_threads(loop, repeat)
    k = int(np.argmax(acc))
    return {"seconds": best_s, "accuracy": acc, "n_iter": n_iter, "best_index": k,
            "best_C": float(Cs(spec["n_C"])[k]), "best_accuracy": acc[k], **threads}


class _CompileClock:
    """XLA compile seconds seen by ``jax.monitoring`` since ``start()`` (registered on first use;
    the bench is a shell, its listener never leaves the process)."""

    seconds = 0.0
    _registered = False

    @classmethod
    def start(cls):
        import jax

        if not cls._registered:
            def on_duration(event, duration, **_):
                if event == "/jax/core/compile/backend_compile_duration":
                    cls.seconds += duration

            jax.monitoring.register_event_duration_secs_listener(on_duration)
            cls._registered = True
        cls.seconds = 0.0


def jaxlr_side(spec: dict, repeat: int = 1, loop: bool = False, **options) -> dict:
    """``jaxlr.linear_probe`` on the same data: first call (compiles; XLA compile seconds apart),
    then ``repeat`` warm calls (best); ``loop``: also a loop of ``jaxlr.fit``, one per C, as a
    researcher without a sweep would write it (warm). ``options`` go to ``linear_probe``
    (``max_time``, ``memory_budget`` on an accelerator)."""
    import jaxlr

    warnings.simplefilter("ignore")
    X, y, Xv, yv = make_data(**spec)
    grid = Cs(spec["n_C"])
    _CompileClock.start()
    start = time.perf_counter()
    result = jaxlr.linear_probe(X, y, Xv, yv, C=grid, steps=MAX_ITER, **options)
    first = time.perf_counter() - start
    compile_s = _CompileClock.seconds
    warm = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = jaxlr.linear_probe(X, y, Xv, yv, C=grid, steps=MAX_ITER, **options)
        warm = min(warm, time.perf_counter() - start)
    n_iter = np.asarray(result.n_iter)
    out = {"first_call_s": first, "compile_s": compile_s, "seconds": warm if repeat else first,
           "accuracy": np.asarray(result.validation_accuracy).tolist(), "n_iter": n_iter.tolist(),
           "status": list(result.status_name), "best_index": result.best_index,
           "best_C": float(result.best_params["C"]), "best_accuracy": float(result.validation_accuracy[result.best_index]),
           "solver": result.config["solver"], "lane_steps": int(result.config["lane_steps"]),
           "model_iterations": int(n_iter.sum())}
    if loop:
        for C in grid[:1]:  # compile the loop's program first: the loop is timed warm
            jaxlr.fit(X, y, l2=1.0 / (C * len(y)), steps=MAX_ITER)
        start = time.perf_counter()
        for C in grid:
            jaxlr.fit(X, y, l2=1.0 / (C * len(y)), steps=MAX_ITER)
        out["fit_loop_s"] = time.perf_counter() - start
    return out


def measure(size: str = "quick", sklearn: bool = True, repeat: int | None = None, **options) -> dict:
    """The probe at ``size`` (``SIZES``): jaxlr here, scikit-learn's loop in its own process."""
    spec = dict(SIZES[size])
    repeat = (2 if size == "tiny" else 1) if repeat is None else repeat
    small = size in ("tiny", "quick", "full")
    jx = jaxlr_side(spec, repeat=repeat, loop=small and size != "tiny", **options)
    out = {"size": size, "spec": spec, "C": Cs(spec["n_C"]).tolist(), "max_iter": MAX_ITER, "jaxlr": jx,
           "dtype": "float32"}
    if sklearn:
        sk = run_fresh("import json; from bench.probe import sklearn_side; "
                       f"print(json.dumps(sklearn_side({spec!r})))", timeout=3600)
        gap = 100.0 * abs(jx["best_accuracy"] - sk["best_accuracy"])
        per_C = 100.0 * np.max(np.abs(np.asarray(jx["accuracy"]) - np.asarray(sk["accuracy"])))
        out.update(sklearn=sk, max_accuracy_gap_points=float(per_C), speedup=sk["seconds"] / jx["seconds"], speedup_first_call=sk["seconds"] / jx["first_call_s"],
                   same_C=jx["best_index"] == sk["best_index"], accuracy_gap_points=gap,
                   agree=bool(gap <= AGREE_POINTS))
    return out


def markdown(res: dict) -> str:
    s, jx = res["spec"], res["jaxlr"]
    what = (f"{s['m']:,} x {s['d']} float32 (+{s['m_val']:,} validation rows), {s['classes']} classes, "
            f"{s['n_C']} C values 1e-6..1e6, max_iter {res['max_iter']}")
    lines = [f"Linear probe ({res['size']}): {what}", "",
             "| | scikit-learn loop (lbfgs) | jaxlr `linear_probe` | speed-up (target >= 10x warm, >= 3x first call) |",
             "|---|---|---|---|"]
    sk = res.get("sklearn")
    if sk:
        lines.append(f"| time, warm (scikit-learn: best of 1 / default BLAS threads, {sk['one_thread_s']:.2f} / "
                     f"{sk['default_threads_s']:.2f} s) | {sk['seconds']:.2f} s | {jx['seconds']:.2f} s ({jx['solver']}) | "
                     f"{res['speedup']:.2f}x {'met' if res['speedup'] >= 10 else 'not met'} |")
        lines.append(f"| time, first call (XLA compile {jx['compile_s']:.2f} s of it) | | {jx['first_call_s']:.2f} s | "
                     f"{res['speedup_first_call']:.2f}x {'met' if res['speedup_first_call'] >= 3 else 'not met'} |")
        lines.append(f"| best C / validation accuracy | {sk['best_C']:.3g} / {100 * sk['best_accuracy']:.2f}% | "
                     f"{jx['best_C']:.3g} / {100 * jx['best_accuracy']:.2f}% | same C: {'yes' if res['same_C'] else 'no'}; "
                     f"accuracy within {AGREE_POINTS} points: {'yes' if res['agree'] else 'no'} "
                     f"({res['accuracy_gap_points']:.2f}) |")
        lines.append(f"| validation accuracy, largest difference over the {s['n_C']} C values | | | "
                     f"{res['max_accuracy_gap_points']:.2f} points |")
        lines.append(f"| iterations per C (min-max) | {min(sk['n_iter'])}-{max(sk['n_iter'])} | "
                     f"{min(jx['n_iter'])}-{max(jx['n_iter'])} | |")
    else:
        lines.append(f"| time | not run | {jx['seconds']:.2f} s ({jx['solver']}; first call {jx['first_call_s']:.2f} s, "
                     f"compile {jx['compile_s']:.2f} s) | |")
        lines.append(f"| best C / validation accuracy | | {jx['best_C']:.3g} / {100 * jx['best_accuracy']:.2f}% | |")
    if "fit_loop_s" in jx:
        lines.append(f"| jaxlr's own loop of {s['n_C']} `fit` calls, warm | | {jx['fit_loop_s']:.2f} s | "
                     f"sweep {jx['fit_loop_s'] / jx['seconds']:.2f}x faster than the loop |")
    lines.append(f"| model-iterations / lane-steps computed | | {jx['model_iterations']} / {jx['lane_steps']} | "
                 f"lane efficiency {jx['model_iterations'] / max(jx['lane_steps'], 1):.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.probe", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), default="quick")
    parser.add_argument("--no-sklearn", action="store_true", help="jaxlr only (always so at the accelerator size)")
    parser.add_argument("--max-time", type=float, default=None, help="jaxlr's max_time (seconds of training)")
    parser.add_argument("--out", help="write the results as JSON here (and the table next to it as .md)")
    args = parser.parse_args(argv)
    options = {} if args.max_time is None else {"max_time": args.max_time}
    res = measure(args.size, sklearn=not args.no_sklearn and args.size != "accelerator", **options)
    table = markdown(res)
    print(table)
    if args.out:
        write_results(args.out, res, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
