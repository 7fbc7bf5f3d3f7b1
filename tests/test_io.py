"""Loaders: every format gives the same arrays; every bad file is a DataError naming the place."""

import numpy as np
import pytest

from jaxlr import _io as io

ROWS = "a,b,label\n1.5,2,yes\n-3,4e-1,no\n0,1,yes\n2,-2,no\n"
X_EXPECTED = np.array([[1.5, 2], [-3, 0.4], [0, 1], [2, -2]])


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(ROWS)
    return str(path)


def test_csv_string_target_mapped_and_recorded(csv_file):
    t = io.load(csv_file, "label")
    np.testing.assert_array_equal(t.X, X_EXPECTED)
    assert t.feature_names == ["a", "b"] and t.format == "csv"
    assert t.label_mapping == {"no": 0, "yes": 1}
    assert list(t.y) == ["yes", "no", "yes", "no"]


def test_csv_feature_selection(csv_file):
    t = io.load(csv_file, "label", ["b"])
    np.testing.assert_array_equal(t.X, X_EXPECTED[:, [1]])


def test_all_formats_load_the_same_data(tmp_path, csv_file):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.datasets import dump_svmlight_file

    y = np.array([1, 0, 1, 0])
    pq.write_table(pa.table({"a": X_EXPECTED[:, 0], "b": X_EXPECTED[:, 1], "label": y}), tmp_path / "d.parquet")
    np.savez(tmp_path / "d.npz", X=X_EXPECTED, y=y, feature_names=np.array(["a", "b"]))
    dump_svmlight_file(X_EXPECTED, y, str(tmp_path / "d.svm"))
    for name, target in (("d.parquet", "label"), ("d.npz", None), ("d.svm", None)):
        t = io.load(str(tmp_path / name), target)
        X = t.X.toarray() if name == "d.svm" else t.X  # LIBSVM stays sparse
        np.testing.assert_allclose(X, X_EXPECTED, rtol=1e-15)
        np.testing.assert_array_equal(np.asarray(t.y, float), y)
        assert t.label_mapping == {0: 0, 1: 1}
    assert io.load(str(tmp_path / "d.npz")).feature_names == ["a", "b"]


def test_format_from_magic_bytes_not_extension(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "data.bin"
    pq.write_table(pa.table({"x": [1.0, 2.0], "y": [0, 1]}), path)
    assert io.detect_format(str(path)) == "parquet"


@pytest.mark.parametrize("text, target, expected", [
    ("", "y", "the file is empty"),
    ("a,y\n", "y", "header only"),
    ("a,y\n1,0\nx1,1\n", "y", "line 3 (row 2), column 'a': 'x1' is not a number"),
    ("a,y\n1,0\n,1\n", "y", "line 3 (row 2), column 'a': missing value"),
    ("a,y\n1,0\n-inf,1\n", "y", "line 3 (row 2), column 'a': -inf"),
    ("a,y\n1,0\n2\n", "y", "line 3 (row 2) has 1 fields, the header has 2"),
    ("a,y\n1,0\n2,0\n", "y", "single class"),
    ("a,y\n1,0\n2,1\n", "z", "no column named 'z' for --target"),
    ("a,y\n1,0\n2,NA\n3,1\n", "y", "line 3 (row 2): missing label in target column 'y'"),
])
def test_bad_csv_names_the_place(tmp_path, text, target, expected):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(io.DataError) as err:
        io.load(str(path), target)
    assert expected in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_parquet_nulls_name_row_and_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"a": [1.0, None, 3.0], "y": [0, 1, 1]}), path)
    with pytest.raises(io.DataError, match=r"row 2, column 'a': missing value"):
        io.load(str(path), "y")
    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0], "y": [0, 1, None]}), path)
    with pytest.raises(io.DataError, match=r"row 3: missing label in target column 'y'"):
        io.load(str(path), "y")


def test_train_test_split_is_stratified_seeded_and_disjoint():
    codes = np.array([0] * 30 + [1] * 10)
    train, test = io.train_test_split(codes, 0.25, seed=3)
    assert len(test) == 10 and np.bincount(codes[test]).tolist() == [8, 2]  # 25% of each class
    assert np.intersect1d(train, test).size == 0 and len(train) + len(test) == 40
    again = io.train_test_split(codes, 0.25, seed=3)
    np.testing.assert_array_equal(again[1], test)
    assert not np.array_equal(io.train_test_split(codes, 0.25, seed=4)[1], test)


def test_fast_csv_reader_agrees_with_the_checked_one(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3)) * 10.0 ** rng.integers(-8, 8, (50, 3))
    path = tmp_path / "f.csv"
    path.write_text("p,q,r,t\n" + "".join(f"{a!r},{b!r},{int(c)},{'u' if a > 0 else 'v'}\n" for a, b, c in X.tolist()))
    fast = io._csv_fast(path.read_bytes(), str(path), "t", None)
    assert fast is not None  # a clean file takes the fast path
    checked = io._csv_checked(str(path), path.read_text(), "t", None)
    np.testing.assert_array_equal(fast[0], checked[0])
    np.testing.assert_array_equal(fast[1], checked[1])
    assert fast[2:] == checked[2:]


# ----------------------------------------------------------------------------- sparse files


def _sparse_problem():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = sp.random(30, 12, density=0.2, format="csr", random_state=1, data_rvs=rng.standard_normal)
    return X, (np.arange(30) % 2).astype(float)


def test_libsvm_and_sparse_npz_load_as_csr(tmp_path):
    import scipy.sparse as sp
    from sklearn.datasets import dump_svmlight_file

    X, y = _sparse_problem()
    dump_svmlight_file(X, y, str(tmp_path / "d.svm"))
    np.savez(tmp_path / "d.npz", y=y, format="csr", shape=X.shape, data=X.data, indices=X.indices, indptr=X.indptr)
    sp.save_npz(tmp_path / "m.npz", X.tocoo())  # scipy's own writer (COO), labels added below
    with np.load(tmp_path / "m.npz") as saved:
        np.savez(tmp_path / "coo.npz", labels=y, **dict(saved))
    for name, target in (("d.svm", None), ("d.npz", None), ("coo.npz", "labels")):
        t = io.load(str(tmp_path / name), target)
        assert sp.issparse(t.X) and t.X.format == "csr" and t.X.dtype == np.float64
        np.testing.assert_allclose(t.X.toarray(), X.toarray(), rtol=1e-15)
        np.testing.assert_array_equal(t.y, y)
        assert t.feature_names == [f"x{j}" for j in range(12)]


def test_bad_sparse_files_name_the_place(tmp_path):
    import scipy.sparse as sp

    X, y = _sparse_problem()
    sp.save_npz(tmp_path / "nolabels.npz", X)
    with pytest.raises(io.DataError, match="no array named 'y'.*holds no labels"):
        io.load(str(tmp_path / "nolabels.npz"))
    data = X.data.copy()
    data[5] = np.nan
    row = int(np.searchsorted(X.indptr, 5, side="right"))
    np.savez(tmp_path / "nan.npz", y=y, format="csr", shape=X.shape, data=data, indices=X.indices, indptr=X.indptr)
    with pytest.raises(io.DataError, match=f"row {row}, column 'x{X.indices[5]}': nan in a feature"):
        io.load(str(tmp_path / "nan.npz"))
    np.savez(tmp_path / "short.npz", y=y[:-1], format="csr", shape=X.shape, data=X.data, indices=X.indices,
             indptr=X.indptr)
    with pytest.raises(io.DataError, match=r"features have shape \(30, 12\) but 'y' has 29 labels"):
        io.load(str(tmp_path / "short.npz"))
    (tmp_path / "nan.svm").write_text("1 1:0.5 3:nan\n0 2:1\n")
    with pytest.raises(io.DataError, match="row 1, column 'x2': nan in a feature"):
        io.load(str(tmp_path / "nan.svm"))
