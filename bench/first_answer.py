"""First answer: a user's first call in a fresh process, imports included, jaxlr against scikit-learn.

Every figure is a whole fresh process (``python -c ...``), timed from outside, median of
``repeat`` runs; jaxlr with an empty persistent compilation cache (a new directory per run: "cold")
and with one that already holds the programs ("warm"), scikit-learn in its own processes in the
same run. Inside each jaxlr process, ``jax.monitoring`` events give, per compiled program, the
time spent tracing to a jaxpr, lowering to StableHLO and compiling with XLA (or loading from the
cache), and how many programs the call compiled.

    python -m bench.first_answer            # prints a table; --json FILE to keep the numbers
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO_ROOT

# A child measures the program events of everything after this header.
EVENTS = r"""
import json as _json, time as _time, sys as _sys
_t0 = _time.perf_counter()
_events = []
def _listen():
    import jax
    names = {"/jax/core/compile/jaxpr_trace_duration": "trace",
             "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
             "/jax/core/compile/backend_compile_duration": "compile"}
    def on_duration(event, duration, **kw):
        if event in names:
            _events.append([kw.get("fun_name", "?"), names[event], duration])
        elif event == "/jax/compilation_cache/cache_retrieval_time_sec":
            _events.append(["?", "cache_load", duration])
    jax.monitoring.register_event_duration_secs_listener(on_duration)
"""
REPORT = r"""
print("JSON" + _json.dumps({"inner_s": _time.perf_counter() - _t0, "events": _events, **_extra}))
"""

DATA = {
    "wine": "from sklearn.datasets import load_wine\nX, y = load_wine(return_X_y=True)\ny = (y == 0).astype(int)",
    "breast_cancer": "from sklearn.datasets import load_breast_cancer\nX, y = load_breast_cancer(return_X_y=True)",
    "iris": "from sklearn.datasets import load_iris\nX, y = load_iris(return_X_y=True)",
    "digits": "from sklearn.datasets import load_digits\nX, y = load_digits(return_X_y=True)",
}

# (case, data, jaxlr body, scikit-learn body); bodies see X, y. Data come from scikit-learn's
# bundled files on both sides, so loading costs the same.
CASES = [
    ("fit", "wine", "import jaxlr\nr = jaxlr.fit(X, y, l2=1 / len(y))\nr.coef.sum()",
     "from sklearn.linear_model import LogisticRegression\nLogisticRegression(max_iter=1000).fit(X, y)"),
    ("fit", "iris", "import jaxlr\nr = jaxlr.fit(X, y, l2=1 / len(y))\nr.coef.sum()",
     "from sklearn.linear_model import LogisticRegression\nLogisticRegression(max_iter=1000).fit(X, y)"),
    ("fit", "digits", "import jaxlr\nr = jaxlr.fit(X, y, l2=1 / len(y))\nr.coef.sum()",
     "from sklearn.linear_model import LogisticRegression\nLogisticRegression(max_iter=1000).fit(X, y)"),
    ("LogisticRegression", "wine",
     "import jaxlr\njaxlr.LogisticRegression().fit(X, y)",
     "from sklearn.linear_model import LogisticRegression\nLogisticRegression().fit(X, y)"),
    ("LogisticRegressionCV(Cs=10, cv=5)", "breast_cancer",
     "import jaxlr\njaxlr.LogisticRegressionCV(Cs=10, cv=5).fit(X, y)",
     "from sklearn.linear_model import LogisticRegressionCV\nLogisticRegressionCV(Cs=10, cv=5).fit(X, y)"),
    ("LogisticRegressionCV(Cs=10, cv=5)", "digits",
     "import jaxlr\njaxlr.LogisticRegressionCV(Cs=10, cv=5).fit(X, y)",
     "from sklearn.linear_model import LogisticRegressionCV\nLogisticRegressionCV(Cs=10, cv=5).fit(X, y)"),
]
TARGETS = {("fit", "wine"), ("LogisticRegressionCV(Cs=10, cv=5)", "breast_cancer"), ("cli", "wine.csv")}

SECOND_SHAPE = """
import time, numpy as np, jaxlr
from sklearn.datasets import load_wine, load_breast_cancer
X, y = load_wine(return_X_y=True); y = (y == 0).astype(int)
jaxlr.fit(X, y, l2=1 / len(y))
X2, y2 = X[:170, :12] * 1.1, y[:170]          # a new shape of similar size
t = time.perf_counter(); jaxlr.fit(X2, y2, l2=1 / len(y2)).coef.sum(); second = time.perf_counter() - t
Xb, yb = load_breast_cancer(return_X_y=True)
t = time.perf_counter(); jaxlr.fit(Xb[:, :13][:190], yb[:190], l2=1 / 190).coef.sum(); third = time.perf_counter() - t
import sklearn.linear_model as lm
t = time.perf_counter(); lm.LogisticRegression(max_iter=1000).fit(X2, y2); sk = time.perf_counter() - t
print("JSON" + __import__("json").dumps({"second_fit_s": second, "third_fit_s": third, "sklearn_fit_s": sk}))
"""

SKLEARN_CLI = """
import pandas as pd
from sklearn.linear_model import LogisticRegression
d = pd.read_csv({path!r})
m = LogisticRegression(max_iter=1000).fit(d.drop(columns="target"), d["target"])
print(m.score(d.drop(columns="target"), d["target"]))
"""


def _run(code: str, env_extra: dict | None = None, argv: list[str] | None = None, timeout: float = 900) -> dict:
    import os

    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    env.pop("JAXLR_CACHE_DIR", None)
    env.update(env_extra or {})
    cmd = argv if argv is not None else [sys.executable, "-c", code]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(REPO_ROOT), timeout=timeout)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")]
    out = json.loads(lines[-1][4:]) if lines else {}
    out["wall_s"] = wall
    return out


def _script(data: str, body: str, cache: str | None, measure: bool) -> str:
    head = EVENTS + "_listen()\n" if measure else "import json as _json, time as _time\n_t0 = _time.perf_counter()\n_events = []\n"
    return (head + f"CACHE = {cache!r}\n" + DATA[data] + "\n" + body + "\n_extra = {}\n" + REPORT)


def _jaxlr(data: str, body: str, cache: str, measure: bool) -> dict:
    """A user's script as written (no cache call): jaxlr's own store of compiled programs, on by
    default, lives in ``$JAXLR_CACHE_DIR`` (a new directory: "cold")."""
    return _run(_script(data, body, cache, measure), {"JAXLR_CACHE_DIR": cache})


def _programs(events: list) -> dict:
    """Per program name: trace / lower / compile seconds (summed over its compilations)."""
    table: dict = {}
    for name, kind, seconds in events:
        row = table.setdefault(name, {"trace": 0.0, "lower": 0.0, "compile": 0.0, "cache_load": 0.0, "count": 0})
        row[kind] += seconds
        if kind == "compile":
            row["count"] += 1
    return table


def _median_runs(make, repeat: int) -> dict:
    runs = [make(i) for i in range(repeat)]
    mid = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    return {**mid, "wall_s": statistics.median(r["wall_s"] for r in runs), "all_s": [r["wall_s"] for r in runs]}


def measure(repeat: int = 3, cases=None, cli: bool = True) -> dict:
    """Every case: scikit-learn, jaxlr cold (empty cache) and warm, fresh processes."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for case, data, jx, sk in CASES if cases is None else cases:
            warm_cache = str(tmp / f"warm-{len(results)}")
            _jaxlr(data, jx, warm_cache, False)  # fills the warm cache
            cold = _median_runs(lambda i: _jaxlr(data, jx, str(tmp / f"cold-{len(results)}-{i}"), True), repeat)
            warm = _median_runs(lambda i: _jaxlr(data, jx, warm_cache, True), repeat)
            skl = _median_runs(lambda i: _run(_script(data, sk, None, False)), repeat)
            results.append(_row(case, data, skl, cold, warm))
        if cli:
            results.append(_cli(tmp, repeat))
    second = _run(SECOND_SHAPE)
    return {"repeat": repeat, "cases": results, "second_shape": second, "imports": imports(repeat)}


IMPORTS = {"python": "pass", "jax": "import jax", "jaxlr": "import jaxlr",
           "scikit-learn LogisticRegression": "from sklearn.linear_model import LogisticRegression"}


def imports(repeat: int = 3) -> dict:
    """Seconds to import each module in a fresh process (median wall time; ``python`` is the
    interpreter's own start, included in the others), and jaxlr's slowest imports from
    ``python -X importtime``."""
    out = {name: _median_runs(lambda i, code=code: _run(code), repeat)["wall_s"] for name, code in IMPORTS.items()}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import jaxlr"], capture_output=True, text=True,
                          cwd=str(REPO_ROOT), timeout=300)
    rows = []
    for line in proc.stderr.splitlines()[1:]:
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    out["importtime_top"] = [(us / 1e6, name) for us, name in sorted(rows, reverse=True)[:8]]
    return out


def _row(case, data, skl, cold, warm) -> dict:
    return {
        "case": case, "data": data, "sklearn_s": skl["wall_s"], "jaxlr_cold_s": cold["wall_s"],
        "jaxlr_warm_s": warm["wall_s"], "cold_ratio": cold["wall_s"] / skl["wall_s"],
        "warm_ratio": warm["wall_s"] / skl["wall_s"], "cold_programs": _programs(cold.get("events", [])),
        "warm_programs": _programs(warm.get("events", [])), "target": (case, data) in TARGETS,
    }


def _cli(tmp: Path, repeat: int) -> dict:
    """``jaxlr fit wine.csv`` against a 5-line pandas + scikit-learn script on the same file."""
    import numpy as np
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    path = tmp / "wine.csv"
    names = [f"x{j}" for j in range(X.shape[1])]
    np.savetxt(path, np.column_stack([X, (y == 0).astype(int)]), delimiter=",", header=",".join(names + ["target"]),
               comments="", fmt="%.6g")
    jaxlr_cli = [sys.executable, "-m", "jaxlr", "fit", str(path), "--target", "target", "--quiet"]

    def cli_run(cache: str, out: str) -> dict:
        return _run("", {"JAXLR_CACHE_DIR": cache}, jaxlr_cli + ["--out", out])

    warm_cache = str(tmp / "cli-warm")
    cli_run(warm_cache, str(tmp / "cli-fill"))
    cold = _median_runs(lambda i: cli_run(str(tmp / f"cli-cold-{i}"), str(tmp / f"cli-out-c{i}")), repeat)
    warm = _median_runs(lambda i: cli_run(warm_cache, str(tmp / f"cli-out-w{i}")), repeat)
    skl = _median_runs(lambda i: _run(SKLEARN_CLI.format(path=str(path))), repeat)
    return _row("cli", "wine.csv", skl, cold, warm)


def markdown(res: dict) -> str:
    lines = [f"First answer: fresh processes, imports included, median of {res['repeat']} "
             "(ratio = jaxlr time / scikit-learn time; targets: cold <= 2.0, warm <= 1.3)", "",
             "| call | data | scikit-learn | jaxlr, empty cache | jaxlr, warm cache | programs (cold) | compile s (cold) |",
             "|---|---|---|---|---|---|---|"]
    for r in res["cases"]:
        progs = r["cold_programs"]
        n = sum(p["count"] for p in progs.values())
        comp = sum(p["compile"] for p in progs.values())
        mark = " **(target)**" if r["target"] else ""
        lines.append(f"| {r['case']}{mark} | {r['data']} | {r['sklearn_s']:.2f} s | {r['jaxlr_cold_s']:.2f} s "
                     f"({r['cold_ratio']:.2f}x) | {r['jaxlr_warm_s']:.2f} s ({r['warm_ratio']:.2f}x) | "
                     f"{n if progs else 'n/a'} | {comp:.2f} |")
    s = res["second_shape"]
    lines += ["", f"Same process, second `fit` on a new shape of similar size (wine 170 x 12 after 178 x 13): "
              f"{s['second_fit_s'] * 1e3:.1f} ms (target <= 50 ms); a third (breast cancer 190 x 13): "
              f"{s['third_fit_s'] * 1e3:.1f} ms; scikit-learn's fit on the same data: {s['sklearn_fit_s'] * 1e3:.1f} ms", ""]
    imp = res.get("imports")
    if imp:
        lines += ["Imports, fresh process, median wall time (the interpreter's start included): "
                  + ", ".join(f"`{name}` {imp[name]:.2f} s" for name in IMPORTS) + "; `python -X importtime -c "
                  "\"import jaxlr\"`, cumulative: " + ", ".join(f"{name.strip()} {s:.3f} s"
                                                             for s, name in imp["importtime_top"][:5]), ""]
    lines += ["Per program, cold (trace / lower / XLA compile seconds, compilations):", ""]
    for r in res["cases"]:
        for name, p in r["cold_programs"].items():
            if p["count"] or p["trace"] > 0.01:
                lines.append(f"- {r['case']} on {r['data']}: `{name}` {p['trace']:.2f} / {p['lower']:.2f} / "
                             f"{p['compile']:.2f} s, {p['count']} compiled")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.first_answer", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)
    res = measure(args.repeat)
    print(markdown(res))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
