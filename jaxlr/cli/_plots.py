"""Figures for the command line: loss curves per setting, a loss against the one
hyperparameter that varies, and a loss heatmap over two.

Each function draws into a new ``matplotlib.figure.Figure`` and returns it; the caller saves it
(atomically). No pyplot: no backend is chosen and no window can open, whatever the user's
matplotlib settings. The numbers come from ``_report`` (``CurveGroup``, ``SettingCurve``,
``GridCells``); this module only draws them.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter

from .._train.grid import SETTINGS

LOG_KEYS = SETTINGS  # the hyperparameters spread over decades: log axes
STYLES = ("-", "--", ":", "-.")
STOP_MARKERS = {  # where a model stopped, by status
    "converged": dict(marker="o", ms=5, mec="black", mew=0.6, label="converged"),
    "max_iter": dict(marker="s", ms=6, mfc="white", mew=1.4, label="stopped at the step budget (max_iter)"),
    "diverged": dict(marker="X", ms=7, color="tab:red", mec="white", mew=0.5, label="diverged (curve clipped)"),
}


def _fmt(v) -> str:
    return f"{v:g}"


def _header(text: str) -> Line2D:
    """A legend entry without a handle, used as a section title (set in bold by ``_legend``)."""
    line = Line2D([], [], ls="none", label=text)
    line.is_header = True
    return line


def _legend(where, handles, **kwargs):
    legend = where.legend(handles=handles, fontsize=8, frameon=False, **kwargs)
    for handle, text in zip(handles, legend.get_texts()):
        if getattr(handle, "is_header", False):
            text.set_fontweight("bold")
    return legend


def _log_y(ax, low: float, high: float) -> None:
    ax.set_yscale("log")
    ax.set_ylim(low, high)
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))


def _colors(values: list) -> dict:
    """Ordered values -> colours of a sequential map (light to dark reads as small to large)."""
    if len(values) == 1:
        return {values[0]: matplotlib.colormaps["tab10"](0)}
    cmap = matplotlib.colormaps["viridis"]
    return {v: cmap(0.9 * i / (len(values) - 1)) for i, v in enumerate(values)}


def loss_curves(groups, vary: list[str], title: str, ylabel: str = "training objective",
                replicates: str = "models") -> Figure:
    """One median curve per setting with a min-max band over its seeds and folds
    (``replicates`` names them); colour by the hyperparameter with the most values, line style
    by the second, one panel per value of a third. A mark where each model stopped: a dot
    when it converged, an open square at the step budget, a red cross where it diverged (its
    own curve drawn dotted red, clipped to the plot)."""
    color_key = vary[0] if vary else None
    style_key = vary[1] if len(vary) > 1 and len({g.setting[vary[1]] for g in groups}) <= len(STYLES) else None
    panel_keys = [k for k in vary[1:] if k != style_key][:1]
    panel_key = panel_keys[0] if panel_keys else None
    panel_values = sorted({g.setting[panel_key] for g in groups}) if panel_key else [None]
    color_values = sorted({g.setting[color_key] for g in groups}) if color_key else [None]
    style_values = sorted({g.setting[style_key] for g in groups}) if style_key else [None]
    colors = _colors(color_values)
    styles = {v: STYLES[i % len(STYLES)] for i, v in enumerate(style_values)}

    width = 7.5 + 3.2 * (len(panel_values) - 1)
    fig = Figure(figsize=(min(width, 18), 4.4), layout="constrained")
    axes = fig.subplots(1, len(panel_values), sharey=True, squeeze=False)[0]

    # the y-range of the models that behave: from their lowest value to a bit above the start
    starts = [g.high[0] for g in groups if np.isfinite(g.high[0])]
    top = 1.12 * max(starts) if starts else 1.0
    lows = [np.nanmin(g.low) for g in groups if np.isfinite(g.low).any()]
    low = min(lows) if lows else 0.0
    statuses_seen = set()
    xmax = max(int(g.steps[-1]) for g in groups)

    for ax, pv in zip(axes, panel_values):
        for g in groups:
            if panel_key and g.setting[panel_key] != pv:
                continue
            color = colors[g.setting[color_key]] if color_key else colors[None]
            _draw_curve(ax, g, color, styles[g.setting[style_key]] if style_key else "-", top, statuses_seen)
        _format_axes(ax, low, top, xmax)
        if panel_key:
            ax.set_title(f"{panel_key} = {_fmt(pv)}", fontsize=10)
    axes[0].set_ylabel(ylabel)
    if panel_key:
        fig.suptitle(title)
    else:
        axes[0].set_title(title)
    handles = _curve_handles(groups, color_key, color_values, colors, style_key, style_values, styles,
                             statuses_seen, replicates)
    if color_key or style_key:
        _legend(fig, handles, loc="outside right upper")
    elif handles:
        _legend(axes[-1], handles, loc="upper right")
    return fig


def _draw_curve(ax, g, color, ls, top, statuses_seen: set) -> None:
    """A setting's median and band, its diverged models' own curves, and where each stopped."""
    if np.isfinite(g.median).any():
        if g.n_models - len(g.diverged) > 1:
            ax.fill_between(g.steps, g.low, g.high, color=color, alpha=0.18, lw=0)
        ax.plot(g.steps, g.median, color=color, ls=ls, lw=1.6, marker="." if len(g.steps) <= 40 else None, ms=4)
    for h in g.diverged:
        shown = np.where(np.isfinite(h), np.minimum(h, 10 * top), 10 * top)
        ax.plot(g.steps, shown, color="tab:red", ls=":", lw=1.0, alpha=0.7)
    for status in ("converged", "max_iter", "diverged"):
        pts = [(s, v) for s, v, st in g.stops if st == status]
        if not pts:
            continue
        statuses_seen.add(status)
        style = {k: v for k, v in STOP_MARKERS[status].items() if k != "label"}
        style.setdefault("color", color)
        if status == "max_iter":
            style["mec"] = color
        xs, ys = zip(*pts)
        ys = np.asarray(ys, float)
        if status == "diverged":  # at the top edge when its last finite value is off the plot
            ys = np.where(np.isfinite(ys), np.minimum(ys, 0.97 * top), 0.97 * top)
        ax.plot(xs, ys, ls="none", zorder=3, clip_on=False, **style)


def _format_axes(ax, low, top, xmax) -> None:
    if low > 0 and top / low > 20:
        _log_y(ax, low / 1.3, top)
    else:
        ax.set_ylim(max(0.0, low - 0.05 * (top - low)), top)
    if xmax >= 200:  # most of the descent is early: linear to 10 steps, logarithmic after
        ax.set_xscale("symlog", linthresh=10, linscale=0.5)
        ax.set_xlim(0, 1.15 * xmax)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("step (log scale after 10)")
    else:
        ax.set_xlim(-0.01 * xmax, 1.03 * xmax)
        ax.set_xlabel("step")
    ax.grid(alpha=0.3)


def _curve_handles(groups, color_key, color_values, colors, style_key, style_values, styles, statuses_seen,
                   replicates) -> list:
    handles = []
    if color_key:
        handles += [_header(color_key)] + [Line2D([], [], color=colors[v], lw=2.2, label=_fmt(v)) for v in color_values]
    if style_key:
        handles += [_header(style_key)] + [Line2D([], [], color="0.3", ls=styles[v], lw=1.6, label=_fmt(v))
                                           for v in style_values]
    if any(g.n_models - len(g.diverged) > 1 for g in groups):
        handles += [_header("per setting"), Line2D([], [], color="0.3", lw=1.6, label=f"median over {replicates}"),
                    Patch(color="0.3", alpha=0.18, label="min-max band")]
    if statuses_seen:
        handles.append(_header("each model stopped"))
        for status in ("converged", "max_iter", "diverged"):
            if status in statuses_seen:
                style = dict(STOP_MARKERS[status])
                style.setdefault("color", "0.3")
                if status == "max_iter":
                    style["mec"] = "0.3"
                handles.append(Line2D([], [], ls="none", **style))
    return handles


def _log_positions(values: np.ndarray):
    """x positions on a log axis; a 0 (no penalty) sits one step left of the smallest positive
    value, labelled 0. Returns (positions, tick labels, position of zero or None)."""
    positive = values[values > 0]
    if not positive.size:
        return values, [_fmt(v) for v in values], None
    ratio = positive.max() / positive.min()
    step = 10.0 if positive.size < 2 else max(3.0, ratio ** (1 / (positive.size - 1)))
    zero = positive.min() / step
    pos = np.where(values > 0, values, zero)
    return pos, [_fmt(v) for v in values], (zero if (values <= 0).any() else None)


def setting_curve(sc, title: str, ylabel: str) -> Figure:
    """``ylabel`` against the one hyperparameter that varies: the mean over seeds and folds,
    a band from the best to the worst fold (or seed), each fold's value as a dot, the training
    loss dashed for comparison, the best value starred, diverged models counted."""
    fig = Figure(figsize=(7.2, 4.4), layout="constrained")
    ax = fig.add_subplot()
    values = sc.values
    log = sc.key in LOG_KEYS and (values > 0).sum() >= 2
    x, labels, zero = _log_positions(values) if log else (values, [_fmt(v) for v in values], None)
    color = "tab:blue"
    spread_label = f"min-max over {sc.spread_over}" if sc.spread_over else None
    if spread_label and np.isfinite(sc.low).any():
        ax.fill_between(x, sc.low, sc.high, color=color, alpha=0.18, lw=0, label=spread_label)
        for xi, reps in zip(x, sc.replicates):
            ax.plot(np.full(len(reps), xi), reps, ls="none", marker=".", ms=4, color=color, alpha=0.5)
    ax.plot(x, sc.mean, color=color, marker="o", lw=1.8, label=f"{ylabel} (mean)")
    if sc.train_mean is not None:
        ax.plot(x, sc.train_mean, color="0.45", ls="--", marker=".", lw=1.2, label="training log-loss (mean)")
    if np.isfinite(sc.mean).any():
        best = int(np.nanargmin(sc.mean))
        ax.plot(x[best], sc.mean[best], marker="*", ms=15, color="tab:orange", mec="black", mew=0.6, ls="none",
                label=f"best: {sc.key} = {_fmt(values[best])}", zorder=4)
    curves = [sc.mean, sc.low, sc.high] + ([sc.train_mean] if sc.train_mean is not None else [])
    finite = np.concatenate([a[np.isfinite(a)] for a in curves])
    top = finite.max() if finite.size else 1.0
    for xi, k, n, m in zip(x, sc.n_diverged, sc.n_models, sc.mean):
        if k:
            y = m if np.isfinite(m) else top
            ax.annotate(f"{k}/{n} diverged", (xi, y), textcoords="offset points", xytext=(0, 9),
                        ha="center", fontsize=8, color="tab:red")
    if log:
        ax.set_xscale("log")
        ax.set_xticks(x, labels)
        ax.minorticks_off()
        if zero is not None:  # a break in the axis between 0 and the positive values
            ax.axvline(zero * np.sqrt(np.sort(x[x > zero])[0] / zero), color="0.6", lw=0.8, ls=(0, (2, 3)))
    else:
        ax.set_xticks(x, labels)
    ax.set_xlabel(sc.key + (" (log scale)" if log else ""))
    positive = finite[finite > 0]
    if positive.size and positive.max() / positive.min() > 8:  # an unpenalized fit may overfit by far
        _log_y(ax, positive.min() / 1.25, positive.max() * 1.6)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return fig


def heatmap(cells, title: str, label: str) -> Figure:
    """``cells.mean`` over (row, column) settings, annotated with the spread across folds (or
    seeds) and how many of the cell's models diverged; the best cell boxed, cells with a
    diverged model hatched, cells where all diverged grey."""
    values = np.asarray(cells.mean, float)
    rows, cols = cells.row_values, cells.col_values
    fig = Figure(figsize=(1.35 * len(cols) + 3.4, 0.85 * len(rows) + 2.3), layout="constrained")
    ax = fig.add_subplot()
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 10:
        norm = LogNorm(finite.min(), finite.max())
    else:
        norm = Normalize(finite.min() if finite.size else 0, finite.max() if finite.size else 1)
    cmap = matplotlib.colormaps["viridis_r"].with_extremes(bad="lightgrey")
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, aspect="auto")
    ax.set_xticks(range(len(cols)), [_fmt(c) for c in cols])
    ax.set_yticks(range(len(rows)), [_fmt(r) for r in rows])
    ax.set_xlabel(cells.col_key)
    ax.set_ylabel(cells.row_key)
    ax.set_title(title, fontsize=10)
    for i in range(len(rows)):
        for j in range(len(cols)):
            v, n, k = values[i, j], cells.n_models[i, j], cells.n_diverged[i, j]
            if not n:
                continue
            if k:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", ec="tab:red", lw=0))
            lines = [f"{v:.4g}" if np.isfinite(v) else "all diverged"]
            if np.isfinite(cells.spread[i, j]):
                lines.append(f"± {cells.spread[i, j]:.2g}")
            lines.append(f"{k}/{n} diverged")
            dark = np.isfinite(v) and norm(v) > 0.55
            ax.text(j, i, "\n".join(lines), ha="center", va="center", fontsize=8.5, linespacing=1.3,
                    color="white" if dark else "black")
    if finite.size:
        i, j = np.unravel_index(np.nanargmin(np.where(np.isfinite(values), values, np.nan)), values.shape)
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="tab:red", lw=2.5))
    fig.colorbar(im, ax=ax, label=label + " (lower is better)")
    return fig


__all__ = ["loss_curves", "setting_curve", "heatmap"]


def interval_bars(names, estimate, low, high, wald_low, wald_high, title: str, label: str) -> Figure:
    """One row per parameter: the bootstrap interval (thick bar, ``label``) beside the Wald
    interval (thin bar below it), the estimate as a dot; a zero line when zero is in range."""
    n = len(names)
    fig = Figure(figsize=(7.2, max(2.6, 0.42 * n + 1.4)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(n)[::-1].astype(float)
    ax.hlines(y + 0.12, low, high, color="tab:blue", lw=5, alpha=0.8, label=label)
    ax.hlines(y - 0.12, wald_low, wald_high, color="tab:orange", lw=2, label="Wald (jaxlr.inference)")
    ax.plot(estimate, y, ls="none", marker="o", ms=5, color="black", label="estimate (fit on all rows)")
    lo = np.nanmin(np.concatenate([low, wald_low])) if n else 0.0
    hi = np.nanmax(np.concatenate([high, wald_high])) if n else 0.0
    if lo <= 0 <= hi:
        ax.axvline(0.0, color="0.5", lw=0.8, ls=":")
    ax.set_yticks(y, [str(v) for v in names])
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("coefficient")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, frameon=False, loc="best")
    return fig


def stability_path(l1, probability, names, title: str, threshold: float = 0.6, max_labels: int = 12) -> Figure:
    """Selection probability of each feature against l1 (log scale, strongest penalty right),
    the features that reach ``threshold`` coloured and named, the others grey."""
    fig = Figure(figsize=(7.2, 4.4), layout="constrained")
    ax = fig.add_subplot()
    l1 = np.asarray(l1, float)
    order = np.argsort(l1)
    x = l1[order]
    best = probability.max(axis=0)
    stable = np.flatnonzero(best >= threshold)
    stable = stable[np.argsort(-best[stable])][:max_labels]
    colors = _colors(list(range(len(stable)))) if len(stable) > 1 else {0: matplotlib.colormaps["tab10"](0)}
    for j in range(probability.shape[1]):
        if j in stable:
            continue
        ax.plot(x, probability[order, j], color="0.7", lw=0.9)
    for i, j in enumerate(stable):
        ax.plot(x, probability[order, j], color=colors[i], lw=1.8, marker="o", ms=3, label=str(names[j]))
    ax.axhline(threshold, color="tab:red", lw=0.8, ls="--", label=f"threshold {threshold:g}")
    if (x > 0).all() and len(x) > 1:
        ax.set_xscale("log")
    ax.set_xlabel("l1" + (" (log scale)" if (x > 0).all() and len(x) > 1 else ""))
    ax.set_ylabel("selection probability")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="best")
    return fig


def permutation_histogram(score: float, permutation_scores, title: str, label: str) -> Figure:
    """The permutation scores' histogram (chance) and the score on the true labels (a line)."""
    fig = Figure(figsize=(7.2, 4.0), layout="constrained")
    ax = fig.add_subplot()
    perm = np.asarray(permutation_scores, float)
    ax.hist(perm, bins=min(30, max(5, len(perm) // 4)), color="0.6", label="permuted labels")
    ax.axvline(score, color="tab:red", lw=2, label=f"true labels: {score:.4g}")
    ax.set_xlabel(f"cross-validated {label}")
    ax.set_ylabel("permutations")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return fig
