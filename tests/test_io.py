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
        np.testing.assert_allclose(t.X, X_EXPECTED, rtol=1e-15)
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
