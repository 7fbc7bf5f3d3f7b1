"""The commands: ``jaxlr fit``, ``jaxlr sweep`` and ``jaxlr demo``.

``fit`` and ``sweep`` read a data file (``_io``: the one check of X and of the labels), build the
core's ``Dataset`` from it once, call the functional API on it (``fit_dataset`` /
``sweep_dataset``: options map one-to-one onto ``jaxlr.Options``), and write ``results.csv``,
``params.npz``, ``run.json`` and figures into ``--out`` as one set. Scores, summaries and what
the figures show come from ``_report``; files from ``_outputs``; figures from ``_plots``.
"""

from __future__ import annotations

import os
import sys
import time

from .._train.data import from_codes
from ._args import model_options
from ._errors import EXTRA, UsageError, missing_extra, option_error, require

# what does not change a sweep's results (everything else keys its checkpoint)
RUN_ONLY = ("func", "argv", "options", "out", "force", "resume", "quiet", "cache_dir", "use_cache",
            "coordinator_address", "process_id", "distributed", "device_mesh", "command", "published")


def _setup_jax(args) -> tuple:
    """Join a multi-host job and build ``--mesh`` (``args.device_mesh``) before JAX creates any
    array; float64; the persistent compilation cache unless ``--no-cache`` or an empty
    ``$JAXLR_CACHE_DIR``. Returns the compile statistics, the cache directory really in use
    (``None``: off) and the warnings raised on the way."""
    import warnings

    import jax

    from .._api.cache import enable_compilation_cache, set_program_cache
    from ..distributed import initialize_from_args
    from . import _report

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
        set_program_cache(None)
    return _report.CompileStats().install(), cache_dir, list(caught)


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

    require(["matplotlib"] + ([] if args.quiet else ["tqdm"]))
    if getattr(args, "folds", None) is not None and args.test_size is not None:
        raise UsageError("--folds and --test-size both choose validation rows; give one")
    if getattr(args, "halving", None) is not None and args.folds is None:
        raise UsageError("--halving needs --folds: settings are ranked by their held-out fold loss")
    if not args.out.strip():
        raise UsageError(f"--out {args.out!r} is empty: give the directory for this run's files")
    run_dir = RunDir(args.out, force=args.force)
    if args.process_id in (None, 0):
        try:
            run_dir.check()
        except OutputError as err:
            raise UsageError(f"--out {args.out}: {err}") from None
    return run_dir


def _load(args):
    """The data file (checked once, labels encoded once), the train/validation rows, and the
    training rows as the core's ``Dataset``."""
    import numpy as np

    from . import _io

    try:
        table = _io.load(args.data, args.target, args.features)
    except _io.DataError as err:
        raise UsageError(str(err)) from None
    except ModuleNotFoundError as err:  # pyarrow for Parquet, scikit-learn for LIBSVM
        top = (err.name or "").split(".")[0]
        if top not in EXTRA:
            raise
        raise missing_extra([top]) from None
    codes = table.codes
    X = table.X.astype(args.dtype)
    if args.test_size is not None:
        try:
            train, test = _io.train_test_split(codes, args.test_size, args.split_seed)
        except ValueError as err:
            raise option_error(err, args.options) from None
        if len(np.unique(codes[train])) < len(table.classes):
            raise UsageError(f"--test-size {args.test_size:g} leaves a class without training rows")
    else:
        train, test = np.arange(len(codes)), None
    try:
        data = from_codes(X[train] if test is not None else X, codes[train], table.classes,
                          class_weight=args.class_weight, feature_names=tuple(table.feature_names))
    except (ValueError, TypeError) as err:
        raise option_error(err, args.options) from None
    return table, X, data, train, test


def _train(kind: str, unit: str, args, call):
    """Run ``call(progress_callback)`` (``fit_dataset``/``sweep_dataset``) under a progress bar,
    with its warnings recorded and its argument errors named by their options. Returns the
    result gathered onto this host (``None`` outside process 0, which alone writes) and the
    warnings."""
    import warnings

    from .. import distributed

    progress = _Progress(kind, args.quiet, unit)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call(progress.callback)
    except (ValueError, TypeError) as err:
        progress.close(False)
        raise option_error(err, args.options) from None
    except BaseException:  # Ctrl-C, SIGTERM: end the bar's line before the one-line message
        progress.close(False)
        raise
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


def _publish(args, run_dir, rows, params: dict, figures: dict, manifest: dict) -> None:
    """Write the run's files as one set (``RunDir.publish``)."""
    from ._outputs import OutputError, write_csv, write_json, write_npz, write_png

    files = {"results.csv": lambda p: write_csv(p, rows), "params.npz": lambda p: write_npz(p, **params)}
    for name, fig in figures.items():
        files[name] = lambda p, fig=fig: write_png(p, fig)
    files["run.json"] = lambda p: write_json(p, manifest)
    try:
        run_dir.publish(files)
    except OutputError as err:
        raise UsageError(f"--out {args.out}: {err}") from None
    args.published = True


def _finish(args, figures, warnings_) -> None:
    print(f"wrote {args.out}/" + ", ".join(["results.csv", "params.npz", "run.json", *figures]))
    sys.stdout.flush()  # a closed pipe is reported here, not at exit
    for message in dict.fromkeys(str(w.message) for w in warnings_):
        print(f"warning: {message}", file=sys.stderr)


def fit(args) -> int:
    t0 = time.perf_counter()
    run_dir = _start(args)
    table, X, data, train, test = _load(args)
    setup = _setup_jax(args)
    from .._api.fit import fit_dataset
    from . import _report

    result, caught = _train("fit", "step", args, lambda progress: fit_dataset(
        data, seed=args.seed, l2=args.l2, l1=args.l1, learning_rate=args.learning_rate, progress=progress,
        **model_options(args)))
    if result is None:
        return 0
    (row,) = _report.table_rows(result, X, table.codes, train, test)
    figures = _report.fit_figures(result, minibatch=args.batch_size is not None)
    warnings_ = setup[2] + caught
    manifest = _manifest(args, table, t0, setup, result, {
        "n_models": 1, "n_train": int(len(train)), "n_validation": 0 if test is None else int(len(test)),
        "status_counts": {result.status_name: 1}, "warnings": [str(w.message) for w in warnings_]})
    params = _report.params_arrays(result, table.feature_names, table.label_mapping)
    _publish(args, run_dir, [row], params, figures, manifest)
    val = (f"   validation: log-loss {row['val_loss']:.4f}, accuracy {row['val_accuracy']:.3f}, "
           f"AUC {row['val_auc']:.3f}") if test is not None else ""
    print(f"{result.status_name} after {row['n_iter']} steps ({result.config['solver']}): train log-loss "
          f"{row['train_loss']:.4f}, accuracy {row['train_accuracy']:.3f}, AUC {row['train_auc']:.3f}{val}")
    _finish(args, figures, warnings_)
    return 0


def _n_models(args) -> int:
    """The grid's size, from the options (the checkpoint's bound on the models it may hold)."""
    n_seeds = args.seeds if isinstance(args.seeds, int) else len(args.seeds)
    return max(0, n_seeds) * len(args.learning_rate) * len(args.l2) * len(args.l1) * (args.folds or 1)


def _checkpoint_key(args) -> dict:
    """What the checkpoint's chunks depend on: the data and every argument but those that cannot
    change a result (``RUN_ONLY``), the chunk layout and the device mesh included."""
    import json

    from . import _io
    from .. import __version__

    key = json.loads(json.dumps({k: v for k, v in vars(args).items() if k not in RUN_ONLY}, default=str))
    key["data"] = _io.sha256(args.data)
    key["n_models"] = _n_models(args)
    key["jaxlr"] = __version__
    return key


def sweep(args) -> int:
    t0 = time.perf_counter()
    run_dir = _start(args)
    table, X, data, train, test = _load(args)
    from ._outputs import DirCheckpoint

    checkpoint = DirCheckpoint(os.path.join(args.out, "checkpoint"), _checkpoint_key(args), args.resume,
                               n_models=_n_models(args))
    try:
        checkpoint.verify()
    except ValueError as err:  # settings differ from the interrupted run's
        raise UsageError(str(err)) from None
    setup = _setup_jax(args)
    import numpy as np

    from .._api.sweep import sweep_dataset
    from . import _report

    result, caught = _train("sweep", "model-step", args, lambda progress: sweep_dataset(
        data, seeds=args.seeds, folds=args.folds, halving=args.halving, l2=args.l2, l1=args.l1,
        learning_rate=args.learning_rate, progress=progress, checkpoint=checkpoint, **model_options(args)))
    if result is None:
        return 0
    K = len(result)
    if np.shape(result.coef)[0] != K:  # resumed chunks of another layout
        raise UsageError(f"--resume: the chunks in {checkpoint.directory} do not add up to this run's {K} models; "
                         "rerun without --resume to start over")
    rows = _report.table_rows(result, X, table.codes, train, test)
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
    _publish(args, run_dir, rows, params, figures, manifest)
    checkpoint.remove()  # results.csv and params.npz now hold everything the chunks did
    finite = [r for r in rows if r["status"] != "diverged" and np.isfinite(r[metric])]
    print(f"{K} models ({result.config['solver']}): " + ", ".join(f"{n} {s}" for s, n in counts.items())
          + (f" ({checkpoint.loaded} chunks resumed)" if checkpoint.loaded else ""))
    if finite:
        print(_report.summary(rows, metric))
    _finish(args, figures, warnings_)
    return 0


def demo(args) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)  # the seed computes in float64
    from .._api.demo import SEED_TEST_LOSS, run_demo

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





def _resampling(kind: str, args, call):
    """Run a resampling call under a progress bar, warnings recorded, argument errors named by
    their options (one process: no gathering)."""
    import warnings

    progress = _Progress(kind, args.quiet, "model-step")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call(progress.callback)
    except (ValueError, TypeError) as err:
        progress.close(False)
        raise option_error(err, args.options) from None
    except BaseException:
        progress.close(False)
        raise
    progress.close(True)
    return result, list(caught)


def bootstrap(args) -> int:
    """``jaxlr bootstrap``: intervals per parameter beside the Wald intervals of ``inference``."""
    t0 = time.perf_counter()
    run_dir = _start(args)
    table, X, data, train, test = _load(args)
    setup = _setup_jax(args)
    import warnings

    import numpy as np

    from .._api.bootstrap import bootstrap_dataset
    from .._api.inference import inference_dataset
    from .._api.resampling import settings
    from . import _plots, _report

    result, caught = _resampling("bootstrap", args, lambda progress: bootstrap_dataset(
        data, n_resamples=args.n_resamples, method=args.method, confidence_level=args.confidence_level,
        seed=args.seed, stratify=args.stratify, progress=progress,
        **settings(args.l2, args.l1, args.learning_rate), **model_options(args)))
    wald_rows, wald_kind = None, "none"
    with warnings.catch_warnings(record=True) as more:
        warnings.simplefilter("always")
        if data.n_classes != 2:  # softmax: the bootstrap reports centred intercepts, Wald does not
            warnings.warn("no Wald intervals beside the bootstrap's for more than two classes", UserWarning)
        else:
            try:
                wald = inference_dataset(result.fit, data, alpha=1 - args.confidence_level,
                                         feature_names=list(table.feature_names))
                wald_rows = (np.asarray(wald.ci_low), np.asarray(wald.ci_high), np.asarray(wald.std_err))
                wald_kind = wald.kind
            except ValueError as err:  # e.g. an L1 penalty: no Wald table
                warnings.warn(f"no Wald intervals: {err}", UserWarning)
    rows = result.rows()
    if wald_rows is not None:  # no column of NaNs where there is no Wald table
        for k, row in enumerate(rows):
            row["wald_std_err"], row["wald_low"], row["wald_high"] = (
                float(wald_rows[2][k]), float(wald_rows[0][k]), float(wald_rows[1][k]))
    level = f"{100 * args.confidence_level:g}%"
    nan = np.full(len(rows), np.nan)
    title = (f"jaxlr bootstrap: {level} {args.method} intervals, {int(result.used.sum())} of {result.n_resamples} "
             f"resamples\n(Wald: {wald_kind})")
    figures = {"bootstrap.png": _plots.interval_bars(
        result.names, result.estimate, result.low, result.high,
        wald_rows[0] if wald_rows is not None else nan, wald_rows[1] if wald_rows is not None else nan,
        title, f"bootstrap {args.method}")}
    warnings_ = setup[2] + caught + list(more)
    manifest = _manifest(args, table, t0, setup, result.fit, {
        "n_models": 1 + int(result.n_resamples) + (0 if result.jackknife is None else len(result.jackknife)),
        "n_train": int(len(train)),
        "status_counts": _report.status_counts([str(_status_label(s)) for s in result.status]),
        "warnings": [str(w.message) for w in warnings_]})
    params = dict(coef=result.coef, intercept=result.intercept, status=result.status, seeds=result.seeds,
                  names=np.array(result.names), estimate=result.estimate, low=result.low, high=result.high)
    _publish(args, run_dir, rows, params, figures, manifest)
    print(result.table())
    _finish(args, figures, warnings_)
    return 0


def _status_label(code) -> str:
    from .._core.status import Status

    return Status(int(code)).label


def stability(args) -> int:
    """``jaxlr stability``: selection probabilities per feature and l1, and the stability path."""
    t0 = time.perf_counter()
    run_dir = _start(args)
    table, X, data, train, test = _load(args)
    setup = _setup_jax(args)
    import numpy as np

    from .._api.resampling import check_open_unit
    from .._api.stability import stability_dataset
    from . import _plots, _report

    try:
        threshold = check_open_unit("threshold", args.threshold)
    except ValueError as err:
        raise option_error(err, args.options) from None
    result, caught = _resampling("stability", args, lambda progress: stability_dataset(
        data, l1=args.l1, n_subsamples=args.n_subsamples, fraction=args.fraction, seed=args.seed,
        complementary_pairs=args.complementary_pairs, l2=args.l2, learning_rate=args.learning_rate,
        progress=progress, **model_options(args)))
    rows = [{"name": str(n), "l1": float(a), "probability": float(result.probability[i, j])}
            for j, n in enumerate(result.names) for i, a in enumerate(result.l1)]
    n_fits = result.status.size
    title = (f"jaxlr stability selection: {result.status.shape[0]} subsamples of {result.fraction:g} of the rows"
             + (", complementary pairs" if result.complementary_pairs else ""))
    figures = {"stability_path.png": _plots.stability_path(result.l1, result.probability, result.names, title,
                                                           threshold)}
    warnings_ = setup[2] + caught
    manifest = _manifest(args, table, t0, setup, result, {
        "n_models": int(n_fits), "n_train": int(len(train)),
        "status_counts": _report.status_counts([_status_label(s) for s in result.status.reshape(-1)]),
        "selected": result.selected(threshold), "warnings": [str(w.message) for w in warnings_]})
    params = dict(coef=result.coef, intercept=result.intercept, status=result.status, l1=result.l1,
                  probability=result.probability, names=np.array(result.names), seeds=result.seeds)
    _publish(args, run_dir, rows, params, figures, manifest)
    print(result.table())
    print(f"stable at threshold {threshold:g}: {', '.join(result.selected(threshold)) or 'none'}")
    _finish(args, figures, warnings_)
    return 0
def permutation(args) -> int:
    """``jaxlr permutation``: the score, the permutation scores and the p-value, and a histogram."""
    t0 = time.perf_counter()
    run_dir = _start(args)
    table, X, data, train, test = _load(args)
    setup = _setup_jax(args)
    from .._api.permutation import permutation_dataset
    from . import _plots, _report

    result, caught = _resampling("permutation", args, lambda progress: permutation_dataset(
        data, n_permutations=args.n_permutations, cv=args.cv, scoring=args.scoring, seed=args.seed, l2=args.l2,
        l1=args.l1, learning_rate=args.learning_rate, progress=progress, **model_options(args)))
    rows = [{"permutation": 0, "labels": "true", "score": result.score}]
    rows += [{"permutation": k + 1, "labels": "permuted", "score": float(s)}
             for k, s in enumerate(result.permutation_scores)]
    title = (f"jaxlr permutation test: {args.scoring}, {len(result.permutation_scores)} permutations, "
             f"{result.fold_scores.shape[1]} folds, p = {result.pvalue:.3g}")
    figures = {"permutation.png": _plots.permutation_histogram(result.score, result.permutation_scores, title,
                                                               args.scoring)}
    warnings_ = setup[2] + caught
    manifest = _manifest(args, table, t0, setup, _Config(result.config), {
        "n_models": int(result.status.size), "n_train": int(len(train)), "score": result.score,
        "pvalue": result.pvalue, "status_counts": _report.status_counts([_status_label(s)
                                                                          for s in result.status.reshape(-1)]),
        "warnings": [str(w.message) for w in warnings_]})
    params = dict(permutation_scores=result.permutation_scores, fold_scores=result.fold_scores,
                  status=result.status)
    _publish(args, run_dir, rows, params, figures, manifest)
    print(result.table())
    _finish(args, figures, warnings_)
    return 0


class _Config:
    """What ``_manifest`` reads of a result: its ``config``."""

    def __init__(self, config):
        self.config = config


__all__ = ["fit", "sweep", "demo", "bootstrap", "stability", "permutation"]
