"""The ``jaxlr`` command line: a thin shell over the Python API.

``jaxlr fit`` and ``jaxlr sweep`` read a data file, call ``jaxlr.fit`` / ``jaxlr.sweep`` (options
map one-to-one onto their keyword arguments), and write ``results.csv``, ``params.npz``,
``run.json`` and figures into ``--out``. Bad input is one line on stderr and exit code 2,
before anything is written; Ctrl-C exits 130 and leaves only whole files behind.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from importlib import metadata

from . import __version__
from ._outputs import DirCheckpoint
from ._outputs import write_csv as _write_csv
from ._outputs import write_json as _write_json
from ._outputs import write_npz as _write_npz
from ._outputs import write_png as _write_png

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130
CACHE_ENV = "JAXLR_CACHE_DIR"
HYPER_COLUMNS = ("seed", "learning_rate", "l2", "l1", "fold")
METRIC_COLUMNS = ("status", "n_iter", "objective", "train_loss", "train_accuracy", "train_auc",
                  "val_loss", "val_accuracy", "val_auc")
# API argument name -> option, to phrase the Python API's ValueErrors as command-line errors
_OPTION_NAMES = {
    "learning_rate": "--learning-rate", "batch_size": "--batch-size", "chunk_size": "--chunk-size",
    "l2": "--l2", "l1": "--l1", "steps": "--steps", "tol": "--tol", "solver": "--solver",
    "seeds": "--seeds", "seed": "--seed", "folds": "--folds", "class_weight": "--class-weight",
}


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ----------------------------------------------------------------------------- option types


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _numbers(text: str) -> tuple[float, ...]:
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers separated by commas, e.g. 0.01,0.1")
    return tuple(_number(p) for p in parts)


def _seeds(text: str):
    """``N`` (seeds 0..N-1) or an explicit list ``a,b,c``."""
    if "," in text:
        return tuple(_integer(p.strip()) for p in text.split(","))
    return _integer(text)


def _tol(text: str):
    if text.lower() in ("auto", "none"):
        return text.lower() if text.lower() == "auto" else None
    return _number(text)


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r}: expected column names separated by commas")
    return names


# ----------------------------------------------------------------------------- the parser


def _default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxlr", "jax-compilation-cache")


def _add_data_options(parser):
    p = parser.add_argument_group("data and output")
    p.add_argument("data", metavar="DATA", help="CSV with a header, Parquet, NumPy .npz or LIBSVM/svmlight file")
    p.add_argument("--target", metavar="COL",
                   help="label column (CSV/Parquet) or array (.npz, default 'y'); two string values become 0/1")
    p.add_argument("--features", metavar="A,B,...", type=_names, help="feature columns (default: all others)")
    p.add_argument("--out", metavar="DIR", required=True, help="directory for results.csv, params.npz, run.json, PNGs")
    p.add_argument("--test-size", metavar="F", type=_number,
                   help="hold out this fraction (0 < F < 1) or number of rows for validation metrics")
    p.add_argument("--split-seed", metavar="N", type=_integer, default=0, help="seed of the held-out split (default 0)")


def _add_model_options(parser, many: bool):
    from ._solvers import SOLVER_NAMES

    p = parser.add_argument_group(f"model (keyword arguments of jaxlr.{'sweep' if many else 'fit'})")

    value = _numbers if many else _number
    several = "; a,b,... for a grid" if many else ""
    p.add_argument("--solver", default="auto", choices=SOLVER_NAMES, metavar="NAME",
                   help=f"one of {', '.join(SOLVER_NAMES)} (default auto: newton / lbfgs, fista with --l1)")
    p.add_argument("--learning-rate", type=value, default=(0.01,) if many else 0.01, metavar="LR",
                   help=f"step size of first-order solvers, > 0{several} (default 0.01)")
    p.add_argument("--l2", type=value, default=(0.0,) if many else 0.0, metavar="L2",
                   help=f"ridge penalty 0.5*l2*||w||^2, >= 0{several} (default 0)")
    p.add_argument("--l1", type=value, default=(0.0,) if many else 0.0, metavar="L1",
                   help=f"lasso penalty l1*||w||_1, >= 0{several} (default 0)")
    p.add_argument("--steps", type=_integer, default=1000, metavar="N", help="iteration budget, >= 1 (default 1000)")
    p.add_argument("--tol", type=_tol, default="auto", metavar="TOL",
                   help="stop once max|grad| <= TOL; 'none' runs all steps; default auto (1e-4, none with --batch-size)")
    p.add_argument("--batch-size", type=_integer, metavar="B", help="minibatch size (first-order solvers)")
    p.add_argument("--class-weight", choices=("balanced",), help="reweight classes to equal total weight")
    p.add_argument("--no-intercept", dest="fit_intercept", action="store_false", help="fit without an intercept")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="compute dtype (default float64)")
    return p


def _add_run_options(parser):
    p = parser.add_argument_group("run")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--cache-dir", metavar="DIR", default=os.environ.get(CACHE_ENV) or _default_cache_dir(),
                   help=f"JAX persistent compilation cache (env {CACHE_ENV}; default %(default)s)")
    p.add_argument("--no-cache", dest="use_cache", action="store_false", help="do not use the compilation cache")
    return p


def _add_distributed_options(p):
    """``--mesh`` and the multi-host options (see ``jaxlr.distributed``)."""
    from .distributed import add_distributed_arguments

    add_distributed_arguments(p)


def _init_distributed(args) -> None:
    """Join a multi-process job if asked, and build the ``--mesh`` (``args.device_mesh``)
    before JAX creates any array."""
    from .distributed import initialize_from_args

    try:
        args.device_mesh = initialize_from_args(args)
    except (ValueError, RuntimeError) as err:
        raise UsageError(f"--mesh / multi-host options: {err}") from None


def _gathered(result):
    """The result with every process's shards on this host; ``None`` in processes other
    than process 0, which write nothing."""
    from . import distributed

    result = distributed.gather(result)
    return result if distributed.is_main_process() else None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="jaxlr",
        description="Logistic regression in JAX: fit one model or sweep many in one compiled program.",
        epilog="Examples:\n"
               "  jaxlr fit data.csv --target label --l2 1e-3 --test-size 0.2 --out run1\n"
               "  jaxlr sweep data.csv --target label --seeds 3 --solver gd --learning-rate 0.01,0.1 "
               "--l2 0,1e-3,1e-2 --folds 5 --out sweep1\n"
               "Each run writes results.csv, params.npz, run.json and PNG figures into --out.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version_text())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    fit = sub.add_parser("fit", help="fit one model and write its results, parameters and loss curve",
                         description="Fit one model (jaxlr.fit) on a data file.")
    _add_data_options(fit)
    model = _add_model_options(fit, many=False)
    model.add_argument("--seed", type=_integer, default=0, metavar="N", help="PRNG seed (minibatch order; default 0)")
    _add_run_options(fit)
    _add_distributed_options(fit)
    fit.set_defaults(func=_fit)

    sw = sub.add_parser("sweep", help="fit the grid seeds x learning rates x l2 (x l1 x folds) as one program",
                        description="Fit a grid of models (jaxlr.sweep) on a data file, resumably.")
    _add_data_options(sw)
    model = _add_model_options(sw, many=True)
    model.add_argument("--seeds", type=_seeds, default=1, metavar="N",
                    help="number of seeds (0..N-1) or a list a,b,c (default 1)")
    model.add_argument("--folds", type=_integer, metavar="K", help="stratified K-fold validation (K >= 2)")
    model.add_argument("--halving", type=_integer, metavar="FACTOR",
                       help="successive halving (with --folds): at rungs of growing budgets keep the best "
                            "1/FACTOR of the settings by held-out loss, prune the rest")
    model.add_argument("--chunk-size", type=_integer, metavar="M",
                    help="models per compiled chunk, also the checkpoint unit (default: by memory)")
    _add_run_options(sw).add_argument("--resume", action="store_true", help="reuse finished chunks from an interrupted run in --out")
    _add_distributed_options(sw)
    sw.set_defaults(func=_sweep)

    demo = sub.add_parser("demo", help="reproduce the textbook seed experiment, then sweep seeds x learning rates")
    demo.set_defaults(func=_demo)
    sub.add_parser("bench", help="run the benchmarks (arguments go to python -m bench)", add_help=False)
    return parser


def _version_text() -> str:
    def v(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "missing"

    return f"jaxlr {__version__} (jax {v('jax')}, jaxlib {v('jaxlib')}, optax {v('optax')})"


# ----------------------------------------------------------------------------- checks


def _check(option: str, value, minimum=None, strict=False):
    if value is None:
        return
    for v in (value if isinstance(value, tuple) else (value,)):
        if minimum is not None and (v <= minimum if strict else v < minimum):
            raise UsageError(f"{option} must be {'>' if strict else '>='} {minimum:g}, got {v:g}")


def _check_args(args) -> None:
    """Range checks of the options, before any file is read."""
    _check("--steps", args.steps, 1)
    _check("--learning-rate", args.learning_rate, 0, strict=True)
    _check("--l2", args.l2, 0)
    _check("--l1", args.l1, 0)
    _check("--batch-size", args.batch_size, 1)
    if isinstance(args.tol, float):
        _check("--tol", args.tol, 0)
    if args.test_size is not None and not (0 < args.test_size < 1 or float(args.test_size).is_integer() and args.test_size >= 1):
        raise UsageError(f"--test-size must be a fraction in (0, 1) or a whole number of rows, got {args.test_size:g}")
    if args.command == "sweep":
        if isinstance(args.seeds, int):
            _check("--seeds", args.seeds, 1)
        _check("--folds", args.folds, 2)
        _check("--halving", args.halving, 2)
        if args.halving is not None and args.folds is None:
            raise UsageError("--halving needs --folds: settings are ranked by their held-out fold loss")
        _check("--chunk-size", args.chunk_size, 1)
        if args.folds is not None and args.test_size is not None:
            raise UsageError("--folds and --test-size both choose validation rows; give one")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out}: exists and is not a directory")


def _api_error(err: Exception) -> UsageError:
    """A ``ValueError`` from ``jaxlr.fit``/``sweep`` with the argument renamed to its option."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__

    def rename(m):
        return _OPTION_NAMES.get(m.group(1), m.group(1)) + m.group(2)

    return UsageError(re.sub(r"\b(learning_rate|batch_size|chunk_size|l2|l1|steps|tol|solver|seeds|seed|folds|"
                             r"class_weight)(\b|\[)", rename, text, count=1))


# ----------------------------------------------------------------------------- JAX set-up


class _CompileStats:
    """Compilation time and persistent-cache hits, from ``jax.monitoring`` events."""

    def __init__(self):
        self.hits = self.misses = 0
        self.compile_s = 0.0  # XLA backend compilation (or fetching it from the persistent cache)
        self.trace_s = 0.0  # tracing to a jaxpr and lowering to StableHLO, which the cache cannot skip

    def install(self):
        import jax

        def on_event(event, **_):
            if event == "/jax/compilation_cache/cache_hits":
                self.hits += 1
            elif event == "/jax/compilation_cache/cache_misses":
                self.misses += 1

        def on_duration(event, duration, **_):
            if event == "/jax/core/compile/backend_compile_duration":
                self.compile_s += duration
            elif event.startswith("/jax/core/compile/"):
                self.trace_s += duration

        jax.monitoring.register_event_listener(on_event)
        jax.monitoring.register_event_duration_secs_listener(on_duration)
        return self


def _setup_jax(args) -> "_CompileStats":
    import jax

    _init_distributed(args)
    jax.config.update("jax_enable_x64", True)  # float64 unless --dtype float32 (then the data is float32)
    if args.use_cache:
        jax.config.update("jax_compilation_cache_dir", args.cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return _CompileStats().install()


# ----------------------------------------------------------------------------- shared steps


class _Progress:
    """A tqdm bar on stderr fed by the API's ``progress(done, total)`` callback; it appears at
    the first report, so a run rejected during validation prints nothing but its error."""

    def __init__(self, desc: str, quiet: bool, unit: str):
        self.desc, self.quiet, self.unit = desc, quiet, unit
        self.bar = None

    @property
    def callback(self):
        return None if self.quiet else self

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(desc=self.desc, unit=self.unit, unit_scale=True, file=sys.stderr, dynamic_ncols=True,
                            smoothing=0.1, total=total)
        self.bar.update(done - self.bar.n)

    def close(self, finished: bool):
        if self.bar is not None:
            if finished and self.bar.total:
                self.bar.update(self.bar.total - self.bar.n)
            self.bar.close()


def _load(args):
    from . import _io

    try:
        table = _io.load(args.data, args.target, args.features)
    except _io.DataError as err:
        raise UsageError(str(err)) from None
    import numpy as np

    codes = np.vectorize(table.label_mapping.__getitem__, otypes=[np.int32])(
        np.array([v.item() if hasattr(v, "item") else v for v in table.y], dtype=object))
    X = table.X.astype(args.dtype)
    if args.test_size is not None:
        if args.test_size >= 1 and args.test_size >= len(codes):
            raise UsageError(f"--test-size {args.test_size:g} is not smaller than the {len(codes)} rows of {args.data}")
        train, test = _io.train_test_split(codes, args.test_size, args.split_seed)
        if len(np.unique(codes[train])) < len(table.label_mapping):
            raise UsageError(f"--test-size {args.test_size:g} leaves a class without training rows")
    else:
        train, test = np.arange(len(codes)), None
    return table, X, codes, train, test


def _scores(coef, intercept, X, y, W):
    """(K, 3) log-loss, accuracy, AUC of K models, each on the rows weighted by its row of W."""
    import jax
    import jax.numpy as jnp

    from . import metrics

    def one(c, b, w):
        z = X @ c + b
        return jnp.stack([metrics.log_loss(z, y, w), metrics.accuracy(z, y, w), metrics.roc_auc(z, y, w)])

    return jax.jit(jax.vmap(one))(coef, intercept, W)


def _metric_columns(coef, intercept, X, y, W_train, W_val):
    import numpy as np

    train = np.asarray(_scores(coef, intercept, X, y, W_train))
    val = np.asarray(_scores(coef, intercept, X, y, W_val)) if W_val is not None else None
    out = []
    for k in range(train.shape[0]):
        row = {"train_loss": float(train[k, 0]), "train_accuracy": float(train[k, 1]), "train_auc": float(train[k, 2])}
        for j, name in enumerate(("val_loss", "val_accuracy", "val_auc")):
            row[name] = float(val[k, j]) if val is not None else ""
        out.append(row)
    return out


def _manifest(args, table, t_start, stats, extra) -> dict:
    import jax
    import numpy as np

    from . import _io

    import shlex

    config = {k: v for k, v in vars(args).items() if k not in ("func", "argv")}
    return {
        "command": shlex.join(["jaxlr", *args.argv]),
        "config": config,
        "data": {
            "path": os.path.abspath(args.data), "format": table.format, "sha256": _io.sha256(args.data),
            "rows": int(table.X.shape[0]), "features": table.feature_names, "target": table.target,
            "label_mapping": {str(k): v for k, v in table.label_mapping.items()},
        },
        "versions": {"jaxlr": __version__, "jax": jax.__version__, "jaxlib": metadata.version("jaxlib"),
                     "optax": metadata.version("optax"), "numpy": np.__version__, "python": sys.version.split()[0]},
        "devices": [str(d) for d in jax.devices()],
        "dtype": args.dtype,
        "wall_time_s": time.perf_counter() - t_start,
        "compile_time_s": stats.compile_s,
        "trace_and_lower_time_s": stats.trace_s,
        "compilation_cache": {"enabled": args.use_cache, "dir": args.cache_dir if args.use_cache else None,
                              "hits": stats.hits, "misses": stats.misses,
                              "hit": bool(stats.hits > 0 and stats.misses == 0)},
        **extra,
    }


def _smoothing(args) -> int:
    """Minibatch objectives are noisy: plot a moving average over ~1% of the steps."""
    return max(1, args.steps // 100) if args.batch_size else 1


def _curve_labels(grid: list[dict]) -> list[str]:
    varying = [k for k in ("learning_rate", "l2", "l1") if len({g[k] for g in grid}) > 1]
    if not varying:
        return ["all models"] * len(grid)
    while len(varying) > 1 and len({tuple(g[k] for k in varying) for g in grid}) > 10:
        varying.pop()  # too many combinations for a legend: colour by fewer settings
    return [", ".join(f"{k}={g[k]:g}" for k in varying) for g in grid]


# ----------------------------------------------------------------------------- commands


def _train(kind: str, unit: str, args, call):
    """Run ``call(progress_callback)`` (a ``jaxlr.fit``/``sweep``) under a progress bar, with its
    warnings recorded and its argument errors turned into usage errors. Returns the result
    gathered onto this host (``None`` outside process 0, which alone writes) and the warnings."""
    import warnings

    progress = _Progress(kind, args.quiet, unit)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call(progress.callback)
    except (ValueError, TypeError) as err:
        progress.close(False)
        raise _api_error(err) from None
    progress.close(True)
    return _gathered(result), caught


def _fit(args) -> int:
    t0 = time.perf_counter()
    _check_args(args)
    table, X, codes, train, test = _load(args)
    stats = _setup_jax(args)
    import numpy as np

    import jaxlr

    from . import _plots

    result, caught = _train("fit", "step", args, lambda progress: jaxlr.fit(
        X[train], codes[train], solver=args.solver, learning_rate=args.learning_rate, steps=args.steps,
        tol=args.tol, l2=args.l2, l1=args.l1, fit_intercept=args.fit_intercept,
        class_weight=args.class_weight, batch_size=args.batch_size, seed=args.seed, progress=progress,
        mesh=args.device_mesh))
    if result is None:
        return 0

    coef, intercept = np.asarray(result.coef)[None], np.asarray(result.intercept)[None]
    m = X.shape[0]
    w_train = np.zeros((1, m), X.dtype)
    w_train[0, train] = 1
    w_val = None
    if test is not None:
        w_val = np.zeros((1, m), X.dtype)
        w_val[0, test] = 1
    metric = _metric_columns(coef, intercept, X, codes, w_train, w_val)[0]
    cfg = result.config
    row = {"seed": cfg["seed"], "learning_rate": cfg["learning_rate"], "l2": cfg["l2"], "l1": cfg["l1"],
           "status": result.status_name, "n_iter": int(result.n_iter), "objective": float(result.objective),
           **metric}

    os.makedirs(args.out, exist_ok=True)
    _write_csv(os.path.join(args.out, "results.csv"), [row])
    _write_npz(os.path.join(args.out, "params.npz"), coef=coef[0], intercept=intercept[0],
               feature_names=np.array(table.feature_names),
               classes=np.array([str(k) for k in table.label_mapping]))
    _write_png(os.path.join(args.out, "loss_curve.png"),
               _plots.loss_curves(np.asarray(result.loss_history)[None], ["fit"], [result.status_name],
                                 f"jaxlr fit: solver={cfg['solver']}, l2={cfg['l2']:g}, status={result.status_name}",
                                 n_iter=np.asarray(result.n_iter), smooth=_smoothing(args)))
    _write_json(os.path.join(args.out, "run.json"), _manifest(args, table, t0, stats, {
        "resolved": cfg, "n_models": 1, "n_train": int(len(train)), "n_validation": 0 if test is None else int(len(test)),
        "warnings": [str(w.message) for w in caught],
    }))
    val = f"   validation: log-loss {row['val_loss']:.4f}, accuracy {row['val_accuracy']:.3f}, AUC {row['val_auc']:.3f}" \
        if test is not None else ""
    print(f"{result.status_name} after {row['n_iter']} steps ({cfg['solver']}): train log-loss {row['train_loss']:.4f}, "
          f"accuracy {row['train_accuracy']:.3f}, AUC {row['train_auc']:.3f}{val}")
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    print(f"wrote {args.out}/results.csv, params.npz, run.json, loss_curve.png")
    return 0


def _checkpoint_key(args, table) -> dict:
    from . import _io

    relevant = ("target", "features", "test_size", "split_seed", "solver", "learning_rate", "l2", "l1", "steps",
                "tol", "batch_size", "class_weight", "fit_intercept", "dtype", "seeds", "folds", "chunk_size", "halving")
    key = {k: getattr(args, k) for k in relevant}
    key = json.loads(json.dumps(key, default=str))
    key["data"] = _io.sha256(args.data)
    key["jaxlr"] = __version__
    return key


def _sweep(args) -> int:
    t0 = time.perf_counter()
    _check_args(args)
    table, X, codes, train, test = _load(args)
    checkpoint = DirCheckpoint(os.path.join(args.out, "checkpoint"), _checkpoint_key(args, table), args.resume)
    try:
        checkpoint.verify()
    except ValueError as err:  # settings differ from the interrupted run's
        raise UsageError(str(err)) from None
    stats = _setup_jax(args)
    import numpy as np

    import jaxlr

    from . import _plots

    result, caught = _train("sweep", "model-step", args, lambda progress: jaxlr.sweep(
        X[train], codes[train], seeds=args.seeds, learning_rate=args.learning_rate, l2=args.l2, l1=args.l1,
        solver=args.solver, steps=args.steps, tol=args.tol, fit_intercept=args.fit_intercept,
        class_weight=args.class_weight, batch_size=args.batch_size, folds=args.folds,
        chunk_size=args.chunk_size, progress=progress, checkpoint=checkpoint, mesh=args.device_mesh,
        halving=args.halving))
    if result is None:
        return 0

    coef, intercept = np.asarray(result.coef), np.asarray(result.intercept)
    K, m = len(result), X.shape[0]
    if args.folds is not None:  # train on the fold's rows, validate on the rest
        fw = np.asarray(result.fold_weights)[[g["fold"] for g in result.grid]]
        w_train = np.zeros((K, m), X.dtype)
        w_train[:, train] = fw > 0
        w_val = np.zeros((K, m), X.dtype)
        w_val[:, train] = fw == 0
    else:
        w_train = np.zeros((K, m), X.dtype)
        w_train[:, train] = 1
        w_val = None
        if test is not None:
            w_val = np.zeros((K, m), X.dtype)
            w_val[:, test] = 1
    metrics = _metric_columns(coef, intercept, X, codes, w_train, w_val)
    rows = []
    for k, (g, base) in enumerate(zip(result.grid, result.rows())):
        rows.append({**{c: g[c] for c in HYPER_COLUMNS if c in g},
                     **{c: base[c] for c in ("status", "n_iter", "objective", "rung") if c in base}, **metrics[k]})

    os.makedirs(args.out, exist_ok=True)
    _write_csv(os.path.join(args.out, "results.csv"), rows)
    _write_npz(os.path.join(args.out, "params.npz"), coef=coef, intercept=intercept,
               feature_names=np.array(table.feature_names),
               classes=np.array([str(k) for k in table.label_mapping]),
               **{c: np.array([g[c] for g in result.grid]) for c in HYPER_COLUMNS if c in result.grid[0]})
    statuses = result.status_name
    _write_png(os.path.join(args.out, "loss_curve.png"),
               _plots.loss_curves(np.asarray(result.loss_history), _curve_labels(result.grid), statuses,
                                 f"jaxlr sweep: {K} models, solver={result.config['solver']}",
                                 n_iter=np.asarray(result.n_iter), smooth=_smoothing(args)))
    _write_png(os.path.join(args.out, "heatmap.png"), _heatmap(rows, w_val is not None, args.folds))
    _write_json(os.path.join(args.out, "run.json"), _manifest(args, table, t0, stats, {
        "resolved": result.config, "n_models": K, "n_train": int(len(train)),
        "n_validation": 0 if test is None else int(len(test)),
        "status_counts": {s: statuses.count(s) for s in sorted(set(statuses))},
        "resumed_chunks": checkpoint.loaded, "warnings": [str(w.message) for w in caught],
    }))
    checkpoint.remove()  # results.csv and params.npz now hold everything the chunks did

    metric = "val_loss" if w_val is not None else "train_loss"
    finite = [r for r in rows if r["status"] != "diverged" and np.isfinite(r[metric])]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    print(f"{K} models: {counts}" + (f" ({checkpoint.loaded} chunks resumed)" if checkpoint.loaded else ""))
    if finite:
        print(_summary(rows, metric, "seeds and folds" if args.folds else "seeds"))
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    print(f"wrote {args.out}/results.csv, params.npz, run.json, loss_curve.png, heatmap.png")
    return 0


def _summary(rows: list[dict], metric: str, over: str, top: int = 5) -> str:
    """The best settings by ``metric``, averaged over seeds and folds (diverged models left out)."""
    import numpy as np

    keys = [k for k in ("learning_rate", "l2", "l1") if len({r[k] for r in rows}) > 1] or ["l2"]
    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    names = [metric, metric.replace("loss", "accuracy"), metric.replace("loss", "auc")]
    table = []
    for setting, members in groups.items():
        ok = [r for r in members if r["status"] != "diverged"]
        if ok:
            table.append([*setting, *(float(np.mean([r[n] for r in ok])) for n in names),
                          f"{len(ok)}/{len(members)}"])
    table.sort(key=lambda t: t[len(keys)])
    cols = [*keys, *(f"mean {n}" for n in names), "not diverged"]
    cells = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in t] for t in table[:top]]
    widths = [max(len(c), *(len(row[j]) for row in cells)) for j, c in enumerate(cols)]
    lines = [f"best {len(cells)} of {len(table)} settings by {metric} (mean over {over}):"]
    lines += ["  " + "  ".join(v.rjust(w) for v, w in zip(line, widths)) for line in [cols, *cells]]
    return "\n".join(lines)


def _heatmap(rows: list[dict], has_val: bool, folds):
    import numpy as np

    from . import _plots

    metric = "val_loss" if has_val else "train_loss"
    varying = [k for k in ("l2", "learning_rate", "l1") if len({r[k] for r in rows}) > 1]
    axes = (varying + [k for k in ("l2", "learning_rate") if k not in varying])[:2]
    row_key, col_key = axes
    row_vals = sorted({r[row_key] for r in rows})
    col_vals = sorted({r[col_key] for r in rows})
    values = np.full((len(row_vals), len(col_vals)), np.nan)
    diverged = np.zeros(values.shape, int)
    for i, rv in enumerate(row_vals):
        for j, cv in enumerate(col_vals):
            cell = [r for r in rows if r[row_key] == rv and r[col_key] == cv]
            diverged[i, j] = sum(r["status"] == "diverged" for r in cell)
            ok = [r[metric] for r in cell if r["status"] != "diverged"]
            values[i, j] = np.mean(ok) if ok else np.nan
    over = "seeds and folds" if folds else "seeds"
    what = f"{'validation' if has_val else 'training'} log-loss"
    title = f"{what}, mean over {over}" + (" (no --test-size/--folds: training rows)" if not has_val else "")
    return _plots.heatmap(values, row_vals, col_vals, row_key, col_key, title, diverged, label=what)


def _demo(args) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)  # the seed computes in float64
    from ._demo import SEED_TEST_LOSS, run_demo

    report = run_demo()
    print("jaxlr demo: the seed experiment (textbook logistic regression, gradient descent)")
    print(f"  test loss      {report.test_loss:.17g}   (seed prints {SEED_TEST_LOSS:.17g};"
          f" difference {abs(report.test_loss - SEED_TEST_LOSS):.1e})")
    print(f"  coef           {report.coef}   intercept {report.intercept:.6f}   dtype {report.dtype}")
    print()
    print(f"What jaxlr adds: {report.n_models} models (seeds x learning rates, minibatch 16, 1000 steps)"
          " trained as ONE compiled, vmapped program:")
    print(report.sweep_table)
    print()
    print(f"  one sweep call     {report.sweep_s * 1e3:8.1f} ms   (first call incl. compile: {report.sweep_compile_s:.2f} s)")
    print(f"  {report.n_models} fit calls       {report.loop_s * 1e3:8.1f} ms   (same models one by one, warm)")
    print(f"  speed-up           {report.loop_s / report.sweep_s:8.1f}x")
    return 0


def _bench(argv: list[str]) -> int:
    try:
        from bench.__main__ import main as bench_main
    except ImportError as err:
        print(f"jaxlr bench: error: the benchmark package is not available ({err}); "
              "run it from a source checkout of jaxlr", file=sys.stderr)
        return EXIT_USAGE
    return bench_main(argv) or 0


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        return _bench(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    if args.command is None:
        parser.print_help()
        return 0
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # a kill exits like Ctrl-C
    try:
        return args.func(args)
    except UsageError as err:
        print(f"jaxlr {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        where = ""
        if getattr(args, "command", None) == "sweep":
            where = f"; finished chunks are kept in {os.path.join(args.out, 'checkpoint')} (rerun with --resume)"
        print(f"\njaxlr {args.command}: interrupted{where}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)


def run() -> None:
    """The console-script entry point: ``main()``, then exit with its code.

    A usage error has computed nothing, so it leaves through ``os._exit`` after flushing:
    once (1 run in ~100, in CI under load) a native library's thread pool aborted the
    process during interpreter teardown ("terminate called without an active exception"),
    turning the promised exit code 2 into SIGABRT."""
    code = main()
    if code == EXIT_USAGE:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
