"""Successive halving over the lanes of a cross-validated sweep.

A *setting* is one combination of ``learning_rate``, ``l2`` and ``l1``; its *lanes* are its
models over the folds and seeds. All lanes start together. At each *rung* (cumulative step
budgets ``b_0, b_0 f, b_0 f^2, ...`` for the factor ``f``), every setting still in the race is
scored by the mean over its lanes of the held-out fold loss (``validation_loss``), and only the
best ``ceil(S / f)`` of the ``S`` settings continue. The models of the others get status
``pruned`` (running ones stop there; converged ones too are marked, so the finalists are exactly
the models not pruned; diverged ones keep ``diverged``) and ``rung = r``. Once one setting is left
(or the next rung would reach ``steps``), the finalists run to tolerance within the sweep's
``steps``; their ``rung`` is the number of rungs.

Between rungs the host keeps the lanes: each rung is one ``fit_many`` call on the running lanes
of the surviving settings, warm-started from their parameters (the parameters carry over
exactly; solver state such as L-BFGS curvature pairs or momentum restarts at a rung). The work
this saves is counted by the sweep's own counters: ``n_iter`` summed over models, and
``lane_steps_computed()``.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from . import _data
from . import sharding as _sharding
from ._lanes import check_init, fit_many
from ._model import host_logits
from ._results import HISTORY_HEAD, HISTORY_SIZE, FrozenDict, Status, SweepResult, history_steps

SETTING_KEYS = ("learning_rate", "l2", "l1")


def schedule(n_settings: int, factor: int, steps: int, rung_steps: int | None) -> list[int]:
    """The cumulative step budgets at which settings are ranked: ``b_0 f^r`` for the
    ``ceil(log_f(n_settings))`` rungs that leave one setting, those below ``steps`` kept.
    ``b_0`` is ``rung_steps``, by default ``steps / f^R`` (the last rung then ends at ``steps / f``)."""
    rungs = math.ceil(math.log(n_settings) / math.log(factor) - 1e-12) if n_settings > 1 else 0
    first = rung_steps if rung_steps is not None else max(1, steps // factor ** rungs)
    budgets = [first * factor ** r for r in range(rungs)]
    return [b for b in budgets if b < steps]


VALIDATION_CHUNK = 2**24  # logits held at once by ``validation_loss`` (128 MiB in float64)


def validation_loss(X, y, weights, coef, intercept) -> np.ndarray:
    """(k,) weighted mean log-loss of k models (coef (k, n[, C]), intercept (k[, C])) on the rows
    weighted by their row of ``weights`` (k, m), on the host in NumPy (nothing compiles; about
    one training step's work, models in chunks of ``VALIDATION_CHUNK`` logits): binary
    ``[(1-y) z if z >= 0 else -y z] + log1p(exp(-|z|))`` (``losses.binary_log_loss``), softmax
    ``logsumexp(z) - z[y]``."""
    coef, intercept, weights = np.asarray(coef), np.asarray(intercept), np.asarray(weights)
    m, n_out = X.shape[0], 1 if coef.ndim == 2 else coef.shape[2]
    step = max(1, VALIDATION_CHUNK // (m * n_out))
    out = np.empty(coef.shape[0], np.result_type(X.dtype, coef.dtype))
    for lo in range(0, coef.shape[0], step):
        c, b, w = coef[lo:lo + step], intercept[lo:lo + step], weights[lo:lo + step]
        if coef.ndim == 2:
            z = host_logits(X, c, b)  # (k, m)
            loss = np.where(z >= 0, (1 - y) * z, -y * z) + np.log1p(np.exp(-np.abs(z)))
        else:
            z = host_logits(X, c, b)  # (k, m, C)
            top = z.max(axis=-1, keepdims=True)
            lse = top[..., 0] + np.log(np.sum(np.exp(z - top), axis=-1))
            loss = lse - np.take_along_axis(z, np.asarray(y, np.int64)[None, :, None], axis=-1)[..., 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[lo:lo + step] = np.sum(w * loss, axis=1) / np.sum(w, axis=1)
    return out


class _RungCheckpoint:
    """A sweep checkpoint seen by one rung: its chunk ``c`` is stored as ``rung * 100000 + c``."""

    def __init__(self, base, rung: int):
        self.base, self.offset = base, rung * 100_000

    def load(self, chunk):
        return self.base.load(self.offset + chunk)

    def save(self, chunk, result):
        self.base.save(self.offset + chunk, result)


def successive_halving(X, y, *, grid: Sequence[dict], factor: int, rung_steps: int | None,
                       fold_weights, validation_weights, steps: int, init=None, sample_weight=None,
                       class_weight=None, standardize: bool = False, progress: Callable | None = None,
                       checkpoint=None, mesh=None, **options: Any) -> SweepResult:
    """Train ``grid`` (dicts with seed, learning_rate, l2, l1 and fold) by successive halving.

    ``fold_weights`` (F, m): training masks; ``validation_weights`` (F, m): held-out masks;
    ``options``: the other ``fit_many`` options (solver, tol, fit_intercept, batch_size, ...).
    """
    ds = _data.check_dataset(X, y, sample_weight, class_weight)
    K = len(grid)
    n_features, n_classes, dtype = ds.X.shape[1], ds.n_classes, ds.X.dtype
    folds = np.array([g["fold"] for g in grid])
    held_out = np.asarray(validation_weights, dtype)[folds] * ds.sample_weight[None, :]  # (K, m)
    keys = [tuple(g[k] for k in SETTING_KEYS) for g in grid]
    settings = list(dict.fromkeys(keys))
    lanes_of = {s: np.array([k for k in range(K) if keys[k] == s]) for s in settings}
    budgets = schedule(len(settings), factor, steps, rung_steps)
    ends = budgets + [steps]

    start = check_init(init, K, n_features, n_classes, dtype)
    coef = np.zeros((K,) + ((n_features,) if n_classes == 2 else (n_features, n_classes)), dtype)
    intercept = np.zeros((K,) + (() if n_classes == 2 else (n_classes,)), dtype)
    if start is not None:
        coef[:], intercept[:] = start
    n_iter = np.zeros(K, np.int64)
    status = np.full(K, int(Status.RUNNING), np.int64)
    objective = np.full(K, np.nan, dtype)
    residual = np.full(K, np.nan, dtype)
    rung = np.full(K, len(budgets), np.int64)  # finalists: past the last rung
    histories: list = []  # (first step, end step, lanes, loss history) per rung
    alive = list(settings)
    planned = sum(len(lanes_of[s]) for s in settings) * ends[0] + sum(
        math.ceil(len(settings) / factor ** (r + 1)) * len(lanes_of[settings[0]]) * (ends[r + 1] - ends[r])
        for r in range(len(budgets)))
    done_work = 0
    config = None

    for r, end in enumerate(ends):
        begin = 0 if r == 0 else ends[r - 1]
        lanes = np.concatenate([lanes_of[s] for s in alive])
        lanes = np.sort(lanes[status[lanes] == Status.RUNNING])
        if lanes.size:
            report = None if progress is None else (
                lambda done, total, base=done_work: progress(min(base + done, planned), planned))
            sub = [grid[k] for k in lanes]
            result = fit_many(
                X, y, l2=[g["l2"] for g in sub], l1=[g["l1"] for g in sub],
                learning_rate=[g["learning_rate"] for g in sub], seed=[g["seed"] for g in sub],
                fold=list(folds[lanes]), fold_weights=fold_weights, steps=end - begin,
                init=(coef[lanes], intercept[lanes]) if (r > 0 or start is not None) else None,
                sample_weight=sample_weight, class_weight=class_weight, standardize=standardize, grid=sub,
                progress=report, checkpoint=None if checkpoint is None else _RungCheckpoint(checkpoint, r),
                mesh=mesh, **options)
            host = _sharding.to_host
            coef[lanes], intercept[lanes] = host(result.coef), host(result.intercept)
            n_iter[lanes] += host(result.n_iter)
            status[lanes] = host(result.status)
            objective[lanes], residual[lanes] = host(result.objective), host(result.residual)
            histories.append((begin, end, lanes, host(result.loss_history)))
            done_work += lanes.size * (end - begin)
            config = result.config
        if r == len(budgets):
            break
        # a lane that spent the rung's budget runs on: only the sweep's own budget ends it
        stopped_by_rung = lanes[np.isin(status[lanes], (Status.MAX_ITER, Status.DONE))]
        status[stopped_by_rung] = Status.RUNNING
        racing = np.concatenate([lanes_of[s] for s in alive])  # setting by setting
        scores = validation_loss(ds.X, ds.y, held_out[racing], coef[racing], intercept[racing])
        by_setting, offset = [], 0
        for s in alive:
            value = np.mean(scores[offset: offset + len(lanes_of[s])])
            by_setting.append(np.inf if not np.isfinite(value) else value)
            offset += len(lanes_of[s])
        keep = max(1, math.ceil(len(alive) / factor))
        order = np.argsort(np.asarray(by_setting), kind="stable")  # ties: grid order
        survivors = [alive[i] for i in sorted(order[:keep])]
        for i in order[keep:]:  # every model of a setting ranked out (diverged ones keep saying so)
            dropped = lanes_of[alive[i]]
            status[dropped[np.isin(status[dropped], (Status.RUNNING, Status.CONVERGED))]] = Status.PRUNED
            rung[dropped] = r
        alive = survivors
    if progress is not None:
        progress(planned, planned)

    final = validation_loss(ds.X, ds.y, held_out, coef, intercept)
    history = _join_histories(histories, K, steps, objective)
    config = FrozenDict({**(config or {}), "steps": int(steps), "halving": int(factor),
                         "rungs": tuple(int(b) for b in budgets)})
    arrays = (coef, intercept, history, n_iter, status, objective, residual)
    W = np.asarray(fold_weights, dtype) * ds.sample_weight[None, :]
    if mesh is not None:
        from ._lanes import _on_mesh

        n_lane_dev = _sharding.axis_size(mesh, _sharding.AXES[0])
        arrays = tuple(_on_mesh(a, mesh, n_lane_dev) for a in arrays)
    return SweepResult(*arrays, fold_weights=W, validation_loss=final, rung=rung,
                       grid=tuple(FrozenDict(g) for g in grid), classes=tuple(ds.classes.tolist()), config=config)


def _join_histories(histories, K: int, steps: int, last_value: np.ndarray) -> np.ndarray:
    """One loss history per model over the sweep's ``steps`` (recorded at the steps a plain sweep
    records, ``history_steps``), read off each rung's own history (the entry recorded at or
    just before the step); a model's entries after it stopped hold its last value, as a frozen
    lane's do."""
    length = min(steps, HISTORY_SIZE)
    at = history_steps(steps, length, HISTORY_HEAD)
    out = np.repeat(np.asarray(last_value)[:, None], length, axis=1)
    for begin, end, lanes, hist in histories:
        recorded = history_steps(end - begin, hist.shape[1], HISTORY_HEAD)  # the rung's local steps
        span = np.flatnonzero((at >= begin) & (at < end))
        cols = np.searchsorted(recorded, at[span] - begin, side="right") - 1
        out[np.ix_(lanes, span)] = np.asarray(hist)[:, cols]
    return out


__all__ = ["successive_halving", "schedule", "validation_loss", "SETTING_KEYS"]
