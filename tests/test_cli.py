"""The command line, run as a user runs it: ``python -m jaxlr ...`` in a subprocess."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["JAXLR_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax-cache"))  # shared: same shapes compile once
    e.pop("JAXLR_DEBUG_STOP_AFTER_CHUNK", None)
    return e


def run(env, *args, extra_env=None, **kw):
    e = {**env, **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "jaxlr", *map(str, args)], capture_output=True, text=True,
                          env=e, cwd=kw.pop("cwd", None), timeout=kw.pop("timeout", 300))


@pytest.fixture(scope="module")
def cancer(tmp_path_factory):
    """scikit-learn's breast-cancer data, standardized, string target, as CSV."""
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    X = (d.data - d.data.mean(0)) / d.data.std(0)
    names = [n.replace(" ", "_") for n in d.feature_names]
    path = tmp_path_factory.mktemp("data") / "cancer.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*names, "diagnosis"])
        for row, label in zip(X, d.target):
            w.writerow([*(repr(float(v)) for v in row), d.target_names[label]])
    return path, X, (d.target_names[d.target] == "malignant").astype(float)


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def assert_no_temporaries(out):
    leftovers = [p for p in Path(out).rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, leftovers


# ----------------------------------------------------------------------------- bad input

GOOD = "a,b,y\n1,2,0\n3,4,1\n2,2,1\n0,1,0\n"
BAD_FILES = {
    "empty file": ("", "the file is empty"),
    "header only": ("a,b,y\n", "header only"),
    "non-numeric cell": ("a,b,y\n1,2,0\n3,x,1\n", "line 3 (row 2), column 'b': 'x' is not a number"),
    "nan in feature": ("a,b,y\n1,2,0\n3,nan,1\n", "line 3 (row 2), column 'b': nan in a feature"),
    "inf in feature": ("a,b,y\n1,2,0\ninf,3,1\n", "line 3 (row 2), column 'a': inf in a feature"),
    "ragged rows": ("a,b,y\n1,2,0\n3,4,1,5\n", "line 3 (row 2) has 4 fields, the header has 3"),
    "single class": ("a,b,y\n1,2,1\n3,4,1\n", "target 'y' has a single class"),
    "missing label": ("a,b,y\n1,2,0\n3,4,\n5,6,1\n", "line 3 (row 2): missing label in target column 'y'"),
    "binary garbage": (bytes(range(256)) * 4, "not a text file"),
}
BAD_OPTIONS = {
    "missing target column": (["--target", "label"], "no column named 'label' for --target"),
    "missing file": (["--data", "nowhere.csv"], "nowhere.csv: no such file"),
    "directory as data": (["--data", "."], ": is a directory"),
    "negative steps": (["--steps", "-5"], "--steps must be >= 1, got -5"),
    "l2 not a number": (["--l2", "abc"], "argument --l2: 'abc' is not a number"),
    "negative l2": (["--l2", "-0.1"], "--l2 must be >= 0, got -0.1"),
    "unknown solver": (["--solver", "sgdd"], "argument --solver: invalid choice: 'sgdd'"),
    "zero learning rate": (["--learning-rate", "0"], "--learning-rate must be > 0, got 0"),
    "negative learning rate": (["--learning-rate", "-1"], "--learning-rate must be > 0, got -1"),
    "negative l2 in a sweep grid": (["sweep", "--l2", "0.1,-1"], "--l2 must be >= 0, got -1"),
    "batch larger than data": (["--solver", "gd", "--batch-size", "99"], "--batch-size must be <= n_samples (4), got 99"),
    "halving factor below 2": (["sweep", "--halving", "1", "--folds", "2"], "--halving must be >= 2, got 1"),
    "halving without folds": (["sweep", "--halving", "3"], "--halving needs --folds"),
}


@pytest.fixture(scope="module")
def bad_runs(env, tmp_path_factory):
    """Every bad-input case, run concurrently (each is a separate process and test)."""
    base = tmp_path_factory.mktemp("bad")
    (base / "good.csv").write_text(GOOD)
    jobs = {}
    for name, (content, _) in BAD_FILES.items():
        path = base / (name.replace(" ", "_") + ".csv")
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        jobs[name] = ["fit", path, "--target", "y", "--out", base / ("out_" + name.replace(" ", "_"))]
    for name, (opts, _) in BAD_OPTIONS.items():
        opts = list(opts)
        command = "fit"
        if opts[0] == "sweep":
            command = opts.pop(0)
        data = base / "good.csv"
        if opts[0] == "--data":
            data = base / opts[1] if opts[1] != "." else base
            opts = opts[2:]
        args = ["--target", "y", *opts] if "--target" not in opts else opts
        jobs[name] = [command, data, *args, "--out", base / ("out_" + name.replace(" ", "_"))]
    with ThreadPoolExecutor(4) as pool:
        futures = {name: pool.submit(run, env, *a, cwd=base) for name, a in jobs.items()}
        return {name: (f.result(), Path(jobs[name][-1])) for name, f in futures.items()}


@pytest.mark.parametrize("case", [*BAD_FILES, *BAD_OPTIONS])
def test_bad_input_is_one_line_exit_2_nothing_written(bad_runs, case):
    proc, out = bad_runs[case]
    expected = {**BAD_FILES, **BAD_OPTIONS}[case][1]
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()


# ----------------------------------------------------------------------------- fit


def test_fit_writes_results_that_match_the_saved_parameters(env, cancer, tmp_path):
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    path, X, y = cancer
    out = tmp_path / "fit"
    proc = run(env, "fit", path, "--target", "diagnosis", "--l2", "0.01", "--test-size", "0.25", "--out", out, "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # --quiet: no progress bar
    assert sorted(p.name for p in out.iterdir()) == ["loss_curve.png", "params.npz", "results.csv", "run.json"]
    (row,) = read_rows(out / "results.csv")
    assert list(row)[:4] == ["seed", "learning_rate", "l2", "l1"]
    assert row["status"] == "converged" and float(row["l2"]) == 0.01

    manifest = json.loads((out / "run.json").read_text())
    assert manifest["data"]["label_mapping"] == {"benign": 0, "malignant": 1}
    import hashlib
    assert manifest["data"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    for key in ("command", "config", "versions", "devices", "dtype", "wall_time_s", "compile_time_s"):
        assert key in manifest
    assert {"jax", "jaxlib", "optax"} <= set(manifest["versions"])

    # validation metrics: recompute on the held-out rows from params.npz with scikit-learn
    from jaxlr import _io as io

    _, test = io.train_test_split(y.astype(np.int32), 0.25, 0)
    assert manifest["n_validation"] == len(test)
    params = np.load(out / "params.npz")
    z = X[test] @ params["coef"] + params["intercept"]
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(float(row["val_loss"]), log_loss(y[test], p), rtol=1e-9)
    np.testing.assert_allclose(float(row["val_accuracy"]), accuracy_score(y[test], p > 0.5), rtol=1e-12)
    np.testing.assert_allclose(float(row["val_auc"]), roc_auc_score(y[test], z), rtol=1e-12)
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_no_temporaries(out)


def test_second_run_hits_the_persistent_compilation_cache(env, tmp_path):
    data = tmp_path / "d.csv"
    rng = np.random.default_rng(0)
    X = rng.standard_normal((37, 3))
    y = (X[:, 0] + rng.standard_normal(37) > 0).astype(int)
    data.write_text("a,b,c,y\n" + "".join(f"{a},{b},{c},{t}\n" for (a, b, c), t in zip(X, y)))
    cache = {"JAXLR_CACHE_DIR": str(tmp_path / "cache")}
    manifests = []
    for k in range(2):
        proc = run(env, "fit", data, "--target", "y", "--solver", "lbfgs", "--out", tmp_path / f"o{k}", "-q",
                   extra_env=cache)
        assert proc.returncode == 0, proc.stderr
        manifests.append(json.loads((tmp_path / f"o{k}" / "run.json").read_text())["compilation_cache"])
    assert manifests[0]["hit"] is False and manifests[0]["misses"] > 0
    assert manifests[1]["hit"] is True and manifests[1]["misses"] == 0


# ----------------------------------------------------------------------------- sweeps


def test_sweep_on_breast_cancer_with_folds(env, cancer, tmp_path):
    """A real sweep: newton (converges), 3 l2 values x 2 seeds x 3 folds."""
    from sklearn.linear_model import LogisticRegression

    from jaxlr._sweep import fold_masks

    path, X, y = cancer
    out = tmp_path / "sweep"
    proc = run(env, "sweep", path, "--target", "diagnosis", "--solver", "newton", "--seeds", "2",
               "--l2", "0.001,0.01,0.1", "--folds", "3", "--tol", "1e-9", "--out", out, "-q")
    assert proc.returncode == 0, proc.stderr
    rows = read_rows(out / "results.csv")
    assert len(rows) == 2 * 3 * 3
    assert list(rows[0])[:5] == ["seed", "learning_rate", "l2", "l1", "fold"]
    assert {r["status"] for r in rows} == {"converged"}
    assert (out / "heatmap.png").read_bytes()[:4] == b"\x89PNG"
    assert not (out / "checkpoint").exists()  # removed once the results are written

    # one row against scikit-learn, fitted on that fold's training rows (C = 1 / (l2 * n_train))
    masks = fold_masks(3, len(y), y.astype(int))
    r = next(r for r in rows if r["l2"] == "0.01" and r["fold"] == "1")
    train = masks[1] > 0
    sk = LogisticRegression(C=1 / (0.01 * train.sum()), tol=1e-12, max_iter=10_000).fit(X[train], y[train])
    p = sk.predict_proba(X[~train])[:, 1]
    sk_val = -np.mean(y[~train] * np.log(p) + (1 - y[~train]) * np.log1p(-p))
    np.testing.assert_allclose(float(r["val_loss"]), sk_val, rtol=1e-5)


def test_sweep_with_halving_reports_pruned_models_and_rungs(env, cancer, tmp_path):
    path, _, _ = cancer
    out = tmp_path / "halving"
    proc = run(env, "sweep", path, "--target", "diagnosis", "--solver", "lbfgs", "--tol", "1e-8", "--steps", "90",
               "--l2", ",".join(str(v) for v in np.geomspace(1e-4, 1.0, 9)), "--folds", "3", "--halving", "3",
               "--out", out, "-q")
    assert proc.returncode == 0, proc.stderr
    rows = read_rows(out / "results.csv")
    assert len(rows) == 27 and "rung" in rows[0]
    finalists = [r for r in rows if r["status"] != "pruned"]
    assert len(finalists) == 3 and {r["rung"] for r in finalists} == {"2"} and len({r["l2"] for r in finalists}) == 1
    assert {r["rung"] for r in rows if r["status"] == "pruned"} == {"0", "1"}


def test_diverging_models_are_marked_and_the_sweep_exits_0(env, cancer, tmp_path):
    path, _, _ = cancer
    out = tmp_path / "div"
    proc = run(env, "sweep", path, "--target", "diagnosis", "--solver", "gd", "--learning-rate", "0.5,1e4",
               "--l2", "0.1", "--steps", "50", "--test-size", "0.2", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "sweep: 100%" in proc.stderr and "model-step" in proc.stderr  # the progress bar, without --quiet
    assert "1 model(s) diverged" in proc.stderr  # said once, as a warning
    status = {r["learning_rate"]: r["status"] for r in read_rows(out / "results.csv")}
    assert status["10000.0"] == "diverged" and status["0.5"] != "diverged"


SWEEP = ["--target", "diagnosis", "--solver", "gd", "--seeds", "2", "--learning-rate", "0.1,1",
         "--l2", "0,0.01", "--folds", "2", "--steps", "100", "--chunk-size", "3", "-q"]  # 16 models, 6 chunks


@pytest.fixture(scope="module")
def uninterrupted(env, cancer, tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "out"
    proc = run(env, "sweep", cancer[0], *SWEEP, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return (out / "results.csv").read_text()


@pytest.mark.parametrize("sig", ["INT", "KILL"])
def test_interrupted_sweep_resumes_to_the_same_results(env, cancer, tmp_path, uninterrupted, sig):
    out = tmp_path / "out"
    proc = run(env, "sweep", cancer[0], *SWEEP, "--out", out, extra_env={"JAXLR_DEBUG_STOP_AFTER_CHUNK": f"2:{sig}"})
    if sig == "INT":
        assert proc.returncode == 130
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith("jaxlr sweep: interrupted")
    else:
        assert proc.returncode == -signal.SIGKILL
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint"]  # no results yet, nothing half-written
    assert len(list((out / "checkpoint").glob("chunk-*.npz"))) == 3
    assert_no_temporaries(out)

    proc = run(env, "sweep", cancer[0], *SWEEP, "--out", out, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "(3 chunks resumed)" in proc.stdout
    assert (out / "results.csv").read_text() == uninterrupted


def test_resume_with_other_settings_is_refused(env, cancer, tmp_path):
    out = tmp_path / "out"
    run(env, "sweep", cancer[0], *SWEEP, "--out", out, extra_env={"JAXLR_DEBUG_STOP_AFTER_CHUNK": "0:INT"})
    before = sorted(p.name for p in (out / "checkpoint").iterdir())
    changed = [*SWEEP[:-1], "--steps", "101", "-q"]
    proc = run(env, "sweep", cancer[0], *changed, "--out", out, "--resume")
    assert proc.returncode == 2
    assert "--resume: the checkpoint" in proc.stderr and "steps" in proc.stderr
    assert sorted(p.name for p in (out / "checkpoint").iterdir()) == before


def test_ctrl_c_from_outside_exits_cleanly(env, cancer, tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "jaxlr", "sweep", str(cancer[0]), "--target", "diagnosis", "--solver", "gd",
            "--seeds", "400", "--steps", "2000", "--chunk-size", "1", "--out", str(out), "-q"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list((out / "checkpoint").glob("chunk-*.npz")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert not (out / "results.csv").exists()
    assert_no_temporaries(out)


# ----------------------------------------------------------------------------- the rest


def test_help_and_version(env):
    proc = run(env, "--version")
    assert proc.returncode == 0 and proc.stdout.startswith("jaxlr ") and "jax " in proc.stdout
    proc = run(env, "sweep", "--help")
    assert proc.returncode == 0
    for option in ("--learning-rate", "--l2", "--seeds", "--folds", "--resume", "--chunk-size", "--quiet"):
        assert option in proc.stdout


def test_bench_forwards_its_arguments(env, tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "__init__.py").write_text("")
    (tmp_path / "bench" / "__main__.py").write_text("def main(argv):\n    print('bench got', argv)\n    return 0\n")
    e = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{env['PYTHONPATH']}"}
    proc = run(env, "bench", "--quick", "x", extra_env=e, cwd=tmp_path)  # cwd first on sys.path: the fake bench
    assert proc.returncode == 0 and "bench got ['--quick', 'x']" in proc.stdout


def test_sweep_on_a_device_mesh_equals_one_device(env, cancer, tmp_path):
    """--mesh splits models and rows over 4 (forced host) devices; results.csv is unchanged."""
    path = cancer[0]
    args = ["sweep", path, "--target", "diagnosis", "--seeds", "2", "--l2", "0.001,0.01,0.1",
            "--solver", "newton", "--quiet"]
    one = run(env, *args, "--out", tmp_path / "one")
    four = run(env, *args, "--mesh", "2x2", "--out", tmp_path / "four",
               extra_env={"XLA_FLAGS": "--xla_force_host_platform_device_count=4"})
    assert one.returncode == 0 and four.returncode == 0, four.stderr
    a, b = read_rows(tmp_path / "one" / "results.csv"), read_rows(tmp_path / "four" / "results.csv")
    assert [r["status"] for r in b] == ["converged"] * 6
    for ra, rb in zip(a, b):
        for key in ("objective", "train_loss", "train_auc"):
            assert abs(float(ra[key]) - float(rb[key])) <= 1e-9, key
    manifest = json.loads((tmp_path / "four" / "run.json").read_text())
    assert "'models': 2, 'data': 2" in manifest["config"]["device_mesh"]


def test_incomplete_multi_host_options_are_refused(env, cancer, tmp_path):
    proc = run(env, "fit", cancer[0], "--target", "diagnosis", "--num-processes", "2",
               "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert "--coordinator-address, --num-processes and --process-id go together" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
