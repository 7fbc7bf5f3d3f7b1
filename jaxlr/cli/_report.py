"""Reporting for the command line: per-model scores, the results table, the printed summary,
what each figure shows, and the run manifest.

A shell: it takes a ``FitResult``/``SweepResult`` and the data, and returns plain rows,
arrays and dicts; it prints nothing and writes no file (``cli`` writes, ``_plots`` draws).
Scores are computed from the reported parameters on the host rows, so they hold for
whatever the core did to fit them (standardized features, folds, a device mesh).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from .._train.grid import FIELDS, SETTINGS
from .._train.scoring import METRICS, lane_scores



# ----------------------------------------------------------------------------- scores


def evaluation_weights(result, n_rows: int, train: np.ndarray, test: np.ndarray | None):
    """(K, n_rows) 0/1 weights of the rows each model is scored on: (training, validation);
    validation is ``None`` without a held-out set or folds. ``train``/``test`` index the rows
    of the file; with folds, a model validates on the training rows its fold left out."""
    K = len(result) if result.is_sweep else 1
    w_train = np.zeros((K, n_rows))
    w_val = None
    if getattr(result, "fold_weights", None) is not None:
        fold_w = np.asarray(result.fold_weights)[[g["fold"] for g in result.grid]]
        w_train[:, train] = fold_w > 0
        w_val = np.zeros((K, n_rows))
        w_val[:, train] = fold_w == 0
        return w_train, w_val
    w_train[:, train] = 1
    if test is not None:
        w_val = np.zeros((K, n_rows))
        w_val[:, test] = 1
    return w_train, w_val


def table_rows(result, X, codes: np.ndarray, train: np.ndarray, test: np.ndarray | None) -> list[dict]:
    """One row per model: its seed and hyperparameters, status, n_iter, objective, residual,
    and training (and validation) log-loss, accuracy and AUC."""
    coef, intercept = np.asarray(result.coef), np.asarray(result.intercept)
    if not result.is_sweep:
        coef, intercept = coef[None], intercept[None]
    w_train, w_val = evaluation_weights(result, X.shape[0], train, test)
    y = codes.astype(coef.dtype) if coef.ndim == 2 else codes
    s_train = lane_scores(X, y, coef, intercept, w_train, metrics=METRICS)
    s_val = lane_scores(X, y, coef, intercept, w_val, metrics=METRICS) if w_val is not None else None
    rows = []
    for k, base in enumerate(result.rows()):
        row = {**{c: base[c] for c in FIELDS if c in base},
               **{c: base[c] for c in ("status", "n_iter", "objective", "residual", "rung") if c in base}}
        for j, name in enumerate(METRICS):
            row[f"train_{name}"] = float(s_train[k, j])
        for j, name in enumerate(METRICS):
            row[f"val_{name}"] = float(s_val[k, j]) if s_val is not None else ""
        rows.append(row)
    return rows


def status_counts(statuses: Sequence[str]) -> dict[str, int]:
    return {s: list(statuses).count(s) for s in sorted(set(statuses))}


# ----------------------------------------------------------------------------- settings and replicates


def varying(rows: Sequence[dict], keys: Sequence[str] = SETTINGS) -> list[str]:
    """The hyperparameters that take more than one value, most values first."""
    counts = {k: len({r[k] for r in rows}) for k in keys if k in rows[0]}
    return sorted((k for k, c in counts.items() if c > 1), key=lambda k: -counts[k])


def _replicate_means(members: Sequence[dict], metric: str) -> tuple[np.ndarray, str | None]:
    """The spread unit of a setting's models: per fold the mean over seeds (with folds), else
    per seed; diverged models left out. Returns (means, "folds" / "seeds" / None)."""
    ok = [r for r in members if r["status"] != "diverged" and np.isfinite(r[metric])]
    unit = "fold" if "fold" in members[0] and len({r["fold"] for r in members}) > 1 else \
        "seed" if len({r["seed"] for r in members}) > 1 else None
    if unit is None:
        return np.array([r[metric] for r in ok], float), None
    groups: dict = {}
    for r in ok:
        groups.setdefault(r[unit], []).append(r[metric])
    return np.array([np.mean(v) for v in groups.values()], float), unit + "s"


def summary(rows: list[dict], metric: str, top: int = 5) -> str:
    """The best settings by ``metric``, averaged over seeds and folds (diverged models left out)."""
    keys = varying(rows) or ["l2"]
    over = "seeds and folds" if "fold" in rows[0] else "seeds"
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


# ----------------------------------------------------------------------------- figure data


@dataclasses.dataclass
class CurveGroup:
    """The loss curves of one setting, aggregated over its seeds and folds."""

    setting: dict  # e.g. {"learning_rate": 0.1, "l2": 0.001}
    steps: np.ndarray  # (T,) step of each entry
    median: np.ndarray  # (T,) over the models that did not diverge (NaN if none)
    low: np.ndarray  # (T,) min over them
    high: np.ndarray  # (T,) max over them
    n_models: int
    diverged: list  # (T,) histories of the diverged models, drawn one by one
    stops: list  # (step, value, status) where each model stopped (not for a fixed budget)


def curve_groups(result, smooth: int = 1) -> tuple[list[CurveGroup], list[str]]:
    """Per setting (learning_rate, l2, l1), the median and min-max of the loss histories of its
    models; where each stopped. ``smooth > 1``: a moving average over that many entries first
    (noisy minibatch objectives). Returns the groups and the hyperparameters that vary."""
    hist = np.atleast_2d(np.asarray(result.loss_history, float))
    steps = np.asarray(result.loss_history_steps)
    n_iter = np.atleast_1d(np.asarray(result.n_iter))
    objective = np.atleast_1d(np.asarray(result.objective, float))
    statuses = list(result.status_name) if result.is_sweep else [result.status_name]
    grid = list(result.grid) if result.is_sweep else [dict(result.config)]
    # cut the flat tail after the last model stopped
    keep = max(2, int(np.searchsorted(steps, int(n_iter.max()), side="right")) + 1)
    hist, steps = hist[:, :keep], steps[:keep]
    if smooth > 1 and hist.shape[1] > 2 * smooth:  # trailing mean; over the entries so far at the start
        c = np.cumsum(hist, axis=1)
        lagged = np.concatenate([np.zeros((len(hist), smooth)), c[:, :-smooth]], axis=1)
        hist = (c - lagged) / np.minimum(np.arange(1, hist.shape[1] + 1), smooth)
    vary = varying(grid)
    groups: dict = {}
    for k, g in enumerate(grid):
        groups.setdefault(tuple(g[key] for key in vary), []).append(k)
    out = []
    for setting, members in sorted(groups.items()):
        ok = [k for k in members if statuses[k] != "diverged"]
        with np.errstate(all="ignore"):
            block = hist[ok] if ok else np.full((1, hist.shape[1]), np.nan)
            median, low, high = np.median(block, 0), np.min(block, 0), np.max(block, 0)
        stops = []
        for k in members:
            if statuses[k] in ("converged", "max_iter"):
                stops.append((int(n_iter[k]), float(objective[k]), statuses[k]))
            elif statuses[k] == "diverged":
                finite = hist[k][np.isfinite(hist[k])]
                idx = min(int(np.searchsorted(steps, int(n_iter[k]))), len(steps) - 1)
                stops.append((int(steps[idx]), float(finite[-1]) if finite.size else np.nan, "diverged"))
        out.append(CurveGroup(dict(zip(vary, setting)), steps, median, low, high, len(members),
                              [hist[k] for k in members if statuses[k] == "diverged"], stops))
    return out, vary


@dataclasses.dataclass
class GridCells:
    """A loss over two hyperparameters: per cell the mean over its models, the spread of the
    per-fold (else per-seed) means, and how many of its models diverged."""

    row_key: str
    col_key: str
    row_values: list
    col_values: list
    mean: np.ndarray  # (R, C), NaN where every model diverged
    spread: np.ndarray  # (R, C) standard deviation across the spread unit (NaN with one)
    spread_over: str | None  # "folds", "seeds" or None
    n_diverged: np.ndarray  # (R, C)
    n_models: np.ndarray  # (R, C)
    averaged_over: list  # other hyperparameters that vary (averaged into each cell)


def grid_cells(rows: list[dict], metric: str) -> GridCells:
    vary = varying(rows)
    axes = (vary + [k for k in ("l2", "learning_rate") if k not in vary])[:2]
    row_key, col_key = axes
    row_values = sorted({r[row_key] for r in rows})
    col_values = sorted({r[col_key] for r in rows})
    shape = (len(row_values), len(col_values))
    mean, spread = np.full(shape, np.nan), np.full(shape, np.nan)
    n_div, n_all = np.zeros(shape, int), np.zeros(shape, int)
    over = None
    for i, rv in enumerate(row_values):
        for j, cv in enumerate(col_values):
            cell = [r for r in rows if r[row_key] == rv and r[col_key] == cv]
            if not cell:
                continue
            n_all[i, j] = len(cell)
            n_div[i, j] = sum(r["status"] == "diverged" for r in cell)
            ok = [r[metric] for r in cell if r["status"] != "diverged" and np.isfinite(r[metric])]
            if ok:
                mean[i, j] = np.mean(ok)
            means, unit = _replicate_means(cell, metric)
            over = over or unit
            if unit and len(means) > 1:
                spread[i, j] = np.std(means, ddof=1)
    return GridCells(row_key, col_key, row_values, col_values, mean, spread, over, n_div, n_all,
                     [k for k in vary if k not in axes])


@dataclasses.dataclass
class SettingCurve:
    """A loss against the one hyperparameter that varies."""

    key: str
    values: np.ndarray  # (V,) sorted
    mean: np.ndarray  # (V,) validation (else training) metric, mean over the models not diverged
    low: np.ndarray  # (V,) min over the per-fold (else per-seed) means
    high: np.ndarray  # (V,) max over them
    replicates: list  # per value, the per-fold (else per-seed) means
    spread_over: str | None
    train_mean: np.ndarray | None  # (V,) training loss, when ``mean`` is a validation loss
    n_diverged: np.ndarray
    n_models: np.ndarray


def setting_curve(rows: list[dict], metric: str) -> SettingCurve | None:
    """``None`` unless exactly one hyperparameter varies."""
    vary = varying(rows)
    if len(vary) != 1:
        return None
    key = vary[0]
    values = sorted({r[key] for r in rows})
    mean, low, high, reps, train, n_div, n_all = [], [], [], [], [], [], []
    over = None
    for v in values:
        members = [r for r in rows if r[key] == v]
        ok = [r for r in members if r["status"] != "diverged" and np.isfinite(r[metric])]
        means, unit = _replicate_means(members, metric)
        over = over or unit
        mean.append(np.mean([r[metric] for r in ok]) if ok else np.nan)
        low.append(means.min() if means.size else np.nan)
        high.append(means.max() if means.size else np.nan)
        reps.append(means)
        train.append(np.mean([r["train_loss"] for r in ok]) if ok else np.nan)
        n_div.append(len(members) - len([r for r in members if r["status"] != "diverged"]))
        n_all.append(len(members))
    return SettingCurve(key, np.array(values, float), np.array(mean), np.array(low), np.array(high), reps, over,
                        np.array(train) if metric != "train_loss" else None, np.array(n_div), np.array(n_all))


# ----------------------------------------------------------------------------- run.json


def manifest(*, command: str, config: dict, data: dict, result_config: dict, wall_time_s: float,
             compile_stats, cache_dir: str | None, extra: dict[str, Any]) -> dict:
    """What ``run.json`` holds: the command, its options, the data (path, hash, mapping), the
    versions and devices, times, the compilation cache as it really was, and ``extra``."""
    import platform
    import sys
    from importlib import metadata

    import jax

    from .. import __version__

    def version(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "command": command,
        "config": config,
        "solver": result_config.get("solver"),  # "auto" resolved
        "resolved": dict(result_config),
        "data": data,
        "versions": {"jaxlr": __version__, "jax": jax.__version__, "jaxlib": version("jaxlib"),
                     "optax": version("optax"), "numpy": np.__version__, "python": sys.version.split()[0]},
        "platform": platform.platform(),
        "devices": [str(d) for d in jax.devices()],
        "dtype": config.get("dtype"),
        "wall_time_s": wall_time_s,
        "compile_time_s": compile_stats.compile_s,
        "trace_and_lower_time_s": compile_stats.trace_s,
        "compilation_cache": {"enabled": cache_dir is not None, "dir": cache_dir,
                              "hits": compile_stats.hits, "misses": compile_stats.misses,
                              "hit": bool(cache_dir is not None and compile_stats.hits > 0
                                          and compile_stats.misses == 0)},
        **extra,
    }


# ----------------------------------------------------------------------------- what a run writes


def smoothing(result, minibatch: bool) -> int:
    """Minibatch objectives are noisy: curves are a moving average over ~4% of the history."""
    return max(1, int(np.shape(result.loss_history)[-1]) // 25) if minibatch else 1


def _objective_label(smooth: int) -> str:
    return "training objective" if smooth == 1 else f"minibatch objective (moving average of {smooth} entries)"


def fit_figures(result, minibatch: bool) -> dict:
    """``loss_curve.png`` of one model: its objective per step and where it stopped."""
    from . import _plots

    smooth = smoothing(result, minibatch)
    groups, _ = curve_groups(result, smooth=smooth)
    cfg = result.config
    title = f"jaxlr fit: solver={cfg['solver']}, l2={cfg['l2']:g}, status={result.status_name}"
    return {"loss_curve.png": _plots.loss_curves(groups, [], title, ylabel=_objective_label(smooth))}


def sweep_figures(result, rows: list[dict], has_validation: bool, minibatch: bool) -> dict:
    """``loss_curve.png`` per setting; ``validation_curve.png`` when one hyperparameter varies,
    ``heatmap.png`` when two or more do (a 1 x N heatmap says less than a line)."""
    from . import _plots

    metric = "val_loss" if has_validation else "train_loss"
    what = f"{'validation' if has_validation else 'training'} log-loss"
    note = "" if has_validation else " (no --test-size/--folds: training rows)"
    n_seeds = len({g["seed"] for g in result.grid})
    n_folds = len({g["fold"] for g in result.grid}) if "fold" in result.grid[0] else 1
    replicates = " x ".join(n for n, c in (("seeds", n_seeds), ("folds", n_folds)) if c > 1) or "models"
    counts = status_counts(result.status_name)
    smooth = smoothing(result, minibatch)
    groups, vary = curve_groups(result, smooth=smooth)
    title = (f"jaxlr sweep: {len(result)} models, solver={result.config['solver']}\n"
             + ", ".join(f"{n} {s}" for s, n in counts.items()))
    figures = {"loss_curve.png": _plots.loss_curves(groups, vary, title, ylabel=_objective_label(smooth),
                                                    replicates=replicates)}
    line = setting_curve(rows, metric)
    if line is not None:
        figures["validation_curve.png"] = _plots.setting_curve(line, f"{what} against {line.key}{note}", what)
    elif len(vary) >= 2:
        cells = grid_cells(rows, metric)
        spread = f"; ± sd across {cells.spread_over}" if cells.spread_over else ""
        others = f"; averaged over {', '.join(cells.averaged_over)}" if cells.averaged_over else ""
        title = f"{what}, mean over {replicates}{spread}{others}" + (f"\n{note.strip()}" if note else "")
        figures["heatmap.png"] = _plots.heatmap(cells, title, what)
    return figures


def params_arrays(result, feature_names: Sequence[str], classes: Sequence) -> dict:
    """What ``params.npz`` holds: coefficients, intercepts, names, and each model's settings."""
    arrays = dict(coef=np.asarray(result.coef), intercept=np.asarray(result.intercept),
                  feature_names=np.array(list(feature_names)), classes=np.array([str(k) for k in classes]))
    if result.is_sweep:
        arrays.update({c: np.array([g[c] for g in result.grid]) for c in FIELDS if c in result.grid[0]})
    return arrays


class CompileStats:
    """Compilation time and persistent-cache hits (JAX's cache, or a program jaxlr kept) in this
    process, from ``jax.monitoring`` events (for ``run.json``); ``install()`` starts listening."""

    def __init__(self):
        self.hits = self.misses = 0
        self.compile_s = 0.0  # XLA backend compilation (or fetching it from the persistent cache)
        self.trace_s = 0.0  # tracing to a jaxpr and lowering to StableHLO, which the cache cannot skip

    def install(self):
        import jax

        from .._core.programs import LOADED_EVENT

        def on_event(event, **_):
            if event in ("/jax/compilation_cache/cache_hits", LOADED_EVENT):  # JAX's executables, or jaxlr's
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


def data_record(path: str, table) -> dict:
    """The data file in ``run.json``: where, what format, its hash, size and label mapping."""
    import os

    from . import _io

    return {"path": os.path.abspath(path), "format": table.format, "sha256": _io.sha256(path),
            "rows": int(table.X.shape[0]), "features": list(table.feature_names), "target": table.target,
            "label_mapping": {str(k): v for k, v in table.label_mapping.items()}}


__all__ = ["evaluation_weights", "table_rows", "status_counts", "varying",
           "summary", "CurveGroup", "curve_groups", "GridCells", "grid_cells", "SettingCurve", "setting_curve",
           "manifest", "smoothing", "fit_figures", "sweep_figures", "params_arrays", "CompileStats", "data_record"]
