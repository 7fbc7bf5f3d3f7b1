"""Figures for the command line: loss curves and a validation-loss heatmap.

Each function draws into a new ``matplotlib.figure.Figure`` and returns it; the caller saves it
(atomically). No pyplot: no backend is chosen and no window can open, whatever the user's
matplotlib settings.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle


def _fmt(v) -> str:
    return f"{v:g}"


def loss_curves(histories: np.ndarray, labels: list[str], statuses: list[str], title: str,
                n_iter=None, ylabel: str = "training objective", smooth: int = 1) -> Figure:
    """Objective per step for each model (K, steps); one colour per label, diverged dotted red.
    With ``n_iter``, the flat tail after the last model stopped is cut off; ``smooth > 1``
    draws a moving average over that many steps (for noisy minibatch objectives)."""
    histories = np.atleast_2d(np.asarray(histories, float))
    if n_iter is not None:
        histories = histories[:, : max(2, int(np.max(n_iter)) + 2)]
    if smooth > 1 and histories.shape[1] > 2 * smooth:
        kernel = np.ones(smooth) / smooth
        histories = np.stack([np.convolve(h, kernel, mode="valid") for h in histories])
        ylabel = f"{ylabel} (mean of {smooth} steps)"
    fig = Figure(figsize=(8.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    steps = np.arange(histories.shape[1])
    uniq = list(dict.fromkeys(labels))
    cmap = matplotlib.colormaps["viridis"].resampled(max(len(uniq), 2))
    colors = {lab: cmap(i) for i, lab in enumerate(uniq)}
    alpha = 1.0 if len(histories) <= 12 else 0.6
    start = histories[:, 0][np.isfinite(histories[:, 0])]
    top = 1.15 * start.max() if start.size else 1.0
    shown = np.where(np.isfinite(histories), np.minimum(histories, 10 * top), 10 * top)  # off-scale, drawn clipped
    for h, lab, st in zip(shown, labels, statuses):
        diverged = st == "diverged"
        ax.plot(steps, h, color="tab:red" if diverged else colors[lab],
                ls=":" if diverged else "-", lw=1.3, alpha=alpha, marker="o" if len(steps) <= 30 else None, ms=3)
    # the y-range of the models that behave: from the lowest value to a bit above the start
    finite = histories[np.isfinite(histories) & (histories <= top)]
    low = finite.min() if finite.size else 0.0
    if low > 0 and top / low > 20:
        ax.set_yscale("log")
        ax.set_ylim(low / 1.3, top)
    else:
        ax.set_ylim(max(0.0, low - 0.05 * (top - low)), top)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=colors[lab], lw=2, label=lab) for lab in uniq]
    if "diverged" in statuses:
        handles.append(Line2D([], [], color="tab:red", ls=":", lw=2, label="diverged (clipped)"))
    if len(handles) > 1:
        fig.legend(handles=handles, fontsize=8, loc="outside right upper", frameon=False)
    return fig


def heatmap(values: np.ndarray, rows: list, cols: list, row_name: str, col_name: str,
            title: str, diverged: np.ndarray | None = None, label: str = "validation log-loss") -> Figure:
    """A (rows, cols) grid of a loss, annotated, best cell boxed; ``diverged`` counts diverged
    models per cell (hatched, left out of the value)."""
    values = np.asarray(values, float)
    fig = Figure(figsize=(1.2 * len(cols) + 3.2, 0.7 * len(rows) + 2.2), layout="constrained")
    ax = fig.add_subplot()
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 10:
        norm = LogNorm(finite.min(), finite.max())
    else:
        norm = Normalize(finite.min() if finite.size else 0, finite.max() if finite.size else 1)
    shown = np.ma.masked_invalid(values)
    cmap = matplotlib.colormaps["viridis_r"].copy()
    cmap.set_bad("lightgrey")
    im = ax.imshow(shown, cmap=cmap, norm=norm, aspect="auto")
    ax.set_xticks(range(len(cols)), [_fmt(c) for c in cols])
    ax.set_yticks(range(len(rows)), [_fmt(r) for r in rows])
    ax.set_xlabel(col_name)
    ax.set_ylabel(row_name)
    ax.set_title(title)
    for i in range(len(rows)):
        for j in range(len(cols)):
            v = values[i, j]
            if diverged is not None and diverged[i, j]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", color="tab:red", lw=0))
            text = f"{v:.4g}" if np.isfinite(v) else "n/a"
            if diverged is not None and diverged[i, j]:
                text = f"{text}\n{diverged[i, j]} diverged" if np.isfinite(v) else "all diverged"
            dark = np.isfinite(v) and norm(v) > 0.55
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if dark else "black")
    if finite.size:
        i, j = np.unravel_index(np.nanargmin(np.where(np.isfinite(values), values, np.nan)), values.shape)
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="tab:red", lw=2.5))
    fig.colorbar(im, ax=ax, label=label + " (lower is better)")
    return fig
