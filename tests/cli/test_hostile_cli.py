"""The hostile-input pass through the command line (issue 24), the families that need files and
processes: data files, output directories, resumed checkpoints, storage formats, signals and
compilation caches. The in-process families are in ``tests/test_hostile.py``.

Every case runs in ONE child process (``hostile_child.py`` calls ``jaxlr.cli.main`` in turn:
JAX is imported and each program compiled once), started as this module begins. Bad input is one
line on stderr, exit code 2, nothing written; Ctrl-C and SIGTERM stop a fit within a second or so
(exit 130, one line, nothing half-written; the Python API raises ``KeyboardInterrupt``); a
damaged cache costs one warning line, never the run.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STOP_WITHIN_S = 5.0  # generous: a round is ~0.25 s; the target is 2 s (the child reports the figure)
LONG = 3_000_000  # gradient-descent steps on 200 x 5: ~10 s uninterrupted, longer under load
RUN = ["-q", "--no-cache"]


def _write_data(d: Path):
    """small.csv (and the same data as LIBSVM and sparse .npz), a continuous target, damaged
    files, and the long run's data."""
    import scipy.sparse as sp
    from sklearn.datasets import dump_svmlight_file

    rng = np.random.default_rng(7)
    X = (rng.random((40, 3)) < 0.7) * (rng.standard_normal((40, 3)) + 1.5) * [1.0, 20.0, 0.1]
    X[-1] = 1.0
    y = np.where(np.arange(40) < 12, 1, 0)
    X[y == 1, 0] += 1.0
    header = "a,b,c,y"
    np.savetxt(d / "small.csv", np.column_stack([X, y]), delimiter=",", header=header, comments="")
    dump_svmlight_file(X, y, str(d / "small.svm"))
    csr = sp.csr_matrix(X)
    np.savez(d / "small_sparse.npz", y=y, format="csr", shape=X.shape, data=csr.data, indices=csr.indices,
             indptr=csr.indptr)
    np.savetxt(d / "continuous.csv", np.column_stack([X, np.round(rng.random(40), 1)]), delimiter=",",
               header=header, comments="")
    (d / "bad.svm").write_text("1 1:0.5 2:1.0\n0 1:abc\n")
    np.savez(d / "no_indices.npz", y=y, format="csr", shape=X.shape, data=csr.data, indptr=csr.indptr)
    Z = rng.standard_normal((200, 5))
    np.savetxt(d / "long.csv", np.column_stack([Z, (Z[:, 0] + rng.standard_normal(200) > 0)]), delimiter=",",
               header="a,b,c,d,e,y", comments="")
    (d / "a_file").write_text("not a directory")
    os.symlink(d / "nowhere" / "out", d / "dangling")
    (d / "cache").mkdir()
    (d / "cache" / "jaxlr-programs").write_text("not a directory")
    (d / "cwd").mkdir()
    # a checkpoint chunk without a key (as an older jaxlr wrote them): its provenance cannot be proved
    (d / "keyless" / "checkpoint").mkdir(parents=True)
    arrays = dict(coef=np.zeros((1, 3)), intercept=np.zeros(1), n_iter=np.ones(1, int), status=np.ones(1, int),
                  loss_history=np.zeros((1, 2)), objective=np.zeros(1), residual=np.zeros(1))
    np.savez(d / "keyless" / "checkpoint" / "chunk-00000.npz", first_model=0, chunk=0, **arrays)
    return X, y


def _cases(d: Path) -> list:
    small = ["fit", str(d / "small.csv"), "--target", "y"]
    sweep = ["sweep", str(d / "small.csv"), "--target", "y", "--chunk-size", "1", *RUN]
    long = [str(d / "long.csv"), "--target", "y", "--solver", "gd", "--tol", "none", "--steps", str(LONG)]
    standardized = ["--standardize", "--class-weight", "balanced", "--l2", "0.05", "--tol", "1e-10", *RUN]
    return [
        # caches first: a fresh process meets them as a user's first run does
        dict(name="caches: a file where jaxlr-programs belongs",
             argv=[*small, "-q", "--cache-dir", str(d / "cache"), "--out", str(d / "o_cache")], after="no_cache"),
        dict(name="caches: the cache directory is a file",
             argv=[*small, "-q", "--cache-dir", str(d / "a_file" / "xla"), "--out", str(d / "o_cache2")],
             after="no_cache"),
        dict(name="files: a target of 11 float values", argv=["fit", str(d / "continuous.csv"), "--target", "y",
                                                              *RUN, "--out", str(d / "o1")]),
        dict(name="files: a bad LIBSVM line", argv=["fit", str(d / "bad.svm"), *RUN, "--out", str(d / "o2")]),
        dict(name="files: a sparse .npz without indices", argv=["fit", str(d / "no_indices.npz"), *RUN,
                                                                "--out", str(d / "o3")]),
        dict(name="files: --steps 2**70", argv=[*small, "--steps", str(2**70), *RUN, "--out", str(d / "o4")]),
        dict(name="outputs: --out ''", argv=[*small, *RUN, "--out", ""], cwd=str(d / "cwd")),
        dict(name="outputs: --out a dangling symlink", argv=[*small, *RUN, "--out", str(d / "dangling")]),
        dict(name="outputs: --out a file", argv=[*small, *RUN, "--out", str(d / "a_file")]),
        dict(name="outputs: --out in a missing directory", argv=[*small, *RUN, "--out", str(d / "missing" / "o")]),
        dict(name="storage: csv", argv=["fit", str(d / "small.csv"), "--target", "y", *standardized,
                                        "--out", str(d / "o_csv")]),
        dict(name="storage: libsvm", argv=["fit", str(d / "small.svm"), *standardized, "--out", str(d / "o_svm")]),
        dict(name="storage: sparse npz", argv=["fit", str(d / "small_sparse.npz"), *standardized,
                                               "--out", str(d / "o_npz")]),
        dict(name="outputs: --out holds an earlier run", argv=[*small, *RUN, "--out", str(d / "o_csv")]),
        dict(name="resume: interrupted", argv=[*sweep, "--l2", "0.1,1,10", "--out", str(d / "sw")],
             interrupt_after_chunk=1),
        dict(name="resume: other --l2", argv=[*sweep, "--l2", "0.1,1,100", "--out", str(d / "sw"), "--resume"],
             remove=[str(d / "sw" / "checkpoint" / "key.json")]),  # the case: no key beside the chunks
        dict(name="resume: a chunk without a key", argv=[*sweep, "--l2", "0.1,1,10", "--out", str(d / "keyless"),
                                                         "--resume"]),
        dict(name="resume: the same settings", argv=[*sweep, "--l2", "0.1,1,10", "--out", str(d / "sw"),
                                                     "--resume"]),
        # signals: the program is compiled by the warm-up run (same data, budget and solver)
        dict(name="signals: warm-up", argv=[str(d / "long.csv"), "--steps", str(LONG), "--max-time", "0.3"], api=True),
        dict(name="signals: Ctrl-C in jaxlr.fit", argv=[str(d / "long.csv"), "--steps", str(LONG)], api=True,
             signal=[1.0, "INT"]),
        dict(name="signals: Ctrl-C in jaxlr fit --quiet", argv=["fit", *long, *RUN, "--out", str(d / "o_int")],
             signal=[1.0, "INT"]),
        dict(name="signals: SIGTERM in jaxlr fit with a progress bar",  # progress every 2,000,000 steps
             argv=["fit", *long[:-1], str(50 * 2_000_000), "--no-cache", "--out", str(d / "o_term")],
             signal=[1.0, "TERM"]),
    ]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    data = _write_data(d)
    keyless = (d / "keyless" / "checkpoint" / "chunk-00000.npz").read_bytes()
    (d / "cases.json").write_text(json.dumps(_cases(d)))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "JAXLR_CACHE_DIR": ""}
    proc = subprocess.run([sys.executable, str(HERE / "hostile_child.py"), str(d / "cases.json")],
                          capture_output=True, text=True, env=env, timeout=600)
    results = {r["name"]: r for r in (json.loads(line[5:]) for line in proc.stdout.splitlines()
                                      if line.startswith("CASE "))}
    assert len(results) == len(_cases(d)), proc.stderr[-3000:]
    return d, data, results, keyless


def one_line_error(result, *words):
    assert result["rc"] == 2, result
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1, result["stderr"]
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in result["stderr"] and ".tmp" not in lines[0]
    return lines[0]


ERRORS = {
    "files: a target of 11 float values": ("Unknown label type: continuous",),
    "files: a bad LIBSVM line": ("bad.svm: not a readable LIBSVM/svmlight file",),
    "files: a sparse .npz without indices": ("no_indices.npz: not a readable sparse matrix",),
    "files: --steps 2**70": ("--steps must be <= 2147483647",),
    "outputs: --out ''": ("--out '' is empty",),
    "outputs: --out a dangling symlink": ("--out", "dangling: is a symbolic link to", "which does not exist"),
    "outputs: --out a file": ("a_file: exists and is not a directory",),
    "outputs: --out in a missing directory": ("the parent directory", "does not exist"),
    "outputs: --out holds an earlier run": ("holds an earlier run", "--force"),
    "resume: other --l2": ("--resume: the checkpoint in", "was made with different l2", "without --resume"),
    "resume: a chunk without a key": ("chunk-00000.npz carries no key", "without --resume"),
}


UNTOUCHED = {  # what a refused case must have left as it was
    **{name: (lambda d, _, o=o: not (d / o).exists()) for name, o in [
        ("files: a target of 11 float values", "o1"), ("files: a bad LIBSVM line", "o2"),
        ("files: a sparse .npz without indices", "o3"), ("files: --steps 2**70", "o4"),
        ("outputs: --out in a missing directory", "missing")]},
    "outputs: --out ''": lambda d, _: not any((d / "cwd").iterdir()),  # nothing in the current directory
    "outputs: --out a dangling symlink": lambda d, _: not (d / "nowhere").exists(),
    "outputs: --out a file": lambda d, _: (d / "a_file").read_text() == "not a directory",
    "resume: a chunk without a key": lambda d, keyless: (
        (d / "keyless" / "checkpoint" / "chunk-00000.npz").read_bytes() == keyless),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_bad_input_is_one_line_exit_2_and_nothing_written(outcomes, name):
    d, _, results, keyless = outcomes
    one_line_error(results[name], *ERRORS[name])
    assert UNTOUCHED.get(name, lambda *_: True)(d, keyless)


@pytest.mark.parametrize("name, words", [
    ("caches: a file where jaxlr-programs belongs", ("jaxlr-programs is not a directory",)),
    ("caches: the cache directory is a file", ("compilation cache off", "a_file"))])
def test_caches_that_cannot_serve_cost_one_warning_line_not_the_run(outcomes, name, words):
    result = outcomes[2][name]
    assert result["rc"] == 0, result
    warning_lines = [ln for ln in result["stderr"].splitlines() if ln.strip()]
    assert len(warning_lines) == 1 and warning_lines[0].startswith("warning: jaxlr:"), result["stderr"]
    assert all(w in warning_lines[0] for w in words), warning_lines[0]


def test_every_storage_format_gives_the_pipelines_model_on_the_command_line(outcomes):
    """CSV, LIBSVM and a sparse .npz of the same data, --standardize --class-weight balanced: one
    model, scikit-learn's StandardScaler + LogisticRegression(class_weight="balanced")'s."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    d, (X, y), results, _ = outcomes
    coefs = {}
    for name, out in (("csv", "o_csv"), ("libsvm", "o_svm"), ("sparse npz", "o_npz")):
        assert results[f"storage: {name}"]["rc"] == 0, results[f"storage: {name}"]
        with np.load(d / out / "params.npz") as z:
            coefs[name] = (z["coef"], z["intercept"])
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=1 / (0.05 * len(y)), class_weight="balanced",
                                                              tol=1e-12, max_iter=10_000)).fit(X, y)
    expected = pipe[1].coef_[0] / pipe[0].scale_
    for name, (coef, intercept) in coefs.items():
        np.testing.assert_allclose(coef, expected, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(intercept, coefs["csv"][1], rtol=1e-6, err_msg=name)


def test_a_resume_reuses_only_chunks_whose_key_it_proves(outcomes):
    d, _, results, _ = outcomes
    assert results["resume: interrupted"]["rc"] == 130
    same = results["resume: the same settings"]
    assert same["rc"] == 0 and "(2 chunks resumed)" in same["stdout"], same
    assert (d / "sw" / "results.csv").exists() and not (d / "sw" / "checkpoint").exists()


@pytest.mark.parametrize("name", ["signals: Ctrl-C in jaxlr.fit", "signals: Ctrl-C in jaxlr fit --quiet",
                                  "signals: SIGTERM in jaxlr fit with a progress bar"])
def test_a_long_fit_stops_soon_after_a_signal(outcomes, name):
    d, _, results, _ = outcomes
    result = results[name]
    print(f"{name}: stopped {result['latency']:.2f} s after the signal")
    assert result["latency"] is not None and result["latency"] < STOP_WITHIN_S, result
    if "jaxlr.fit" in name:
        assert result["rc"] == "KeyboardInterrupt"
        return
    assert result["rc"] == 130, result
    lines = result["stderr"].strip().splitlines()
    assert lines[-1] == "jaxlr fit: interrupted" and "Traceback" not in result["stderr"]
    if "--quiet" in name:
        assert len(lines) == 1, result["stderr"]
    assert not (d / ("o_int" if "--quiet" in name else "o_term")).exists()  # nothing half-written
