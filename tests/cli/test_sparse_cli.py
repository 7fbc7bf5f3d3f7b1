"""Sparse data through the command line: LIBSVM files and sparse ``.npz`` archives stay sparse
end to end (a run in which densifying raises still finishes) and give the results of the same
data given dense."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[2]

# the CLI's main() in a process where any scipy.sparse -> dense conversion raises
NO_DENSE = """
import sys
import scipy.sparse as sp
def refuse(*args, **kwargs):
    raise AssertionError("a sparse matrix was densified")
for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.csc_array, sp.coo_array):
    cls.toarray = cls.todense = refuse
from jaxlr.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["JAXLR_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax-cache"))
    return e


def jaxlr_cli(env, *args, dense_allowed=False):
    command = ["-m", "jaxlr"] if dense_allowed else ["-c", NO_DENSE]
    return subprocess.run([sys.executable, *command, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same data as LIBSVM, sparse .npz and dense .npz."""
    from sklearn.datasets import dump_svmlight_file

    rng = np.random.default_rng(0)
    X = sp.random(150, 40, density=0.15, format="csr", random_state=2, data_rvs=rng.standard_normal)
    y = (X @ rng.standard_normal(40) + 0.3 * rng.standard_normal(150) > 0).astype(int)
    base = tmp_path_factory.mktemp("sparse-data")
    dump_svmlight_file(X, y, str(base / "d.svm"))
    np.savez(base / "sparse.npz", y=y, format="csr", shape=X.shape, data=X.data, indices=X.indices,
             indptr=X.indptr)
    np.savez(base / "dense.npz", X=X.toarray(), y=y)
    return base


def params(out):
    with np.load(out / "params.npz") as p:
        return p["coef"], p["intercept"]


def run_both_ways(env, command, sparse_file, dense_file, tmp_path, options):
    """``command`` on the sparse file (densifying raises) into ``tmp_path/s`` and on the dense
    one into ``tmp_path/d``; both succeed with the same parameters."""
    sparse = jaxlr_cli(env, command, sparse_file, "--out", tmp_path / "s", *options)
    assert sparse.returncode == 0, sparse.stderr
    dense = jaxlr_cli(env, command, dense_file, "--out", tmp_path / "d", *options, dense_allowed=True)
    assert dense.returncode == 0, dense.stderr
    for a, b in zip(params(tmp_path / "s"), params(tmp_path / "d")):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_libsvm_fit_stays_sparse_and_matches_dense(env, files, tmp_path):
    options = ["--l2", "0.01", "--test-size", "0.2", "--tol", "1e-9", "-q"]
    run_both_ways(env, "fit", files / "d.svm", files / "dense.npz", tmp_path, options)
    rows = [(tmp_path / o / "results.csv").read_text().splitlines() for o in ("s", "d")]
    header, (s_row, d_row) = rows[0][0].split(","), (r[1].split(",") for r in rows)
    for name in ("train_loss", "train_accuracy", "train_auc", "val_loss", "val_accuracy", "val_auc"):
        j = header.index(name)
        np.testing.assert_allclose(float(s_row[j]), float(d_row[j]), rtol=1e-6)
    assert {p.name for p in (tmp_path / "s").iterdir()} == {p.name for p in (tmp_path / "d").iterdir()}
    assert (tmp_path / "s" / "loss_curve.png").stat().st_size > 0


def test_sparse_npz_sweep_with_folds_matches_dense(env, files, tmp_path):
    options = ["--l2", "0.001,0.1", "--folds", "3", "--solver", "lbfgs", "--tol", "1e-9", "-q"]
    run_both_ways(env, "sweep", files / "sparse.npz", files / "dense.npz", tmp_path, options)
    files_written = {p.name for p in (tmp_path / "s").iterdir()}
    assert files_written == {p.name for p in (tmp_path / "d").iterdir()}  # the same figures as for dense data
    assert any(name.endswith("curve.png") and name != "loss_curve.png" for name in files_written)


def test_bad_libsvm_value_is_one_line_exit_2(env, tmp_path):
    path = tmp_path / "bad.svm"
    path.write_text("1 1:0.5 3:inf\n0 2:1\n1 1:2\n")
    proc = jaxlr_cli(env, "fit", path, "--out", tmp_path / "o")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "row 1, column 'x2': inf in a feature" in lines[0], proc.stderr
    assert not (tmp_path / "o").exists()
