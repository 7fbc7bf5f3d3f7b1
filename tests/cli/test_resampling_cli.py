"""``jaxlr bootstrap``, ``jaxlr stability`` and ``jaxlr permutation``, run as a user runs them (a subprocess)."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["JAXLR_CACHE_DIR"] = ""
    return e


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = np.where(X @ [1.5, -1.0, 0.0] + rng.logistic(size=120) > 0, "yes", "no")
    path = tmp_path_factory.mktemp("data") / "d.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "label"])
        w.writerows([[*(repr(float(v)) for v in row), lab] for row, lab in zip(X, y)])
    return path


def run(env, *args):
    return subprocess.run([sys.executable, "-m", "jaxlr", *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=300)


def test_bootstrap_writes_intervals_beside_wald(env, data, tmp_path):
    out = tmp_path / "bs"
    r = run(env, "bootstrap", data, "--target", "label", "--n-resamples", 40, "--seed", 3, "-q", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "Bootstrap percentile intervals, 95% (40 of 40 resamples)" in r.stdout
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [row["name"] for row in rows] == ["a", "b", "c", "intercept"]
    for row in rows:
        assert float(row["low"]) <= float(row["estimate"]) <= float(row["high"])
        assert float(row["wald_low"]) < float(row["wald_high"])
    params = np.load(out / "params.npz")
    assert params["coef"].shape == (40, 3) and params["seeds"].shape == (40,)
    assert (out / "bootstrap.png").stat().st_size > 1000
    assert json.load(open(out / "run.json"))["n_models"] == 41


def test_stability_writes_probabilities_and_path(env, data, tmp_path):
    out = tmp_path / "st"
    r = run(env, "stability", data, "--target", "label", "--l1", "0.1,0.01", "--n-subsamples", 5,
            "--complementary-pairs", "-q", "--out", out)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 6 and {row["name"] for row in rows} == {"a", "b", "c"}
    assert all(0.0 <= float(row["probability"]) <= 1.0 for row in rows)
    assert (out / "stability_path.png").stat().st_size > 1000
    assert "stable at threshold 0.6:" in r.stdout


def test_permutation_writes_scores_and_histogram(env, data, tmp_path):
    out = tmp_path / "pt"
    r = run(env, "permutation", data, "--target", "label", "--n-permutations", 9, "--cv", 3, "-q", "--out", out)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 10 and rows[0]["labels"] == "true"
    scores = np.array([float(row["score"]) for row in rows])
    manifest = json.load(open(out / "run.json"))
    assert manifest["pvalue"] == pytest.approx((np.sum(scores[1:] >= scores[0]) + 1) / 10)
    assert (out / "permutation.png").stat().st_size > 1000


def test_bootstrap_with_l1_has_no_wald_columns(env, data, tmp_path):
    out = tmp_path / "bs1"
    r = run(env, "bootstrap", data, "--target", "label", "--n-resamples", 10, "--l1", 0.01, "--method", "bca",
            "-q", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "no Wald intervals" in r.stderr
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert "wald_low" not in rows[0] and all(v != "nan" for row in rows for v in row.values())
    assert json.load(open(out / "run.json"))["n_models"] == 1 + 10 + 120  # the fit, resamples, jackknife


@pytest.mark.parametrize("args, message", [
    (["bootstrap", "--n-resamples", "0"], "--n-resamples must be >= 1"),
    (["bootstrap", "--confidence-level", "1.5"], "--confidence-level must be in (0, 1)"),
    (["bootstrap", "--method", "t"], "--method: invalid choice"),
    (["stability", "--l1", "0.1", "--fraction", "2"], "--fraction must be in (0, 1)"),
    (["stability", "--l1", "-1"], "--l1"),
    (["permutation", "--cv", "1"], "--cv must be >= 2"),
    (["permutation", "--n-permutations", "0"], "--n-permutations must be >= 1"),
])
def test_bad_options_are_one_line_and_exit_2(env, data, tmp_path, args, message):
    out = tmp_path / "bad"
    r = run(env, args[0], data, "--target", "label", *args[1:], "--out", out)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()
