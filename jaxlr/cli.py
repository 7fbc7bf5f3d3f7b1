"""The ``jaxlr`` command line: argument handling around the Python API.

``jaxlr fit`` and ``jaxlr sweep`` read a data file, call ``jaxlr.fit`` / ``jaxlr.sweep`` (options
map one-to-one onto their keyword arguments), and write ``results.csv``, ``params.npz``,
``run.json`` and figures into ``--out`` as one set. Scores, summaries and what the figures
show come from ``_report``; files from ``_outputs``; figures from ``_plots``.

Bad input is one line on stderr and exit code 2, with nothing written: ``--out`` is checked
before any work, the core's argument errors are named by their options (``--l2``, from the
error's ``argument``), and OS errors (a full disk, a read-only directory, a closed pipe) are
one line too. Ctrl-C exits 130 and leaves only whole files behind.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import signal
import sys
import time
from importlib import metadata

from . import __version__

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130
# optional dependencies, by the extra that installs them (module -> distribution name)
EXTRAS = {
    "cli": {"matplotlib": "matplotlib", "tqdm": "tqdm", "pyarrow": "pyarrow", "sklearn": "scikit-learn"},
    "bench": {"sklearn": "scikit-learn", "matplotlib": "matplotlib", "psutil": "psutil"},
}


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ----------------------------------------------------------------------------- option types
# Types turn text into values; ranges are the API's to check (its errors name the option).


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


def _add_data_options(parser):
    p = parser.add_argument_group("data and output")
    p.add_argument("data", metavar="DATA", help="CSV with a header, Parquet, NumPy .npz or LIBSVM/svmlight file")
    p.add_argument("--target", metavar="COL",
                   help="label column (CSV/Parquet) or array (.npz, default 'y'); two string values become 0/1")
    p.add_argument("--features", metavar="A,B,...", type=_names, help="feature columns (default: all others)")
    p.add_argument("--out", metavar="DIR",
                   help="directory for results.csv, params.npz, run.json and PNGs (created; its parent must exist; "
                        "default: a new directory jaxlr-COMMAND-DATE-TIME here)")
    p.add_argument("--force", action="store_true", help="replace the results of an earlier run in --out")
    p.add_argument("--test-size", metavar="F", type=_number,
                   help="hold out this fraction (0 < F < 1) or number of rows for validation metrics")
    p.add_argument("--split-seed", metavar="N", type=_integer, default=0, help="seed of the held-out split (default 0)")


def _add_model_options(parser, many: bool):
    from ._solvers import SOLVER_NAMES

    p = parser.add_argument_group(f"model (keyword arguments of jaxlr.{'sweep' if many else 'fit'})")

    value = _numbers if many else _number
    several = "; a,b,... for a grid" if many else ""
    p.add_argument("--solver", default="auto", choices=SOLVER_NAMES, metavar="NAME",
                   help=f"one of {', '.join(SOLVER_NAMES)} (default auto: newton / lbfgs, fista with --l1"
                        f"{', gd with a learning-rate grid' if many else ''})")
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
    p.add_argument("--standardize", action="store_true",
                   help="fit on features scaled to mean 0, variance 1; coefficients are reported in the "
                        "original units (use it when columns have different scales)")
    p.add_argument("--class-weight", choices=("balanced",), help="reweight classes to equal total weight")
    p.add_argument("--no-intercept", dest="fit_intercept", action="store_false", help="fit without an intercept")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="compute dtype (default float64)")
    return p


def _add_run_options(parser):
    from ._cache import CACHE_ENV

    p = parser.add_argument_group("run")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--cache-dir", metavar="DIR", default=None,
                   help=f"JAX persistent compilation cache (default ${CACHE_ENV} if set, an empty value "
                        "meaning none; else $XDG_CACHE_HOME/jaxlr/xla, i.e. ~/.cache/jaxlr/xla)")
    p.add_argument("--no-cache", dest="use_cache", action="store_false", help="do not use the compilation cache")
    return p


def _finish_subparser(sp, func):
    """Set the command's function, and the option that spells each API keyword (``dest``):
    how the core's argument errors are named on the command line."""
    options = {}
    for action in sp._actions:
        if action.option_strings and action.dest not in options:
            options[action.dest] = max(action.option_strings, key=len)
    sp.set_defaults(func=func, options=options)


def build_parser() -> argparse.ArgumentParser:
    from .distributed import add_distributed_arguments

    parser = _Parser(
        prog="jaxlr",
        description="Logistic regression in JAX: fit one model or sweep many in one compiled program.",
        epilog="Examples:\n"
               "  jaxlr fit data.csv --target label --standardize --l2 1e-3 --test-size 0.2 --out run1\n"
               "  jaxlr sweep data.csv --target label --standardize --learning-rate 0.01,0.1 "
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
    model.add_argument("--seed", type=_integer, default=0, metavar="N",
                       help="PRNG seed, 0 .. 2**32-1 (minibatch order; default 0)")
    _add_run_options(fit)
    add_distributed_arguments(fit)
    _finish_subparser(fit, _fit)

    sw = sub.add_parser("sweep", help="fit the grid seeds x learning rates x l2 (x l1 x folds) as one program",
                        description="Fit a grid of models (jaxlr.sweep) on a data file, resumably.")
    _add_data_options(sw)
    model = _add_model_options(sw, many=True)
    model.add_argument("--seeds", type=_seeds, default=1, metavar="N",
                       help="number of seeds (0..N-1) or a list a,b,c of seeds in 0 .. 2**32-1 (default 1); "
                            "seeds matter only with --batch-size")
    model.add_argument("--folds", type=_integer, metavar="K", help="stratified K-fold validation (K >= 2)")
    model.add_argument("--halving", type=_integer, metavar="FACTOR",
                       help="successive halving (with --folds): at rungs of growing budgets keep the best "
                            "1/FACTOR of the settings by held-out loss, prune the rest")
    model.add_argument("--chunk-size", type=_integer, metavar="M",
                       help="models per compiled chunk, also the checkpoint unit (default: by memory)")
    _add_run_options(sw).add_argument("--resume", action="store_true",
                                      help="reuse finished chunks from an interrupted run in --out")
    add_distributed_arguments(sw)
    _finish_subparser(sw, _sweep)

    demo = sub.add_parser("demo", help="reproduce the textbook seed experiment, then sweep seeds x learning rates")
    demo.set_defaults(func=_demo)
    sub.add_parser("bench", help="run the benchmarks from a source checkout (arguments go to python -m bench)",
                   add_help=False)
    return parser


def _version_text() -> str:
    def v(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "missing"

    return f"jaxlr {__version__} (jax {v('jax')}, jaxlib {v('jaxlib')}, optax {v('optax')})"


# ----------------------------------------------------------------------------- errors


def _option_error(err: Exception, options: dict) -> UsageError:
    """A ``ValueError``/``TypeError`` of the Python API, phrased with the option's name.

    The core's validation errors carry the keyword at fault (``jaxlr._data.ArgumentError``:
    ``argument``, ``detail``), which maps to the option through the parser (``options``).
    Raise sites not converted yet start their message with the keyword ("batch_size must be
    <= ..."), so the leading name is mapped the same way; nothing else in a message changes."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    argument = getattr(err, "argument", None)
    if argument in options:
        return UsageError(f"{options[argument]} {err.detail}")
    lead = re.match(r"([A-Za-z_]\w*)(\[\d+\])?", text)
    if lead and lead.group(1) in options:
        return UsageError(options[lead.group(1)] + text[lead.end():])
    return UsageError(text)


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: blocked (sys.modules[module] is None)
        return False


def _missing_extra(extra: str, modules) -> UsageError:
    names = [EXTRAS[extra].get(m, m) for m in modules]
    verb = "is" if len(names) == 1 else "are"
    return UsageError(f"{' and '.join(names)} {verb} not installed; install the '{extra}' extra: "
                      f"pip install 'jaxlr[{extra}]'")


def _require(extra: str, modules) -> None:
    """Refuse before any work when a module of ``extra`` is missing (one line, not a traceback
    after training)."""
    missing = [m for m in modules if not _importable(m)]
    if missing:
        raise _missing_extra(extra, missing)


def _os_error(err: OSError) -> str:
    code = errno.errorcode.get(err.errno, "")
    text = f"{err.strerror or err}" + (f" ({code})" if code else "")
    return f"{err.filename}: {text}" if err.filename else text


# ----------------------------------------------------------------------------- JAX set-up


def _setup_jax(args) -> tuple:
    """Join a multi-host job and build ``--mesh`` (``args.device_mesh``) before JAX creates any
    array; float64; the persistent compilation cache unless ``--no-cache`` or an empty
    ``$JAXLR_CACHE_DIR``. Returns the compile statistics, the cache directory really in use
    (``None``: off) and the warnings raised on the way."""
    import warnings

    import jax

    from . import _report, enable_compilation_cache
    from .distributed import initialize_from_args

    try:
        args.device_mesh = initialize_from_args(args)
    except (ValueError, RuntimeError) as err:
        raise UsageError(f"--mesh / multi-host options: {err}") from None
    jax.config.update("jax_enable_x64", True)  # float64 unless --dtype float32 (then the data is float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache_dir = enable_compilation_cache(args.cache_dir) if args.use_cache else None
    if cache_dir is None:  # off means off, also for a cache configured through JAX's own settings
        jax.config.update("jax_enable_compilation_cache", False)
    return _report.CompileStats().install(), cache_dir, list(caught)


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


def _start(args):
    """Checks before any work: the extras this run needs, option combinations, and ``--out``
    (only process 0 writes). Returns the ``RunDir``."""
    from ._outputs import OutputError, RunDir

    _require("cli", ["matplotlib"] + ([] if args.quiet else ["tqdm"]))
    if getattr(args, "folds", None) is not None and args.test_size is not None:
        raise UsageError("--folds and --test-size both choose validation rows; give one")
    if getattr(args, "halving", None) is not None and args.folds is None:
        raise UsageError("--halving needs --folds: settings are ranked by their held-out fold loss")
    run_dir = RunDir(args.out, force=args.force)
    if args.process_id in (None, 0):
        try:
            run_dir.check()
        except OutputError as err:
            raise UsageError(f"--out {args.out}: {err}") from None
    return run_dir


def _load(args):
    """The data file, its labels encoded by the API's own rules, and the train/validation rows."""
    import numpy as np

    from . import _data, _io

    try:
        table = _io.load(args.data, args.target, args.features)
    except _io.DataError as err:
        raise UsageError(str(err)) from None
    except ModuleNotFoundError as err:  # pyarrow for Parquet, scikit-learn for LIBSVM
        top = (err.name or "").split(".")[0]
        if top not in EXTRAS["cli"]:
            raise
        raise _missing_extra("cli", [top]) from None
    codes, _ = _data.check_labels(table.y, table.X.shape[0])
    X = table.X.astype(args.dtype)
    if args.test_size is not None:
        try:
            train, test = _io.train_test_split(codes, args.test_size, args.split_seed)
        except ValueError as err:
            raise _option_error(err, args.options) from None
        if len(np.unique(codes[train])) < len(table.label_mapping):
            raise UsageError(f"--test-size {args.test_size:g} leaves a class without training rows")
    else:
        train, test = np.arange(len(codes)), None
    return table, X, codes, train, test


def _api_options(args) -> dict:
    """The keyword arguments of ``jaxlr.fit``/``sweep`` that ``fit`` and ``sweep`` share."""
    kwargs = dict(solver=args.solver, learning_rate=args.learning_rate, steps=args.steps, tol=args.tol,
                  l2=args.l2, l1=args.l1, fit_intercept=args.fit_intercept, class_weight=args.class_weight,
                  batch_size=args.batch_size, mesh=args.device_mesh)
    if args.standardize:  # only when asked: the keyword is newer than the rest
        kwargs["standardize"] = True
    return kwargs


def _train(kind: str, unit: str, args, call):
    """Run ``call(progress_callback)`` (a ``jaxlr.fit``/``sweep``) under a progress bar, with its
    warnings recorded and its argument errors named by their options. Returns the result
    gathered onto this host (``None`` outside process 0, which alone writes) and the warnings."""
    import warnings

    from . import distributed

    progress = _Progress(kind, args.quiet, unit)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call(progress.callback)
    except (ValueError, TypeError) as err:
        progress.close(False)
        raise _option_error(err, args.options) from None
    progress.close(True)
    result = distributed.gather(result)
    return (result if distributed.is_main_process() else None), list(caught)


def _manifest(args, table, t_start, setup, result, extra) -> dict:
    import shlex

    from . import _report

    stats, cache_dir, _ = setup
    config = {k: v for k, v in vars(args).items() if k not in ("func", "argv", "options")}
    return _report.manifest(command=shlex.join(["jaxlr", *args.argv]), config=config,
                            data=_report.data_record(args.data, table), result_config=result.config,
                            wall_time_s=time.perf_counter() - t_start, compile_stats=stats,
                            cache_dir=cache_dir, extra=extra)


def _publish(args, run_dir, files: dict) -> None:
    from ._outputs import OutputError

    try:
        run_dir.publish(files)
    except OutputError as err:
        raise UsageError(f"--out {args.out}: {err}") from None
    args.published = True


def _writers(rows, params: dict, figures: dict, manifest: dict) -> dict:
    from ._outputs import write_csv, write_json, write_npz, write_png

    files = {"results.csv": lambda p: write_csv(p, rows), "params.npz": lambda p: write_npz(p, **params)}
    for name, fig in figures.items():
        files[name] = lambda p, fig=fig: write_png(p, fig)
    files["run.json"] = lambda p: write_json(p, manifest)
    return files


def _warn(caught) -> None:
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"warning: {message}", file=sys.stderr)


# ----------------------------------------------------------------------------- commands


def _fit(args) -> int:
    t0 = time.perf_counter()
    run_dir = _start(args)
    table, X, codes, train, test = _load(args)
    setup = _setup_jax(args)
    import jaxlr

    from . import _report

    result, caught = _train("fit", "step", args, lambda progress: jaxlr.fit(
        X[train], codes[train], seed=args.seed, progress=progress, **_api_options(args)))
    if result is None:
        return 0
    (row,) = _report.table_rows(result, X, codes, train, test)
    figures = _report.fit_figures(result, minibatch=args.batch_size is not None)
    warnings_ = setup[2] + caught
    manifest = _manifest(args, table, t0, setup, result, {
        "n_models": 1, "n_train": int(len(train)), "n_validation": 0 if test is None else int(len(test)),
        "status_counts": {result.status_name: 1}, "warnings": [str(w.message) for w in warnings_]})
    params = _report.params_arrays(result, table.feature_names, table.label_mapping)
    _publish(args, run_dir, _writers([row], params, figures, manifest))

    val = (f"   validation: log-loss {row['val_loss']:.4f}, accuracy {row['val_accuracy']:.3f}, "
           f"AUC {row['val_auc']:.3f}") if test is not None else ""
    print(f"{result.status_name} after {row['n_iter']} steps ({result.config['solver']}): train log-loss "
          f"{row['train_loss']:.4f}, accuracy {row['train_accuracy']:.3f}, AUC {row['train_auc']:.3f}{val}")
    print(f"wrote {args.out}/" + ", ".join(["results.csv", "params.npz", "run.json", *figures]))
    sys.stdout.flush()  # a closed pipe is reported here, not at exit
    _warn(warnings_)
    return 0


def _n_models(args) -> int:
    """The grid's size, from the options (the checkpoint's bound on the models it may hold)."""
    n_seeds = args.seeds if isinstance(args.seeds, int) else len(args.seeds)
    return max(0, n_seeds) * len(args.learning_rate) * len(args.l2) * len(args.l1) * (args.folds or 1)


def _checkpoint_key(args) -> dict:
    """What the checkpoint's chunks depend on: the data, every setting that changes a result,
    and what decides the chunk layout (chunk size, the device mesh, the number of processes)."""
    import json

    from . import _io

    relevant = ("target", "features", "test_size", "split_seed", "solver", "learning_rate", "l2", "l1", "steps",
                "tol", "batch_size", "standardize", "class_weight", "fit_intercept", "dtype", "seeds", "folds",
                "chunk_size", "mesh", "num_processes", "halving")
    key = json.loads(json.dumps({k: getattr(args, k, None) for k in relevant}, default=str))
    key["data"] = _io.sha256(args.data)
    key["n_models"] = _n_models(args)
    key["jaxlr"] = __version__
    return key


def _sweep(args) -> int:
    t0 = time.perf_counter()
    run_dir = _start(args)
    table, X, codes, train, test = _load(args)
    from ._outputs import DirCheckpoint

    checkpoint = DirCheckpoint(os.path.join(args.out, "checkpoint"), _checkpoint_key(args), args.resume,
                               n_models=_n_models(args))
    try:
        checkpoint.verify()
    except ValueError as err:  # settings differ from the interrupted run's
        raise UsageError(str(err)) from None
    setup = _setup_jax(args)
    import numpy as np

    import jaxlr

    from . import _report

    result, caught = _train("sweep", "model-step", args, lambda progress: jaxlr.sweep(
        X[train], codes[train], seeds=args.seeds, folds=args.folds, chunk_size=args.chunk_size, halving=args.halving,
        progress=progress, checkpoint=checkpoint, **_api_options(args)))
    if result is None:
        return 0
    K = len(result)
    if np.shape(result.coef)[0] != K:  # resumed chunks of another layout
        raise UsageError(f"--resume: the chunks in {checkpoint.directory} do not add up to this run's {K} models; "
                         "rerun without --resume to start over")

    rows = _report.table_rows(result, X, codes, train, test)
    has_val = test is not None or args.folds is not None
    metric = "val_loss" if has_val else "train_loss"
    counts = _report.status_counts(result.status_name)
    figures = _report.sweep_figures(result, rows, has_val, minibatch=args.batch_size is not None)
    params = _report.params_arrays(result, table.feature_names, table.label_mapping)
    warnings_ = setup[2] + caught
    manifest = _manifest(args, table, t0, setup, result, {
        "n_models": K, "n_train": int(len(train)), "n_validation": 0 if test is None else int(len(test)),
        "status_counts": counts, "resumed_chunks": checkpoint.loaded,
        "warnings": [str(w.message) for w in warnings_]})
    _publish(args, run_dir, _writers(rows, params, figures, manifest))
    checkpoint.remove()  # results.csv and params.npz now hold everything the chunks did

    finite = [r for r in rows if r["status"] != "diverged" and np.isfinite(r[metric])]
    print(f"{K} models ({result.config['solver']}): " + ", ".join(f"{n} {s}" for s, n in counts.items())
          + (f" ({checkpoint.loaded} chunks resumed)" if checkpoint.loaded else ""))
    if finite:
        print(_report.summary(rows, metric))
    print(f"wrote {args.out}/" + ", ".join(["results.csv", "params.npz", "run.json", *figures]))
    sys.stdout.flush()  # a closed pipe is reported here, not at exit
    _warn(warnings_)
    return 0


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
    sys.stdout.flush()
    return 0


def _bench(argv: list[str]) -> int:
    try:
        _require("bench", EXTRAS["bench"])
        try:
            from bench.__main__ import main as bench_main
        except ModuleNotFoundError as err:
            if (err.name or "").split(".")[0] != "bench":
                raise
            raise UsageError("the benchmarks are not installed with jaxlr; run them from a source checkout "
                             "(python -m bench, or jaxlr bench in the checkout's directory)") from None
        return bench_main(argv) or 0
    except UsageError as err:
        _say(f"jaxlr bench: error: {err}")
        return EXIT_USAGE
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] in EXTRAS["bench"]:
            _say(f"jaxlr bench: error: {_missing_extra('bench', [err.name.split('.')[0]])}")
            return EXIT_USAGE
        raise


# ----------------------------------------------------------------------------- main


def _say(line: str) -> None:
    """One line on stderr, even when stderr itself is a closed pipe."""
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        pass


def _detach_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null, so the interpreter's final flush does
    not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def default_out_dir(command: str) -> str:
    """A directory name no earlier run used: ``jaxlr-COMMAND-YYYYmmdd-HHMMSS`` (``-2``, ... if taken)."""
    base = f"jaxlr-{command}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, k = base, 1
    while os.path.exists(out):
        k += 1
        out = f"{base}-{k}"
    return out


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
    name = f"jaxlr {args.command}"
    if hasattr(args, "out") and args.out is None:
        if getattr(args, "resume", False):
            _say(f"{name}: error: --resume needs --out DIR (the directory of the run to resume)")
            return EXIT_USAGE
        args.out = default_out_dir(args.command)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # a kill exits like Ctrl-C
    try:
        return args.func(args)
    except UsageError as err:
        _say(f"{name}: error: {err}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        where = ""
        if args.command == "sweep":
            where = (f"; finished chunks are kept in {os.path.join(args.out, 'checkpoint')} "
                     f"(rerun with --resume --out {args.out})")
        _say(f"\n{name}: interrupted{where}")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. jaxlr sweep ... | head -1: the reader left early
        _detach_stdout()
        done = f"; the results in {args.out} are complete" if getattr(args, "published", False) else ""
        _say(f"{name}: error: standard output was closed early (broken pipe){done}")
        return EXIT_USAGE
    except ModuleNotFoundError as err:  # an optional dependency imported on the way
        top = (err.name or "").split(".")[0]
        if top not in EXTRAS["cli"]:
            raise
        _say(f"{name}: error: {_missing_extra('cli', [top])}")
        return EXIT_USAGE
    except OSError as err:  # a full disk, a directory without write permission, ...
        _say(f"{name}: error: {_os_error(err)}")
        return EXIT_USAGE
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
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
