"""Loaders: every format gives the same arrays; every bad file is a DataError naming the place."""

import numpy as np
import pytest

from jaxlr.cli import _io as io

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


@pytest.mark.parametrize("header, features", [("a,b,a,y", None), ("a,b, a ,y", None), ("a,y,b,y", None),
                                              ("a,b,a,y", ["a", "b"])])
def test_csv_duplicate_column_names_are_refused_not_guessed(tmp_path, header, features):
    path = tmp_path / "dup.csv"
    path.write_text(header + "\n1,2,3,0\n4,5,6,1\n")
    with pytest.raises(io.DataError, match=r"2 columns are named '(a|y)' \(columns \d, \d\); rename them"):
        io.load(str(path), "y", features)


def test_duplicate_names_not_read_are_no_obstacle(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("a,b,a,y\n1,2,3,0\n4,5,6,1\n")
    np.testing.assert_array_equal(io.load(str(path), "y", ["b"]).X, [[2.0], [5.0]])


def test_parquet_duplicate_column_names_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "dup.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1.0, 2.0]), pa.array([3.0, 4.0]), pa.array([0, 1])],
                                        names=["a", "a", "y"]), path)
    with pytest.raises(io.DataError, match=r"2 columns are named 'a' \(columns 1, 2\)"):
        io.load(str(path), "y")


def test_continuous_target_is_refused_as_the_python_api_refuses_it(tmp_path):
    import jaxlr

    y = np.round(np.linspace(0, 10, 200) ** 1.5, 3).tolist()
    path = tmp_path / "reg.csv"
    path.write_text("a,y\n" + "".join(f"{k},{v!r}\n" for k, v in enumerate(y)))
    with pytest.raises(io.DataError, match=r"target 'y' looks continuous \(200 distinct float values\)"):
        io.load(str(path), "y")
    with pytest.raises(ValueError, match=r"y looks continuous \(200 distinct float values\)"):
        jaxlr.fit(np.arange(200.0)[:, None], np.array(y))


def test_integer_labels_read_as_integers(tmp_path):
    """As pandas and pyarrow type them, so the check above treats them as classes."""
    path = tmp_path / "k.csv"
    rows = [f"{k},{k % 30}" for k in range(60)]
    path.write_text("a,y\n" + "\n".join(rows) + "\n")
    t = io.load(str(path), "y")
    assert t.y.dtype.kind == "i" and len(t.label_mapping) == 30
    slow = io._csv_checked(str(path), path.read_text(), "y", None)
    assert slow[1].dtype.kind == "i"


@pytest.mark.parametrize("content, expected", [
    (b"not a zip at all" * 20, "not a .npz archive"),
    (b"PK\x03\x04" + b"\x00garbage" * 40, "not a .npz archive"),
    ("objects", "array 'y' holds Python objects"),
    ("truncated", "not a .npz archive"),
])
def test_garbage_npz_is_named_without_suggesting_allow_pickle(tmp_path, content, expected):
    path = tmp_path / "bad.npz"
    if content == "objects":
        np.savez(path, X=np.ones((2, 1)), y=np.array([{"a": 1}, None], dtype=object))
    elif content == "truncated":
        np.savez(path, X=np.ones((50, 3)), y=np.arange(50) % 2)
        path.write_bytes(path.read_bytes()[:600])
    else:
        path.write_bytes(content)
    with pytest.raises(io.DataError) as err:
        io.load(str(path))
    assert expected in str(err.value) and "pickle" not in str(err.value).lower()


@pytest.mark.parametrize("size", [0, 1.5, -0.2, 40, 41])
def test_test_size_out_of_range_names_the_argument(size):
    from jaxlr._train.checks import ArgumentValueError

    with pytest.raises(ArgumentValueError) as err:
        io.train_test_split(np.array([0, 1] * 20), size, 0)
    assert err.value.argument == "test_size" and str(err.value).startswith("test_size must be")


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
