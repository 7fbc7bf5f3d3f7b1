"""``python -m bench [--quick] [--out FILE.json]``: one run, every ratio measured in it."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from . import beyond, cv, first_answer, gd, lbfgs, machine, peers, probe, report, resampling, sparse
from .common import peak_rss_bytes, run_fresh, write_results


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and getattr(x, "ndim", 1) == 0:
        return x.item()
    return x


def run(quick: bool, png: str | None, tiny: bool = False, probe_size: str | None = None) -> dict:
    """Everything, in one process (competitors in their own): limits at start and end. jaxlr's
    store of compiled programs is a new, empty directory for the run (this process and the ones
    it starts), so a "first call" compiles as a new user's does, whatever earlier runs kept."""
    import jaxlr
    from jaxlr._api.cache import CACHE_ENV, default_program_dir

    try:
        with tempfile.TemporaryDirectory() as store, mock.patch.dict(os.environ, {CACHE_ENV: store}):
            jaxlr.set_program_cache(default_program_dir())  # what a user with this $JAXLR_CACHE_DIR gets
            return _run(quick, png, tiny, probe_size)
    finally:
        jaxlr.set_program_cache(default_program_dir())  # the user's own again


def _run(quick: bool, png: str | None, tiny: bool, probe_size: str | None) -> dict:
    start = time.perf_counter()
    res = {"quick": quick, "machine": machine.describe(), "limits_start": machine.limits(quick, tiny)}
    ks = (1, 4) if tiny else (1, 4, 16, 64, 256)
    res["gd"] = gd.measure(res["limits_start"], quick, ks=ks, tiny=tiny)
    with tempfile.TemporaryDirectory() as tmp:
        res["peers"] = peers.measure(quick, Path(tmp), tiny=tiny)
    with tempfile.TemporaryDirectory() as tmp:
        res["sparse"] = sparse.measure(quick, Path(tmp), tiny=tiny)
    sc = gd.scaling(quick, tiny=tiny)
    sc["slope_m"] = gd.slope([r["m"] for r in sc["by_m"]], [r["step_s"] for r in sc["by_m"]])
    sc["slope_n"] = gd.slope([r["n"] for r in sc["by_n"]], [r["step_s"] for r in sc["by_n"]])
    sc["slope_K"] = gd.slope([s["K"] for s in res["gd"]["sweeps"]], [s["step_s"] for s in res["gd"]["sweeps"]])
    sc["png"] = gd.plot(res["gd"], sc, png) if png else None
    res["scaling"] = sc
    res["cv"] = cv.measure(quick, tiny)
    # counted iterations in float64: a process of its own (x64 on)
    res["lbfgs"] = run_fresh(f"import json; from bench.lbfgs import measure; print(json.dumps(measure({quick}, {tiny})))",
                             timeout=1800, env_extra={"JAXLR_CACHE_DIR": ""})
    probe_size = probe_size or ("tiny" if tiny else "quick" if quick else "full")
    res["probe"] = probe.measure(probe_size, sklearn=probe_size != "accelerator")
    res["beyond"] = beyond.measure(quick, tiny)
    res["resampling"] = resampling.measure(quick, tiny)
    res["first_answer"] = first_answer.measure(1 if tiny else 3, first_answer.CASES[:1] if tiny else None,
                                               cli=not tiny)
    res["limits_end"] = machine.limits(quick, tiny)
    res["drift"] = machine.drift(res["limits_start"], res["limits_end"])
    res["memory"] = {"bench_peak_rss_bytes": peak_rss_bytes()}
    res["total_s"] = time.perf_counter() - start
    return _jsonable(res)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller shapes: a few minutes on a 2-core CPU")
    parser.add_argument("--out", help="write the results as JSON here (and the table next to it as .md)")
    parser.add_argument("--png", help="log-log plot of step time vs m, n, K (default: next to --out)")
    parser.add_argument("--probe-size", choices=list(probe.SIZES), default=None,
                        help="the linear probe's size (default: quick with --quick, else full; accelerator: "
                             "1.28M x 2048, 1000 classes, jaxlr only)")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # smoke test shapes
    args = parser.parse_args(argv)
    png = args.png or (str(Path(args.out).with_suffix(".png")) if args.out else None)
    res = run(args.quick or args.tiny, png, tiny=args.tiny, probe_size=args.probe_size)
    table = report.markdown(res)
    print(table)
    if args.out:
        write_results(args.out, res, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
