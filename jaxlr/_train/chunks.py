"""Running lanes through the compiled program: chunks of lanes, rounds, compaction, results.

``Run.lanes`` trains all lanes ``chunk_size`` at a time (each chunk padded to one lane bucket, so
one program serves them all). A chunk runs in one call when nothing needs the host in between,
or in host *rounds* (progress reports; compaction) passing the loop state back in. To tolerance
(width >= 8, one device) a chunk may be *compacted*: after a probe round and a timed round,
whenever the running lanes fit a smaller lane bucket and the measured step time says the steps
saved outweigh compiling a program of that width (``COMPILE_COST_S``; nothing when it is
compiled already), the running lanes continue alone and the stopped ones wait on the host.
Small problems never pay for a second program.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, NamedTuple, Protocol

import jax
import numpy as np

from .._core import programs as _programs
from .._core.engine import Control, Lanes, LoopState, Static, carries, init_state
from .._core.model import Params
from .._core.status import HISTORY_SIZE, Status, history_steps, history_stride
from .checks import ArgumentValueError
from .layout import Prepared, bucket, pack, unpack
from .mesh import to_host
from .options import Options

COMPILE_COST_S = 0.5  # what compiling a program for a new lane width is assumed to cost, at least
# (a chunk whose own first call compiled longer expects a narrower program to cost as much: 1,000
# bootstrap lanes on breast cancer compiled a 24-lane program for 0.8-1.5 s to save ~0.5 s)
PROBE_STEPS = 8  # the first round of a chunk that may be compacted; the second is timed
ROUND_SECONDS = 0.25  # the longest round between two looks at the clock (max_time, Ctrl-C)
# multiply-adds of a chunk's whole budget from which it runs in rounds of ROUND_SECONDS, so that
# Ctrl-C (raised in Python only between compiled calls) stops it within about a round; below,
# at most ~0.1 s of work at 1e9 multiply-adds/s, a chunk is one call
LONG_WORK = 1e8


class RawResult(NamedTuple):
    """One chunk's results on the host, models first, features unpadded (what checkpoints keep)."""

    params: Params
    n_iter: np.ndarray
    status: np.ndarray
    loss_history: np.ndarray
    objective: np.ndarray
    residual: np.ndarray


class Checkpoint(Protocol):
    """Where finished chunks of a sweep are kept (the CLI stores them as files)."""

    def load(self, chunk: int) -> RawResult | None: ...

    def save(self, chunk: int, result: RawResult) -> None: ...


class _ProcessCache:
    """What this process has compiled (the compaction cost model: a known width is free)."""

    def __init__(self):
        self.compiled: set = set()

    def widths(self, design_sig, static, kind_at) -> frozenset:
        """The lane widths this process has compiled the program at, each with the kind
        ``kind_at(width)`` a chunk of that width runs (keys ``(kind, design_sig, width, static)``)."""
        return frozenset(k[2] for k in self.compiled if k[1] == design_sig and k[3] == static and k[0] == kind_at(k[2]))

    @staticmethod
    def state_template(design, y, W, lanes, theta0, control, static):
        """A zero ``LoopState`` of the right shapes (the program builds the real one when ``fresh``).
        The shapes are traced once per signature and kept with the compiled programs
        (``programs.kept_shapes``): a fresh process with a kept program traces nothing."""
        key = (repr(static), str(jax.tree_util.tree_structure((design, lanes))),
               tuple((a.shape, str(a.dtype)) for a in jax.tree_util.tree_leaves((design, y, W, lanes, theta0))))
        shapes = _programs.kept_shapes(key, lambda: jax.eval_shape(lambda *a: init_state(*a, static), design, y, W,
                                                                   lanes, theta0, control))
        return jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes)


CACHE = _ProcessCache()


def _work_rows(design) -> int:
    """The rows ``program_kind`` weighs: a sparse design's stored entries when more (its products
    are gathers and sums that XLA emits as loops, several times slower at -O0; a 10-step fit on
    2.5M entries took 3.8 s at -O0)."""
    rows = design.shape[0]
    return max(rows, getattr(design, "nnz", 0))  # sparse designs (device or host) count their entries


def _lanes_of(tree, sel):
    """The lanes ``sel`` of every per-lane leaf (lanes last; the step counter has none)."""
    return jax.tree_util.tree_map(lambda a: a if np.ndim(a) == 0 else np.asarray(a)[..., sel], tree)


def _scatter(full, part, members):
    """Write the lanes of ``part`` back into ``full`` at ``members`` (the step counter: part's)."""
    def put(f, p):
        if np.ndim(f) == 0:
            return p
        f[..., members] = p
        return f

    return jax.tree_util.tree_map(put, full, part)


def _host(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def control(prepared: Prepared, steps: int, stop_at: int, fresh: bool, to_tolerance: bool = True,
            fit_intercept: bool = True, intercept_weight: float = 0.0) -> Control:
    """The traced scalars of one call of the program on ``prepared`` data."""
    dtype = np.dtype(prepared.design.dtype)
    return Control(np.int32(steps), np.int32(min(stop_at, 2**31 - 1)), np.bool_(to_tolerance), np.bool_(fit_intercept),
                   np.int32(prepared.n_rows), np.bool_(fresh), np.int32(history_stride(steps)),
                   dtype.type(intercept_weight), np.bool_(False))


@dataclasses.dataclass
class Run:
    """One training call: the prepared data, the compile-time choices, the options and this
    call's budget (``steps``: the options' own, or a halving rung's part of it);
    ``lane_steps`` counts the model-steps computed (padding lanes included)."""

    prepared: Prepared
    static: Static
    options: Options
    steps: int
    progress: Callable[[int, int], None] | None = None
    deadline: float | None = None  # time.perf_counter() at which running models stop (max_time)
    lane_steps: int = 0
    # called after every step with a chunk's models (Params, n_iter); True stops them (callbacks)
    observe: Callable[[Params, np.ndarray], bool] | None = None

    @property
    def to_tolerance(self) -> bool:
        return self.options.tol is not None

    def control(self, stop_at: int, fresh: bool) -> Control:
        o = self.options
        return control(self.prepared, self.steps, stop_at, fresh, self.to_tolerance, o.fit_intercept,
                       o.intercept_weight)

    def lanes(self, lanes: Lanes, init, chunk_size: int, checkpoint: Checkpoint | None = None,
              report: Callable[[int, int], None] | None = None, carry: dict | None = None) -> RawResult:
        """Train all lanes, ``chunk_size`` at a time; ``report(done, total)`` (default: this run's
        ``progress``) hears of the model-steps done. ``carry`` (a path's points, see
        ``engine.carry_state``): chunk ``c`` continues the state ``carry[c]`` that the previous
        point left there, and leaves its own (lane ``k`` of a chunk continues lane ``k``; ``init``
        holds the same parameters, for solvers that start afresh)."""
        report = self.progress if report is None else report
        n_models = int(lanes.fold.shape[0])
        lane_multiple = self.options.lane_devices()[0]
        width = -(-bucket(chunk_size) // lane_multiple) * lane_multiple
        steps = self.steps
        parts = []
        for c in range(-(-n_models // chunk_size)):
            lo, hi = c * chunk_size, min((c + 1) * chunk_size, n_models)
            part = checkpoint.load(c) if checkpoint is not None else None
            if part is not None and len(part.n_iter) != hi - lo:
                raise ArgumentValueError("checkpoint", f"chunk {c} holds {len(part.n_iter)} models where this run has "
                                         f"{hi - lo}; it was made with other settings")
            if part is None:
                idx = np.minimum(np.arange(lo, lo + width), hi - 1)
                chunk = jax.tree_util.tree_map(lambda a: np.asarray(a)[idx], lanes)
                theta0 = pack(init, lo, hi, width, self.prepared.design.shape[1], self.static.n_outputs,
                              np.dtype(self.prepared.design.dtype))
                tell = None if report is None else (
                    lambda done, lo=lo, hi=hi: report(lo * steps + (hi - lo) * done, n_models * steps))
                state, summary = self._chunk(chunk, theta0, n_real=hi - lo, report=tell,
                                             start=None if carry is None else carry.get(c))
                part = self._collect(state, summary, hi - lo)
                if carry is not None:  # a diverged lane's solver state need not match its parameters
                    ok = carries(self.static) and not np.any(part.status == Status.DIVERGED)
                    carry[c] = state if ok else None
                if checkpoint is not None:
                    checkpoint.save(c, part)
            parts.append(part)
            if report is not None:
                report(hi * steps, n_models * steps)
        return parts[0] if len(parts) == 1 else jax.tree_util.tree_map(lambda *a: np.concatenate(a), *parts)

    def _chunk(self, chunk: Lanes, theta0, *, n_real, report, start: LoopState | None = None):
        """One chunk of lanes through the program, to the end of its budget (see the module);
        ``start``: a path's previous point's final state, carried on (``engine.carry_state``)."""
        prepared, static, steps = self.prepared, self.static, self.steps
        width = theta0.shape[1]
        data = (prepared.design, prepared.y, prepared.W)
        control = self.control(steps, True)
        state = CACHE.state_template(*data, chunk, theta0, control, static) if start is None else start
        if prepared.place is not None:
            chunk, theta0, state = prepared.place((chunk, theta0, state))
        every = steps if report is None else int(self.options.progress_every or max(1, steps // 50))
        every = 1 if self.observe is not None else every  # rounds of one step: an observer sees each
        compaction = _Compaction(self.to_tolerance and prepared.place is None and width >= 8 and self.observe is None,
                                 width, steps, every)
        members = np.arange(width)  # the chunk lanes the running state holds, in order
        full = None  # (state, summary) of the whole chunk on the host, once compacted
        design_sig = tuple((a.shape, str(a.dtype)) for a in jax.tree_util.tree_leaves(prepared.design))
        t, per_step, timed_out = 0, None, False
        n_params = prepared.design.shape[1] * static.n_outputs
        # timed rounds differ between hosts, whose calls must match (collectives): one process only
        long = (static.solver.step_cost(_work_rows(prepared.design), n_params) * width * steps > LONG_WORK
                and jax.process_count() == 1)

        def kind_at(lanes: int) -> str:
            return _programs.program_kind(_work_rows(prepared.design), prepared.design.shape[1], lanes,
                                          static.n_outputs, static.solver, steps,
                                          dense=getattr(prepared.design, "nnz", None) is None)

        while True:
            cur = len(members)
            kind = kind_at(cur)
            key = (kind, design_sig, cur, static)
            # compaction's own rounds are short (~0.05 s) while it is on; its timing is left alone
            stop_at = t + min(compaction.round_len, self._steps_in_time(per_step, long and not compaction.enabled))
            control = control._replace(stop_at=np.int32(min(stop_at, 2**31 - 1)), fresh=np.bool_(t == 0 and start is None),
                                       carry=np.bool_(t == 0 and start is not None))
            start = time.perf_counter()
            state, summary = _programs.call(kind, static, state, *data, chunk, theta0, control)
            status = to_host(summary.status)  # with several hosts, gathers
            previous, t = t, int(to_host(state.t))
            elapsed = time.perf_counter() - start
            self.lane_steps += cur * (t - previous)
            timed = key in CACHE.compiled
            if not timed and previous == 0:
                compaction.first_call = (elapsed, t - previous)
            CACHE.compiled.add(key)
            running = np.flatnonzero((status == Status.RUNNING) & (members < n_real))
            per_step = elapsed / (t - previous) if t > previous else per_step
            stop = self.observe is not None and self.observe(self._params(state, n_real),
                                                             to_host(state.n_iter)[:n_real])
            if t >= steps or running.size == 0:
                break
            if stop or (self.deadline is not None and time.perf_counter() >= self.deadline):
                timed_out = True
                break
            if report is not None:
                report(t)
            new = 0 if not compaction.enabled else compaction.decide(  # widths looked up only while it may compact
                running.size, cur, t, elapsed / (t - previous) if timed and t > previous else None,
                CACHE.widths(design_sig, static, kind_at))
            if new:
                host_state, host_summary = _host(state), _host(summary)
                full = (jax.tree_util.tree_map(np.array, (host_state, host_summary)) if full is None
                        else _scatter(full, (host_state, host_summary), members))
                sel = np.concatenate([running, np.repeat(running[-1:], new - running.size)])
                state, chunk, theta0 = _lanes_of(host_state, sel), _lanes_of(chunk, sel), theta0[:, sel]
                members = members[sel]
        if full is not None:
            state, summary = _scatter(full, (_host(state), _host(summary)), members)
        if timed_out:  # the time budget is spent (or an observer stopped them): as at the step budget
            spent = Status.MAX_ITER if self.to_tolerance else Status.DONE
            status = np.asarray(to_host(summary.status))
            summary = summary._replace(status=np.where(status == Status.RUNNING, int(spent), status))
        return state, summary

    def _steps_in_time(self, per_step: float | None, long: bool) -> int:
        """Steps the next round may take before the host looks again: at the clock (``max_time``)
        and for Ctrl-C (``long`` budgets), about ``ROUND_SECONDS``; else the whole budget."""
        if self.deadline is None and not long:
            return self.steps
        if per_step is None:
            return PROBE_STEPS
        left = ROUND_SECONDS if self.deadline is None else min(ROUND_SECONDS, self.deadline - time.perf_counter())
        return max(1, int(left / max(per_step, 1e-9)))

    def _params(self, state: LoopState, n: int) -> Params:
        """The first ``n`` lanes' parameters on the host, models first, features unpadded."""
        return unpack(to_host(state.theta)[:, :n], self.prepared.n_features, self.static.n_outputs)

    def _collect(self, state: LoopState, summary, n: int) -> RawResult:
        """The first ``n`` lanes of a chunk as host arrays; the loss history cut to the steps it
        records, entries past the end of the loop holding the lane's last value."""
        t = int(to_host(state.t))
        length = min(self.steps, HISTORY_SIZE)
        history = to_host(state.history)[:length, :n].T.copy()
        recorded_at = history_steps(self.steps, length)
        value = to_host(state.value)[:n]
        # past the loop's end, and while a compacted chunk ran without a stopped lane, a lane's entries
        # were not written: they hold its last value, as a frozen lane's do
        unwritten = (recorded_at[None, :] >= t) | np.isnan(history)
        history = np.where(unwritten, value[:, None], history)
        params = self._params(state, n)
        return RawResult(params, to_host(state.n_iter)[:n], to_host(summary.status)[:n], history,
                         to_host(summary.objective)[:n], to_host(summary.residual)[:n])


class _Compaction:
    """When a chunk's running lanes continue alone in a narrower program (see the module)."""

    def __init__(self, enabled: bool, width: int, steps: int, every: int):
        self.enabled, self.width, self.steps, self.every = enabled, width, steps, every
        self.round_len = min(every, PROBE_STEPS) if enabled else every
        self.step_time = None  # seconds per step of the full width
        self.first_call = None  # (seconds, steps) of the chunk's first call (a compile, unless kept)

    def compile_cost(self) -> float:
        """Seconds a program of a new width is expected to take to compile: ``COMPILE_COST_S``, or
        what this chunk's own first call took beyond its steps, when more."""
        if COMPILE_COST_S <= 0 or self.first_call is None or self.step_time is None:
            return COMPILE_COST_S
        seconds, steps = self.first_call
        return max(COMPILE_COST_S, seconds - self.step_time * steps)

    def decide(self, n_running: int, cur: int, t: int, seconds_per_step: float | None,
               compiled_widths=frozenset()) -> int:
        """The lane width to continue at (0: keep the current one); updates the round length.
        ``compiled_widths``: the widths this process has compiled the program at (free to take).
        A chunk whose own program was compiled already (a repeated call) takes only those: a
        repeated call never compiles (it knows no compile time to weigh, and the width it would
        choose depends on the lanes running at a timed look, so successive calls chose different
        widths and compiled one in two of three, bench/README.md)."""
        if not self.enabled:
            return 0
        if seconds_per_step is not None:
            self.step_time = seconds_per_step * self.width / cur
        if self.step_time is None:
            return 0
        remaining = min(self.steps - t, t)  # lanes still running may need about as many steps again

        def gain(width: int) -> float:  # seconds saved, less the compile a new width costs
            cost = 0.0 if width in compiled_widths else self.compile_cost()
            return self.step_time * remaining * (cur - width) / self.width - cost

        new = {bucket(n_running)} if self.first_call is not None else set()
        candidates = [w for w in new | {w for w in compiled_widths if n_running <= w} if w < cur]
        best = max(candidates, key=gain, default=None)
        if best is not None and gain(best) > 0:
            self._next_round(best)
            return best
        if self.first_call is None:  # a repeated call: nothing narrower compiled, nothing to wait for
            hopeless = not any(w < cur for w in compiled_widths)
        else:  # even halving could not pay for a program
            hopeless = self.step_time * (self.steps - t) * (1 - bucket(max(1, n_running // 2)) / self.width) < \
                self.compile_cost()
        if hopeless:
            self.round_len, self.enabled = self.every, False  # run on
            return 0
        self._next_round(cur)
        return 0

    def _next_round(self, lanes: int) -> None:
        self.round_len = min(self.every, max(4, int(0.05 / max(self.step_time * lanes / self.width, 1e-9))))


__all__ = ["Run", "RawResult", "Checkpoint", "COMPILE_COST_S", "CACHE", "control"]
