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

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["JAXLR_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax-cache"))  # shared: same shapes compile once
    return e


# the command line, signalling itself once chunk ``c`` of a sweep is saved (interruptions on cue)
STOP_AFTER = """
import os, signal, sys
import jaxlr.cli._outputs as outputs
save, at, sig = outputs.DirCheckpoint.save, int(sys.argv[1]), getattr(signal, "SIG" + sys.argv[2])
def stop(self, chunk, result):
    save(self, chunk, result)
    if chunk == at:
        os.kill(os.getpid(), sig)
outputs.DirCheckpoint.save = stop
sys.argv = ["jaxlr", *sys.argv[3:]]
from jaxlr.cli import run
run()
"""


def run(env, *args, extra_env=None, stop_after=None, **kw):
    e = {**env, **(extra_env or {})}
    lead = ["-m", "jaxlr"] if stop_after is None else ["-c", STOP_AFTER, *map(str, stop_after)]
    return subprocess.run([sys.executable, *lead, *map(str, args)], capture_output=True, text=True,
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
    "duplicate column names": ("a,b,a,y\n1,2,3,0\n3,4,5,1\n", "2 columns are named 'a' (columns 1, 3)"),
    "continuous target": ("a,y\n" + "".join(f"{k},{k * 0.37 + 0.1:.3f}\n" for k in range(30)),
                          "target 'y' looks continuous (30 distinct float values)"),
    "garbage npz": (b"PK\x03\x04" + b"\x00not a zip" * 30, "not a .npz archive"),
}
BAD_OPTIONS = {
    "missing target column": (["--target", "label"], "no column named 'label' for --target"),
    "missing file": (["--data", "nowhere.csv"], "nowhere.csv: no such file"),
    "directory as data": (["--data", "."], ": is a directory"),
    "negative steps": (["--steps", "-5"], "--steps must be >= 0, got -5"),
    "l2 not a number": (["--l2", "abc"], "argument --l2: 'abc' is not a number"),
    "negative l2": (["--l2", "-0.1"], "--l2 must be >= 0, got -0.1"),
    "unknown solver": (["--solver", "sgdd"], "argument --solver: invalid choice: 'sgdd'"),
    "zero learning rate": (["--learning-rate", "0"], "--learning-rate must be > 0, got 0"),
    "negative learning rate": (["--learning-rate", "-1"], "--learning-rate must be > 0, got -1"),
    "negative l2 in a sweep grid": (["sweep", "--l2", "0.1,-1"], "--l2 must be >= 0, got -1"),
    "batch larger than data": (["--solver", "gd", "--batch-size", "99"], "--batch-size must be <= n_samples (4), got 99"),
    "negative seed in a list": (["sweep", "--seeds", "3,-1"], "--seeds must be in 0 .. 2**32 - 1"),
    "seed of 2**32": (["sweep", "--seeds", "0,4294967296"], "--seeds must be in 0 .. 2**32 - 1"),
    "no seeds": (["sweep", "--seeds", "0"], "--seeds must be >= 1, got 0"),
    "too many test rows": (["--test-size", "4"], "--test-size must be a fraction in (0, 1) or a whole number"),
    "empty l1 grid element": (["sweep", "--l1", "0.1,"], "argument --l1: '0.1,': expected numbers"),
    "tol with minibatches": (["--solver", "gd", "--batch-size", "2", "--tol", "1e-3"],
                             "--tol must be None (or 'auto') with batch_size"),
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
        path = base / (name.replace(" ", "_") + (".npz" if name.endswith("npz") else ".csv"))
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
    assert "Traceback" not in proc.stderr and "pickle" not in proc.stderr
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
    from jaxlr.cli import _io as io

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


# ----------------------------------------------------------------------------- sweeps


def test_sweep_on_breast_cancer_with_folds(env, cancer, tmp_path):
    """A real sweep: newton (converges), 3 l2 values x 2 seeds x 3 folds."""
    from sklearn.linear_model import LogisticRegression

    from jaxlr._train.grid import fold_masks

    path, X, y = cancer
    out = tmp_path / "sweep"
    proc = run(env, "sweep", path, "--target", "diagnosis", "--solver", "newton", "--seeds", "2",
               "--l2", "0.001,0.01,0.1", "--folds", "3", "--tol", "1e-9", "--out", out, "-q")
    assert proc.returncode == 0, proc.stderr
    rows = read_rows(out / "results.csv")
    assert len(rows) == 2 * 3 * 3
    assert list(rows[0])[:5] == ["seed", "learning_rate", "l2", "l1", "fold"]
    assert {r["status"] for r in rows} == {"converged"}
    # only l2 varies: validation loss against it (a 1 x 3 heatmap would say less)
    assert (out / "validation_curve.png").read_bytes()[:4] == b"\x89PNG" and not (out / "heatmap.png").exists()
    assert not (out / "checkpoint").exists()  # removed once the results are written

    # one row against scikit-learn, fitted on that fold's training rows (C = 1 / (l2 * n_train))
    masks = fold_masks(3, y.astype(int))
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
    proc = run(env, "sweep", cancer[0], *SWEEP, "--out", out, stop_after=(2, sig))
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
    run(env, "sweep", cancer[0], *SWEEP, "--out", out, stop_after=(0, "INT"))
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


# ----------------------------------------------------------------------------- --out and OS errors


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 60-row, 3-feature CSV: the quickest real run."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] - X[:, 1] + rng.standard_normal(60) > 0).astype(int)
    path = tmp_path_factory.mktemp("small") / "small.csv"
    path.write_text("a,b,c,y\n" + "".join(f"{a!r},{b!r},{c!r},{t}\n" for (a, b, c), t in zip(X.tolist(), y)))
    return path


def one_line_exit_2(proc, expected):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_out_is_checked_before_any_work(env, tmp_path):
    """A bad --out is named before the data is even read (the data file here does not exist)."""
    (tmp_path / "file").write_text("x")
    (tmp_path / "earlier").mkdir()
    (tmp_path / "earlier" / "run.json").write_text("{}")
    cases = {
        tmp_path / "file": "exists and is not a directory",
        tmp_path / "missing" / "out": "the parent directory",
        tmp_path / "earlier": "holds an earlier run (run.json); pass --force to replace it",
    }
    if os.geteuid() == 0:  # root writes through permission bits; sysfs refuses even root
        cases[Path("/sys/jaxlr-out")] = "cannot write in /sys"
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        cases[tmp_path / "ro" / "out"] = "cannot write in"
    for out, expected in cases.items():
        proc = run(env, "fit", tmp_path / "no-such-data.csv", "--target", "y", "--out", out)
        one_line_exit_2(proc, f"--out {out}: {expected}")
    assert sorted(p.name for p in (tmp_path / "earlier").iterdir()) == ["run.json"]
    assert not (tmp_path / "missing").exists()


def test_force_replaces_an_earlier_run_as_a_whole_set(env, small, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("results.csv", "params.npz", "run.json", "heatmap.png"):  # an earlier sweep's set
        (out / name).write_text("old")
    (out / "notes.txt").write_text("mine")  # not a run file: left alone
    proc = run(env, "fit", small, "--target", "y", "--out", out, "--force", "-q")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["loss_curve.png", "notes.txt", "params.npz", "results.csv",
                                                     "run.json"]
    assert json.loads((out / "run.json").read_text())["config"]["force"] is True
    assert (out / "notes.txt").read_text() == "mine"
    assert_no_temporaries(tmp_path)


def _run_python(env, code, *args, cwd=None, **kw):
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300, **kw)


FAIL_WRITE = """
import errno, os, sys
import jaxlr.cli._outputs as outputs
def full(*args, **kwargs):
    raise OSError(errno.{code}, os.strerror(errno.{code}))
outputs.write_png = full
sys.argv = ["jaxlr", *sys.argv[1:]]
from jaxlr.cli import run
run()
"""


def test_os_error_while_writing_is_one_line_and_leaves_no_half_set(env, small, tmp_path, code="ENOSPC"):
    """The disk fills while the files are written: one line, exit 2, and --out is as it was:
    absent for a new run, the earlier run intact with --force (other errnos: test_outputs.py)."""
    new = tmp_path / "new"
    proc = _run_python(env, FAIL_WRITE.format(code=code), "fit", small, "--target", "y", "--out", new, "-q")
    one_line_exit_2(proc, f"({code})")
    assert not new.exists()
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "run.json").write_text("{}")
    (earlier / "results.csv").write_text("old")
    proc = _run_python(env, FAIL_WRITE.format(code=code), "fit", small, "--target", "y", "--out", earlier,
                       "--force", "-q")
    one_line_exit_2(proc, f"({code})")
    assert sorted(p.name for p in earlier.iterdir()) == ["results.csv", "run.json"]
    assert (earlier / "results.csv").read_text() == "old"
    assert_no_temporaries(tmp_path)


def test_closed_stdout_is_one_line_not_a_traceback(env, small, tmp_path):
    """``jaxlr sweep ... | head -0``: the reader is gone before the summary is printed."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "jaxlr", "sweep", str(small), "--target", "y", "--l2", "0,0.1",
                             "--out", str(out), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=300)
    assert proc.returncode == 2, err
    assert "Traceback" not in err and "Exception ignored" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "broken pipe" in lines[0] and "are complete" in lines[0]
    assert (out / "run.json").exists() and len(read_rows(out / "results.csv")) == 2


BLOCKED = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # as if not installed: importing it raises ModuleNotFoundError
sys.argv = ["jaxlr", *sys.argv[2:]]
from jaxlr.cli import run
run()
"""


def test_missing_extras_are_one_line_naming_the_install_command(env, small, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    proc = _run_python(env, BLOCKED, "matplotlib", "fit", small, "--target", "y", "--out", tmp_path / "a")
    one_line_exit_2(proc, "matplotlib is not installed; install the 'cli' extra: pip install 'jaxlr[cli]'")
    assert not (tmp_path / "a").exists()

    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]}), parquet)
    proc = _run_python(env, BLOCKED, "pyarrow", "fit", parquet, "--target", "y", "--out", tmp_path / "b", "-q")
    one_line_exit_2(proc, "pyarrow is not installed; install the 'cli' extra: pip install 'jaxlr[cli]'")


# ----------------------------------------------------------------------------- the compilation cache


def _mpl_cache() -> str:
    """matplotlib's font cache as it is, so a test moving $XDG_CACHE_HOME does not rebuild it."""
    import matplotlib

    return matplotlib.get_cachedir()


def test_cache_in_the_default_directory_and_hit_on_the_second_run(env, small, tmp_path):
    """The README's directory: $XDG_CACHE_HOME/jaxlr/xla (~/.cache/jaxlr/xla)."""
    e = {k: v for k, v in env.items() if k != "JAXLR_CACHE_DIR"}
    e["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    e["MPLCONFIGDIR"] = _mpl_cache()
    manifests = []
    for k in range(2):
        proc = run(e, "fit", small, "--target", "y", "--solver", "lbfgs", "--out", tmp_path / f"o{k}", "-q")
        assert proc.returncode == 0, proc.stderr
        manifests.append(json.loads((tmp_path / f"o{k}" / "run.json").read_text())["compilation_cache"])
    cache = tmp_path / "xdg" / "jaxlr" / "xla"
    assert manifests[0]["dir"] == str(cache) and manifests[0]["enabled"] is True
    assert any(cache.iterdir())
    assert manifests[0]["hit"] is False and manifests[0]["misses"] > 0
    assert manifests[1]["hit"] is True and manifests[1]["misses"] == 0


def test_no_cache_and_empty_cache_env_really_turn_it_off(env, small, tmp_path):
    cache = tmp_path / "cache"
    quick = ["--solver", "gd", "--steps", "5", "--tol", "none"]  # a small program: compiled uncached twice
    proc = run(env, "fit", small, "--target", "y", *quick, "--out", tmp_path / "a", "-q", "--no-cache",
               extra_env={"JAXLR_CACHE_DIR": str(cache)})
    assert proc.returncode == 0, proc.stderr
    xdg = tmp_path / "xdg"
    proc = run(env, "fit", small, "--target", "y", *quick, "--out", tmp_path / "b", "-q",
               extra_env={"JAXLR_CACHE_DIR": "", "XDG_CACHE_HOME": str(xdg), "MPLCONFIGDIR": _mpl_cache()})
    assert proc.returncode == 0, proc.stderr
    for out in ("a", "b"):
        recorded = json.loads((tmp_path / out / "run.json").read_text())["compilation_cache"]
        assert recorded["enabled"] is False and recorded["dir"] is None and recorded["hits"] == 0
    assert not cache.exists() and not (xdg / "jaxlr").exists()  # nothing was written anywhere


# ----------------------------------------------------------------------------- options the core resolves


def test_learning_rate_grid_with_the_auto_solver_picks_gd(env, small, tmp_path):
    """The form the help promises: no --solver, a learning-rate grid."""
    out = tmp_path / "out"
    proc = run(env, "sweep", small, "--target", "y", "--learning-rate", "0.01,0.1", "--l2", "0,1e-3",
               "--out", out, "-q")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["solver"] == "gd" and manifest["config"]["solver"] == "auto"
    assert len(read_rows(out / "results.csv")) == 4
    assert "(gd)" in proc.stdout


@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_fit_seed_out_of_range_is_one_line(env, small, tmp_path, seed):
    proc = run(env, "fit", small, "--target", "y", "--seed", seed, "--out", tmp_path / "out", "-q")
    one_line_exit_2(proc, "--seed must be")
    assert not (tmp_path / "out").exists()


def test_standardize_fits_unscaled_data_and_reports_original_units(env, tmp_path):
    """Breast cancer as it comes (columns from 0.001 to 4000): --standardize converges, and the
    saved coefficients apply to the unscaled rows (the validation metrics recomputed from
    params.npz equal results.csv's)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import log_loss

    d = load_breast_cancer()
    path = tmp_path / "raw.csv"
    path.write_text("\n".join([",".join([f"x{j}" for j in range(30)] + ["y"])]
                              + [",".join([*map(repr, row.tolist()), str(t)]) for row, t in zip(d.data, d.target)]))
    out = tmp_path / "out"
    proc = run(env, "fit", path, "--target", "y", "--standardize", "--l2", "1e-3", "--test-size", "0.25",
               "--out", out, "-q")
    assert proc.returncode == 0, proc.stderr
    (row,) = read_rows(out / "results.csv")
    assert row["status"] == "converged"
    from jaxlr.cli import _io as io

    _, test = io.train_test_split(d.target.astype(np.int32), 0.25, 0)
    params = np.load(out / "params.npz")
    p = 1 / (1 + np.exp(-(d.data[test] @ params["coef"] + params["intercept"])))
    np.testing.assert_allclose(float(row["val_loss"]), log_loss(d.target[test], p), rtol=1e-9)
    assert json.loads((out / "run.json").read_text())["config"]["standardize"] is True


def test_option_errors_are_named_from_the_argument_the_core_names():
    from jaxlr import cli
    from jaxlr._train.checks import ArgumentValueError
    from jaxlr.cli._errors import option_error

    options = vars(cli.build_parser().parse_args(["sweep", "d.csv", "--out", "o"]))["options"]
    assert options["learning_rate"] == "--learning-rate" and options["seeds"] == "--seeds"
    err = option_error(ArgumentValueError("learning_rate[2]", "must be > 0, got -1.0"), options)
    assert str(err) == "--learning-rate must be > 0, got -1.0"
    err = option_error(ValueError("chunk_size must be >= 1, got 0"), options)  # the message's lead name
    assert str(err) == "--chunk-size must be >= 1, got 0"
    err = option_error(ValueError("fold needs fold_weights (one row per fold)"), options)  # not an option
    assert str(err) == "fold needs fold_weights (one row per fold)"


def readme_cli_commands() -> list[str]:
    """The commands of the README's command-line example, continuation lines joined."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The command line"):]
    start = section.index("```bash\n") + len("```bash\n")
    block = section[start:section.index("```", start)]
    return [line for line in block.replace("\\\n", "").splitlines() if line.strip()]


def test_readme_cli_example_runs_as_written_and_converges(env, tmp_path):
    """Each command as the README writes it (the extras it installs are this environment's),
    with this interpreter as ``python`` and ``jaxlr``; every model of every run converges."""
    import re

    commands = readme_cli_commands()
    assert commands[0] == 'pip install ".[cli]"'
    outs = []
    for command in commands[1:]:
        outs += re.findall(r"--out (\S+)", command)
        command = re.sub(r"^python ", f"{sys.executable} ", command)
        command = re.sub(r"(^|; )jaxlr ", rf"\1{sys.executable} -m jaxlr ", command)
        proc = subprocess.run(command, shell=True, capture_output=True, text=True, env=env, cwd=tmp_path,
                              timeout=600)
        assert proc.returncode == 0, (command, proc.stderr)
    assert outs == ["run1", "sweep1", "sweep2"]
    for out in outs:
        manifest = json.loads((tmp_path / out / "run.json").read_text())
        assert manifest["status_counts"] == {"converged": manifest["n_models"]}, (out, manifest["status_counts"])
    assert json.loads((tmp_path / "sweep2" / "run.json").read_text())["solver"] == "gd"


def test_without_out_each_run_gets_a_new_directory(env, small, tmp_path):
    """The issue's form `jaxlr sweep data.csv --target y --learning-rate ... --l2 ...` runs as written:
    results go to a new jaxlr-sweep-DATE-TIME directory; a second run never reuses the first's."""
    args = ("sweep", small, "--target", "y", "--learning-rate", "0.01,0.1", "--l2", "0,1e-3", "-q")
    for _ in range(2):
        proc = run(env, *args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    made = sorted(p for p in tmp_path.iterdir() if p.name.startswith("jaxlr-sweep-"))
    assert len(made) == 2 and all((p / "results.csv").exists() and (p / "run.json").exists() for p in made)
    one_line_exit_2(run(env, "sweep", small, "--target", "y", "--resume", cwd=tmp_path), "--resume needs --out DIR")
