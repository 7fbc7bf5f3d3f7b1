"""Peak memory of a large, memory-bounded sweep, measured in a fresh process.

    python -m bench.memory                      # 2048 GD models on 200,000 x 32 float32
    python -m bench.memory --models 256 --rows 20000 --steps 20

Reports the peak resident set size (``ru_maxrss``) of this process, the RSS before the
sweep (interpreter + JAX + the data), the sizes of X and of one chunk, the chunk size
chosen from the memory budget, steps and wall time. Run it alone: ``ru_maxrss`` is the
high-water mark of the whole process, so anything else run first would count.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np


def peak_rss_bytes() -> int:
    """High-water resident set size of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def current_rss_bytes() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:  # psutil is optional (the ``cli`` extra)
        return peak_rss_bytes()


def grid_for(n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """learning rates x l2 values whose product has ``n_models`` entries (32 rates at most)."""
    n_lr = 1
    for d in range(min(32, n_models), 0, -1):
        if n_models % d == 0:
            n_lr = d
            break
    lrs = np.geomspace(1e-3, 1.0, n_lr)
    l2s = np.geomspace(1e-6, 1e-1, n_models // n_lr)
    return lrs, l2s


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=2048)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--memory-budget", type=int, default=None, help="bytes (default: jaxlr's)")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)

    import jax

    import jaxlr
    from jaxlr._train.options import DEFAULT_MEMORY_BUDGET

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.rows, args.features), dtype=np.float32)
    w = rng.standard_normal(args.features).astype(np.float32)
    y = (X @ w + rng.standard_normal(args.rows, dtype=np.float32) > 0).astype(np.float32)
    lrs, l2s = grid_for(args.models)
    budget = DEFAULT_MEMORY_BUDGET if args.memory_budget is None else args.memory_budget
    rss_before = current_rss_bytes()

    t0 = time.perf_counter()
    result = jaxlr.sweep(X, y, solver="gd", learning_rate=lrs, l2=l2s, steps=args.steps, tol=None,
                         memory_budget=budget, chunk_size=args.chunk_size)
    jax.block_until_ready(result.coef)
    wall = time.perf_counter() - t0

    peak = peak_rss_bytes()
    chunk = int(result.config["chunk_size"])
    report = dict(
        models=len(result), rows=args.rows, features=args.features, steps=args.steps,
        dtype=str(X.dtype), memory_budget=budget, chunk_size=chunk,
        x_bytes=int(X.nbytes), dense_logits_bytes=int(args.rows * len(result) * X.itemsize),
        chunk_logits_bytes=int(args.rows * chunk * X.itemsize),
        rss_before_sweep=rss_before, peak_rss=peak, wall_s=round(wall, 2),
        finite=bool(np.isfinite(np.asarray(result.objective)).all()),
    )
    if args.json:
        print(json.dumps(report))
        return 0
    mb = 2.0**20
    print(f"sweep of {report['models']} GD models, {args.steps} steps, on {args.rows} x {args.features} {X.dtype}")
    print(f"  chunk size          {chunk} models (memory_budget {budget / mb:.0f} MiB)")
    print(f"  X                   {report['x_bytes'] / mb:8.1f} MiB")
    print(f"  one chunk's logits  {report['chunk_logits_bytes'] / mb:8.1f} MiB"
          f"   (all {report['models']} at once: {report['dense_logits_bytes'] / mb:.0f} MiB)")
    print(f"  RSS before sweep    {rss_before / mb:8.1f} MiB")
    print(f"  peak RSS            {peak / mb:8.1f} MiB   (target < 1536 MiB)")
    print(f"  wall time           {wall:8.2f} s   (incl. compile)")
    print(f"  all objectives finite: {report['finite']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
