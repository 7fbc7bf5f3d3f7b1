"""Reporting (scores, summaries, figure data) and the figures drawn from it."""

import io

import numpy as np
import pytest

import jaxlr
from jaxlr.cli import _plots, _report

from conftest import make_problem


@pytest.fixture(scope="module")
def grid():
    """2 seeds x 3 learning rates x 2 folds of gd, the largest rate diverging; 40 steps."""
    import warnings

    X, y = make_problem(m=80, n=3, seed=2)
    X = X * np.array([1.0, 30.0, 1.0])  # one wide column: a large step diverges
    with warnings.catch_warnings():  # max_iter, diverged and identical full-batch seeds are the point here
        warnings.simplefilter("ignore")
        result = jaxlr.sweep(X, y, seeds=2, learning_rate=[0.001, 0.005, 1.0], folds=2, solver="gd", steps=40)
    statuses = dict(zip(result.status_name, [g["learning_rate"] for g in result.grid]))
    assert statuses.get("diverged") == 1.0 and "max_iter" in statuses  # what the tests below rely on
    train = np.arange(len(y))
    rows = _report.table_rows(result, X, y.astype(np.int32), train, None)
    return X, y, result, rows


def test_validation_rows_of_a_fold_are_the_rows_it_left_out(grid):
    X, y, result, rows = grid
    w_train, w_val = _report.evaluation_weights(result, len(y), np.arange(len(y)), None)
    fw = np.asarray(result.fold_weights)
    for k, g in enumerate(result.grid):
        np.testing.assert_array_equal(w_train[k], fw[g["fold"]] > 0)
        np.testing.assert_array_equal(w_val[k], fw[g["fold"]] == 0)


def test_grid_cells_count_diverged_models_and_spread_across_folds(grid):
    X, y, result, rows = grid
    for r in rows:
        r["val_loss"] = r["train_loss"] + r["fold"]  # a known spread: fold 1 is worse by exactly 1
    rows = [dict(r, l2=[0.0, 0.5][r["seed"]]) for r in rows]  # two settings vary: learning_rate x l2
    cells = _report.grid_cells(rows, "val_loss")
    assert (cells.row_key, cells.col_key) == ("learning_rate", "l2") and cells.spread_over == "folds"
    assert cells.n_models.tolist() == [[2, 2]] * 3
    diverged = {(r["learning_rate"], r["l2"]) for r in rows if r["status"] == "diverged"}
    assert diverged and all(lr == 1.0 for lr, _ in diverged)
    for i, lr in enumerate(cells.row_values):
        for j, l2 in enumerate(cells.col_values):
            cell = [r for r in rows if r["learning_rate"] == lr and r["l2"] == l2]
            assert cells.n_diverged[i, j] == sum(r["status"] == "diverged" for r in cell)
            ok = [r for r in cell if r["status"] != "diverged"]
            if len(ok) == 2:  # one model per fold: the spread is that of the two folds
                np.testing.assert_allclose(cells.spread[i, j], np.std([r["val_loss"] for r in ok], ddof=1))
                np.testing.assert_allclose(cells.mean[i, j], np.mean([r["val_loss"] for r in ok]))


def test_setting_curve_only_when_one_hyperparameter_varies(grid):
    X, y, result, rows = grid
    sc = _report.setting_curve(rows, "val_loss")
    assert sc.key == "learning_rate" and sc.values.tolist() == [0.001, 0.005, 1.0]
    assert sc.spread_over == "folds" and sc.n_models.tolist() == [4, 4, 4]
    for v, low, high, reps, n_div in zip(sc.values, sc.low, sc.high, sc.replicates, sc.n_diverged):
        if n_div == 0:
            per_fold = [np.mean([r["val_loss"] for r in rows if r["learning_rate"] == v and r["fold"] == f])
                        for f in (0, 1)]
            np.testing.assert_allclose(sorted(reps), sorted(per_fold))
            np.testing.assert_allclose([low, high], [min(per_fold), max(per_fold)])
    assert _report.setting_curve([dict(r, l2=r["seed"]) for r in rows], "val_loss") is None


def test_curve_groups_aggregate_per_setting_and_mark_where_models_stopped(grid):
    X, y, result, rows = grid
    groups, vary = _report.curve_groups(result)
    assert vary == ["learning_rate"] and [g.setting["learning_rate"] for g in groups] == [0.001, 0.005, 1.0]
    hist = np.asarray(result.loss_history)
    for g in groups:
        members = [k for k, r in enumerate(rows) if r["learning_rate"] == g.setting["learning_rate"]]
        ok = [k for k in members if rows[k]["status"] != "diverged"]
        assert g.n_models == 4 and len(g.diverged) == 4 - len(ok)
        if ok:
            np.testing.assert_allclose(g.median, np.median(hist[ok][:, : len(g.steps)], 0))
            np.testing.assert_allclose(g.low, hist[ok][:, : len(g.steps)].min(0))
        assert sorted(st for _, _, st in g.stops) == sorted(rows[k]["status"] for k in members
                                                             if rows[k]["status"] != "done")
        for step, _, st in g.stops:
            assert 0 <= step <= 40


def _texts(fig):
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts]
        if ax.get_legend():
            out += [t.get_text() for t in ax.get_legend().get_texts()]
    for legend in fig.legends:
        out += [t.get_text() for t in legend.get_texts()]
    return out


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_figures_say_what_the_reader_needs(grid):
    X, y, result, rows = grid
    groups, vary = _report.curve_groups(result)
    fig = _plots.loss_curves(groups, vary, "t", replicates="seeds x folds")
    texts = _texts(fig)
    assert {"learning_rate", "median over seeds x folds", "min-max band"} <= set(texts)
    labels = {"converged": "converged", "max_iter": "stopped at the step budget (max_iter)",
              "diverged": "diverged (curve clipped)"}
    for status, label in labels.items():
        assert (label in texts) == (status in {r["status"] for r in rows})
    assert _png(fig)[:4] == b"\x89PNG"

    sc = _report.setting_curve(rows, "val_loss")
    fig = _plots.setting_curve(sc, "t", "validation log-loss")
    texts = _texts(fig)
    assert "min-max over folds" in texts and any(t.startswith("best: learning_rate = ") for t in texts)
    k = int(sc.n_diverged[-1])
    assert f"{k}/4 diverged" in texts and fig.axes[0].get_xscale() == "log"
    assert _png(fig)[:4] == b"\x89PNG"

    two = [dict(r, l2=[0.0, 0.5][r["seed"]]) for r in rows]
    cells = _report.grid_cells(two, "val_loss")
    texts = _texts(_plots.heatmap(cells, "t", "validation log-loss"))
    for i in range(len(cells.row_values)):
        for j in range(len(cells.col_values)):
            n, d = cells.n_models[i, j], cells.n_diverged[i, j]
            assert any(f"{d}/{n} diverged" in t for t in texts)
    assert any("± " in t for t in texts)


def test_a_zero_penalty_sits_left_of_the_positive_ones_on_the_log_axis():
    pos, labels, zero = _plots._log_positions(np.array([0.0, 1e-3, 1e-2, 1e-1]))
    assert labels[0] == "0" and zero is not None and pos[0] == zero < pos[1]
    assert np.all(np.diff(np.log10(pos)) > 0)


def test_summary_ranks_settings_by_mean_over_replicates(grid):
    X, y, result, rows = grid
    text = _report.summary(rows, "val_loss")
    lines = text.splitlines()
    alive = {r["learning_rate"] for r in rows if r["status"] != "diverged"}  # lr 1.0: all diverged, left out
    assert lines[0] == f"best {len(alive)} of {len(alive)} settings by val_loss (mean over seeds and folds):"
    assert len(alive) == 2 and {float(line.split()[0]) for line in lines[2:]} == alive
    means = [float(line.split()[1]) for line in lines[2:]]
    assert means == sorted(means)
