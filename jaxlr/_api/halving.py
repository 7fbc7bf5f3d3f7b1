"""Successive halving over the lanes of a cross-validated sweep.

A *setting* is one combination of ``learning_rate``, ``l2`` and ``l1``; its *lanes* are its
models over the folds and seeds. All lanes start together. At each *rung* (cumulative step
budgets ``b_0, b_0 f, b_0 f^2, ...`` for the factor ``f``), every setting still in the race is
scored by the mean over its lanes of the held-out fold loss (``_train.scoring``), and only the
best ``ceil(S / f)`` of the ``S`` settings continue. The models of the others get status
``pruned`` (running ones stop there; converged ones too are marked, so the finalists are exactly
the models not pruned; diverged ones keep ``diverged``) and ``rung = r``. Once one setting is left
(or the next rung would reach ``steps``), the finalists run to tolerance within the sweep's
``steps``; their ``rung`` is the number of rungs.

Between rungs the host keeps the lanes: each rung is one call of the sweep's ``Trainer`` (the
data padded and placed once for all rungs) on the running lanes of the surviving settings,
warm-started from their parameters (the parameters carry over exactly; solver state such as
L-BFGS curvature pairs or momentum restarts at a rung). The work this saves is counted by the
result's own counters: ``n_iter`` summed over models, and ``config["lane_steps"]`` (model-steps
computed, padding lanes included).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .._core.status import HISTORY_HEAD, HISTORY_SIZE, Status, history_steps
from .._train.grid import SETTINGS, FrozenDict, Grid
from .._train.layout import on_mesh
from .._train.mesh import to_host
from .._train.results import SweepResult
from .._train.scoring import lane_scores
from .._train.train import Trainer


def schedule(n_settings: int, factor: int, steps: int, rung_steps: int | None) -> list[int]:
    """The cumulative step budgets at which settings are ranked: ``b_0 f^r`` for the
    ``ceil(log_f(n_settings))`` rungs that leave one setting, those below ``steps`` kept.
    ``b_0`` is ``rung_steps``, by default ``steps / f^R`` (the last rung then ends at ``steps / f``)."""
    rungs = math.ceil(math.log(n_settings) / math.log(factor) - 1e-12) if n_settings > 1 else 0
    first = rung_steps if rung_steps is not None else max(1, steps // factor ** rungs)
    budgets = [first * factor ** r for r in range(rungs)]
    return [b for b in budgets if b < steps]


class _RungCheckpoint:
    """A sweep checkpoint seen by one rung: its chunk ``c`` is stored as ``rung * 100000 + c``."""

    def __init__(self, base, rung: int):
        self.base, self.offset = base, rung * 100_000

    def load(self, chunk):
        return self.base.load(self.offset + chunk)

    def save(self, chunk, result):
        self.base.save(self.offset + chunk, result)


def successive_halving(trainer: Trainer, grid: Grid, held_out: np.ndarray, *, factor: int,
                       rung_steps: int | None, init=None, progress: Callable | None = None,
                       checkpoint=None) -> SweepResult:
    """Train ``grid`` (with folds) by successive halving on ``trainer``'s data and options.

    ``held_out`` (F, m): the held-out rows' weights of each fold; ``init``: checked starting
    arrays (coef (K, ...), intercept (K, ...)) or None.
    """
    data, steps = trainer.data, trainer.options.steps
    K = len(grid)
    keys = [tuple(g[k] for k in SETTINGS) for g in grid.labels]
    settings = list(dict.fromkeys(keys))
    lanes_of = {s: np.array([k for k in range(K) if keys[k] == s]) for s in settings}
    budgets = schedule(len(settings), factor, steps, rung_steps)
    ends = budgets + [steps]
    race = _Race(K, data, init)
    rung = np.full(K, len(budgets), np.int64)  # finalists: past the last rung
    alive = list(settings)
    planned = sum(len(lanes_of[s]) for s in settings) * ends[0] + sum(
        math.ceil(len(settings) / factor ** (r + 1)) * len(lanes_of[settings[0]]) * (ends[r + 1] - ends[r])
        for r in range(len(budgets)))
    for r, end in enumerate(ends):
        begin = 0 if r == 0 else ends[r - 1]
        lanes = np.concatenate([lanes_of[s] for s in alive])
        lanes = np.sort(lanes[race.status[lanes] == Status.RUNNING])
        if lanes.size:
            report = None if progress is None else (
                lambda done, total, base=race.work: progress(min(base + done, planned), planned))
            result = trainer(grid.take(lanes), init=race.start(lanes, r > 0 or init is not None), steps=end - begin,
                             progress=report, checkpoint=None if checkpoint is None else _RungCheckpoint(checkpoint, r))
            race.record(result, lanes, begin, end)
        if r == len(budgets):
            break
        alive = race.rank(alive, lanes_of, lanes, held_out, grid.fold, factor, rung, r)
    if progress is not None:
        progress(planned, planned)
    final = lane_scores(data.X, data.y, race.coef, race.intercept, held_out, grid.fold)[:, 0]
    history = _join_histories(race.histories, K, steps, race.objective)
    config = FrozenDict({**(race.config or {}), "steps": int(steps), "halving": int(factor),
                         "rungs": tuple(int(b) for b in budgets), "lane_steps": race.lane_steps})
    arrays = (race.coef, race.intercept, history, race.n_iter, race.status, race.objective, race.residual)
    mesh = trainer.options.mesh
    if mesh is not None:
        arrays = tuple(on_mesh(a, mesh, trainer.options.lane_devices()[0]) for a in arrays)
    return SweepResult(*arrays, fold_weights=trainer.fold_weights, validation_loss=final, rung=rung,
                       grid=grid.labels, classes=tuple(data.classes.tolist()), config=config)


class _Race:
    """Every model's parameters and counters between rungs, on the host."""

    def __init__(self, K: int, data, init):
        n_features, n_classes, dtype = data.X.shape[1], data.n_classes, data.X.dtype
        self.data = data
        self.coef = np.zeros((K,) + ((n_features,) if n_classes == 2 else (n_features, n_classes)), dtype)
        self.intercept = np.zeros((K,) + (() if n_classes == 2 else (n_classes,)), dtype)
        if init is not None:
            self.coef[:], self.intercept[:] = init
        self.n_iter = np.zeros(K, np.int64)
        self.status = np.full(K, int(Status.RUNNING), np.int64)
        self.objective = np.full(K, np.nan, dtype)
        self.residual = np.full(K, np.nan, dtype)
        self.histories: list = []  # (first step, end step, lanes, loss history) per rung
        self.work = 0
        self.lane_steps = 0
        self.config = None

    def start(self, lanes, warm: bool):
        return (self.coef[lanes], self.intercept[lanes]) if warm else None

    def record(self, result: SweepResult, lanes, begin: int, end: int) -> None:
        self.coef[lanes], self.intercept[lanes] = to_host(result.coef), to_host(result.intercept)
        self.n_iter[lanes] += to_host(result.n_iter)
        self.status[lanes] = to_host(result.status)
        self.objective[lanes], self.residual[lanes] = to_host(result.objective), to_host(result.residual)
        self.histories.append((begin, end, lanes, to_host(result.loss_history)))
        self.work += lanes.size * (end - begin)
        self.lane_steps += int(result.config["lane_steps"])
        self.config = {k: v for k, v in result.config.items() if k != "lane_steps"}

    def rank(self, alive, lanes_of, lanes, held_out, folds, factor: int, rung, r: int) -> list:
        """The settings that go on after rung ``r``: the best ``ceil(S / factor)`` by the mean
        held-out loss of their lanes; every model of the others is ``pruned`` (diverged ones keep
        saying so). A lane that spent the rung's budget runs on: only the sweep's budget ends it."""
        stopped_by_rung = lanes[np.isin(self.status[lanes], (Status.MAX_ITER, Status.DONE))]
        self.status[stopped_by_rung] = Status.RUNNING
        racing = np.concatenate([lanes_of[s] for s in alive])  # setting by setting
        scores = lane_scores(self.data.X, self.data.y, self.coef[racing], self.intercept[racing], held_out,
                             folds[racing])[:, 0]
        by_setting, offset = [], 0
        for s in alive:
            value = np.mean(scores[offset: offset + len(lanes_of[s])])
            by_setting.append(np.inf if not np.isfinite(value) else value)
            offset += len(lanes_of[s])
        keep = max(1, math.ceil(len(alive) / factor))
        order = np.argsort(np.asarray(by_setting), kind="stable")  # ties: grid order
        for i in order[keep:]:
            dropped = lanes_of[alive[i]]
            self.status[dropped[np.isin(self.status[dropped], (Status.RUNNING, Status.CONVERGED))]] = Status.PRUNED
            rung[dropped] = r
        return [alive[i] for i in sorted(order[:keep])]


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


__all__ = ["successive_halving", "schedule"]
