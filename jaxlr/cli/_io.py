"""Loading a labelled data file into arrays: CSV, Parquet, NumPy ``.npz``, LIBSVM/svmlight.

Every problem with the file is a ``DataError`` whose message is one line naming the file
and, where it applies, the line, row and column at fault. The format is taken from the
file's leading bytes (Parquet and ``.npz`` have magic numbers), then from its extension.

Sparse data stays sparse: a LIBSVM/svmlight file, or an ``.npz`` holding the arrays that
``scipy.sparse.save_npz`` writes (``format``, ``shape``, ``data``, ``indices``, ``indptr``;
``row``, ``col`` for COO) next to its labels, loads as a scipy CSR matrix, never densified.
"""

from __future__ import annotations

import csv
import hashlib
import io as _io
import os
import re
from typing import NamedTuple, Sequence

import numpy as np

from .._train.checks import ArgumentValueError
from .._train.data import check_labels


class DataError(ValueError):
    """A data file that cannot be used; the message names the file and the place."""


class Table(NamedTuple):
    """A loaded data set: float features, raw labels and where they came from."""

    X: object  # (n_rows, n_features) float64: np.ndarray, or scipy.sparse CSR (LIBSVM, sparse .npz)
    y: np.ndarray  # (n_rows,) labels as read (numbers or strings)
    feature_names: list[str]
    target: str
    format: str
    label_mapping: dict  # original label -> class code 0..K-1 (sorted, as jaxlr.fit encodes them)
    codes: np.ndarray  # (n_rows,) the labels as class codes (encoded once, here)
    classes: np.ndarray  # the labels of codes 0..K-1


FORMATS = ("csv", "parquet", "npz", "svmlight")
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".npz": "npz", ".svm": "svmlight", ".svmlight": "svmlight", ".libsvm": "svmlight",
}
_MISSING = {"", "na", "n/a", "nan", "null", "none"}  # spellings of a missing label


def sha256(path: str, block: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_path(path: str) -> None:
    """The data file exists, is a regular file and is not empty."""
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, expected a data file")
    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: the file is empty")


def detect_format(path: str) -> str:
    """``csv`` / ``parquet`` / ``npz`` / ``svmlight`` from magic bytes, else the extension."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    ext = os.path.splitext(path)[1].lower()
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").split()
    if len(first) > 1 and all(re.fullmatch(r"\d+:\S+", tok) for tok in first[1:]):
        return "svmlight"
    return "csv"


def load(path: str, target: str | None = None, features: Sequence[str] | None = None,
         fmt: str | None = None) -> Table:
    """Read ``path`` into a ``Table``; ``target`` names the label column (CSV, Parquet) or
    array (``.npz``, default ``y``); LIBSVM files carry their labels in the first field."""
    check_path(path)
    fmt = fmt or detect_format(path)
    if fmt == "csv":
        X, y, names, target = _load_csv(path, target, features)
    elif fmt == "parquet":
        X, y, names, target = _load_parquet(path, target, features)
    elif fmt == "npz":
        X, y, names, target = _load_npz(path, target, features)
    elif fmt == "svmlight":
        X, y, names, target = _load_svmlight(path, features)
    else:
        raise DataError(f"{path}: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if X.shape[0] == 0:
        raise DataError(f"{path}: no data rows")
    if X.shape[1] == 0:
        raise DataError(f"{path}: no feature columns besides the target {target!r}")
    codes, classes = _labels(path, y, target)
    mapping = {(c.item() if hasattr(c, "item") else c): k for k, c in enumerate(classes)}
    return Table(X, y, names, target, fmt, mapping, codes, classes)


def _labels(path, y, target):
    """The labels encoded by the Python API's rules (``check_labels``: a continuous column is
    refused here as ``jaxlr.fit`` refuses it): (codes, classes)."""
    try:
        return check_labels(y, len(y), name=f"target {target!r}")
    except ValueError as err:
        classes = np.unique(y)
        if len(classes) < 2:
            shown = classes[0].item() if len(classes) else None
            raise DataError(f"{path}: target {target!r} has a single class ({shown!r}); need at least two") from None
        raise DataError(f"{path}: {err}") from None


def _select(path, columns: list[str], target, features, kind="column"):
    """Indices of the target and feature columns, checking that the names exist."""
    if target is None:
        raise DataError(f"{path}: --target is required (the label {kind}); {kind}s are {', '.join(columns)}")
    used = [target, *(features or [c for c in columns if c != target])]
    for name in dict.fromkeys(used):
        where = [j for j, c in enumerate(columns) if c == name]
        if len(where) > 1:  # which one the user means is a guess: refuse rather than take the first
            raise DataError(f"{path}: {len(where)} {kind}s are named {name!r} ({kind}s "
                            f"{', '.join(str(j + 1) for j in where)}); rename them so that each name is unique")
    if target not in columns:
        raise DataError(f"{path}: no {kind} named {target!r} for --target; {kind}s are {', '.join(columns)}")
    if features:
        missing = [f for f in features if f not in columns]
        if missing:
            raise DataError(f"{path}: no {kind} named {missing[0]!r} in --features; {kind}s are {', '.join(columns)}")
        if target in features:
            raise DataError(f"{path}: --features includes the target {target!r}")
        names = list(features)
    else:
        names = [c for c in columns if c != target]
    return columns.index(target), [columns.index(n) for n in names], names


def _parse_labels(path, values: list[str], target: str, first_line: int) -> np.ndarray:
    for r, v in enumerate(values):
        if v.strip().lower() in _MISSING:
            raise DataError(f"{path}: line {first_line + r} (row {r + 1}): missing label in target column {target!r}")
    for kind in (int, float):  # typed as pandas / pyarrow would read the column
        try:
            return np.array([kind(v) for v in values])
        except (ValueError, OverflowError):
            pass
    return np.array([v.strip() for v in values])


def _parse_features(path, rows: np.ndarray, names: list[str], first_line: int) -> np.ndarray:
    """(rows, features) strings -> finite float64; the first bad cell is reported."""
    out = np.empty(rows.shape, np.float64)
    for j, name in enumerate(names):
        try:
            out[:, j] = rows[:, j].astype(np.float64)
        except ValueError:
            for r, cell in enumerate(rows[:, j]):
                try:
                    float(cell)
                except ValueError:
                    what = "missing value" if not cell.strip() else f"{cell.strip()[:40]!r} is not a number"
                    raise DataError(f"{path}: line {first_line + r} (row {r + 1}), column {name!r}: {what}") from None
        bad = ~np.isfinite(out[:, j])
        if bad.any():
            r = int(np.argmax(bad))
            raise DataError(
                f"{path}: line {first_line + r} (row {r + 1}), column {name!r}: {rows[r, j].strip()} "
                "in a feature (NaN/inf are not allowed)"
            )
    return out


def _load_csv(path, target, features):
    with open(path, "rb") as f:
        raw = f.read()
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(f"{path}: not a text file (binary byte at offset {nul}); expected CSV, Parquet, .npz or LIBSVM")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text (bad byte at offset {err.start}); expected CSV, Parquet, .npz or LIBSVM") from None
    fast = _csv_fast(raw, path, target, features)
    return fast if fast is not None else _csv_checked(path, text, target, features)


def _numbers(column) -> np.ndarray:
    """A null-free integer or floating pyarrow column as NumPy, read from its buffers: pyarrow's
    ``to_numpy`` imports pandas (0.19 s of a 1.7 s ``jaxlr fit wine.csv``)."""
    dtype = np.dtype(column.type.to_pandas_dtype())
    parts = [np.frombuffer(chunk.buffers()[1], dtype, count=len(chunk), offset=chunk.offset * dtype.itemsize)
             for chunk in column.chunks]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _csv_fast(raw: bytes, path, target, features):
    """pyarrow's multithreaded reader for a clean file; None at the first doubt, so that
    ``_csv_checked`` can find and name the problem."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pc

        parse = pc.ParseOptions(delimiter="\t" if path.lower().endswith(".tsv") else ",")
        table = pc.read_csv(_io.BytesIO(raw), parse_options=parse)
    except Exception:  # ragged rows, bad quoting, pyarrow missing: the checked path explains
        return None
    columns = [c.strip() for c in table.column_names]
    if target not in columns or len(set(columns)) != len(columns) or table.num_rows == 0:
        return None
    if features and not (set(features) <= set(columns)) or (features and target in features):
        return None
    names = list(features) if features else [c for c in columns if c != target]
    X = np.empty((table.num_rows, len(names)), np.float64)
    for j, name in enumerate(names):
        col = table.column(columns.index(name))
        if col.null_count or not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            return None
        X[:, j] = _numbers(col)
    if not np.isfinite(X).all():
        return None
    labels = table.column(columns.index(target))
    if labels.null_count:
        return None
    if pa.types.is_integer(labels.type):
        y = _numbers(labels).astype(np.int64)
    elif pa.types.is_floating(labels.type):
        y = _numbers(labels).astype(np.float64)
        if not np.isfinite(y).all():
            return None
    elif pa.types.is_string(labels.type) or pa.types.is_large_string(labels.type):
        y = np.char.strip(np.asarray(labels.to_pylist(), dtype=str))
        if any(v.lower() in _MISSING for v in np.unique(y)):
            return None
    else:
        return None
    return X, y, names, target


def _csv_checked(path, text, target, features):
    """The careful reader: every row and cell checked, the first problem named by line and column."""
    dialect = csv.excel_tab if path.lower().endswith(".tsv") else csv.excel
    rows = [r for r in csv.reader(_io.StringIO(text), dialect) if r]  # blank lines carry nothing
    if not rows or not any(c.strip() for c in rows[0]):
        raise DataError(f"{path}: the file is empty (no header)")
    header = [c.strip() for c in rows[0]]
    body = rows[1:]
    if not body:
        raise DataError(f"{path}: header only, no data rows")
    width = len(header)
    for r, row in enumerate(body):
        if len(row) != width:
            raise DataError(f"{path}: line {r + 2} (row {r + 1}) has {len(row)} fields, the header has {width}")
    t, idx, names = _select(path, header, target, features)
    cells = np.array(body, dtype=str)
    y = _parse_labels(path, list(cells[:, t]), header[t], first_line=2)
    X = _parse_features(path, cells[:, idx], names, first_line=2)
    return X, y, names, header[t]


def _load_parquet(path, target, features):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path).read()  # read_table refuses duplicate names before _select can name them
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{path}: not a readable Parquet file ({str(err).splitlines()[0]})") from None
    t, idx, names = _select(path, table.column_names, target, features)
    target = table.column_names[t]
    labels = table.column(t)
    if labels.null_count:
        r = int(np.flatnonzero(labels.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError(f"{path}: row {r + 1}: missing label in target column {target!r}")
    y = np.asarray(labels.to_numpy(zero_copy_only=False))
    if y.dtype == object:
        y = y.astype(str)
    X = np.empty((table.num_rows, len(names)), np.float64)
    for j, (i, name) in enumerate(zip(idx, names)):
        col = table.column(i)
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type)):
            raise DataError(f"{path}: column {name!r} is not numeric (type {col.type})")
        if col.null_count:
            r = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            raise DataError(f"{path}: row {r + 1}, column {name!r}: missing value")
        X[:, j] = col.to_numpy(zero_copy_only=False)
        _check_finite(path, X[:, j], name)
    return X, y, names, target


def _check_finite(path, values, name):
    bad = ~np.isfinite(values)
    if bad.any():
        r = int(np.argmax(bad))
        raise DataError(f"{path}: row {r + 1}, column {name!r}: {values[r]} in a feature (NaN/inf are not allowed)")


_SPARSE_NPZ = {"format", "shape", "data"}  # what scipy.sparse.save_npz writes (with indices/indptr or row/col)


def _load_npz(path, target, features):
    import zipfile

    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a .npz archive (expected a zip of arrays written by numpy.savez)")
    try:
        archive = np.load(path, allow_pickle=False)
        names = list(archive.files)
    except Exception as err:  # a damaged zip of many kinds
        raise DataError(f"{path}: damaged .npz archive ({type(err).__name__})") from None
    arrays = {}
    for name in names:
        try:
            arrays[name] = archive[name]
        except Exception as err:
            if isinstance(err, ValueError) and "pickle" in str(err):  # numpy refuses object arrays
                raise DataError(f"{path}: array {name!r} holds Python objects, not numbers or strings; "
                                "jaxlr reads only plain numeric or string arrays") from None
            raise DataError(f"{path}: array {name!r} is damaged ({type(err).__name__})") from None
    target = target or "y"
    sparse = _SPARSE_NPZ <= set(arrays)
    if target not in arrays:
        hint = (" (a scipy.sparse.save_npz file holds no labels: save them with the matrix's arrays, e.g. "
                "np.savez(path, y=y, format='csr', shape=X.shape, data=X.data, indices=X.indices, "
                "indptr=X.indptr))") if sparse else ""
        raise DataError(f"{path}: no array named {target!r} for --target; arrays are {', '.join(arrays)}{hint}")
    y = np.asarray(arrays[target]).reshape(-1)
    if sparse:
        if features:
            raise DataError(f"{path}: --features does not apply to a sparse .npz (columns are unnamed)")
        del arrays
        X = _sparse_from_npz(path)
        names = [f"x{j}" for j in range(X.shape[1])]
        if X.shape[0] != y.shape[0]:
            raise DataError(f"{path}: features have shape {X.shape} but {target!r} has {y.shape[0]} labels")
        _check_sparse_finite(path, X)
        return X, _check_npz_labels(path, y, target), names, target
    if features:
        missing = [f for f in features if f not in arrays]
        if missing:
            raise DataError(f"{path}: no array named {missing[0]!r} in --features; arrays are {', '.join(arrays)}")
        X = np.column_stack([np.asarray(arrays[f]).reshape(len(y), -1) for f in features])
        names = list(features)
    else:
        if "X" not in arrays:
            raise DataError(f"{path}: no array named 'X' (features); arrays are {', '.join(arrays)}")
        X = np.asarray(arrays["X"])
        if X.ndim == 1:
            X = X[:, None]
        names = ([str(n) for n in arrays["feature_names"]] if "feature_names" in arrays
                 else [f"x{j}" for j in range(X.shape[1])])
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise DataError(f"{path}: features have shape {X.shape} but {target!r} has {y.shape[0]} labels")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise DataError(f"{path}: features are not numeric (dtype {X.dtype})")
    X = X.astype(np.float64)
    for j, name in enumerate(names if len(names) == X.shape[1] else [f"x{j}" for j in range(X.shape[1])]):
        _check_finite(path, X[:, j], name)
    return X, _check_npz_labels(path, y, target), names, target


def _check_npz_labels(path, y, target):
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        r = int(np.argmax(~np.isfinite(y)))
        raise DataError(f"{path}: row {r + 1}: missing label in {target!r}")
    if y.dtype.kind in "US":
        y = y.astype(str)
        for r, v in enumerate(y):
            if v.strip().lower() in _MISSING:
                raise DataError(f"{path}: row {r + 1}: missing label in {target!r}")
    return y


def _sparse_from_npz(path):
    """The matrix of a ``scipy.sparse.save_npz`` archive, as float64 CSR."""
    import scipy.sparse

    try:
        X = scipy.sparse.load_npz(path)
    except Exception as err:  # a missing or inconsistent component
        raise DataError(f"{path}: not a readable sparse matrix ({type(err).__name__}: {err})") from None
    if X.ndim != 2:
        raise DataError(f"{path}: the sparse matrix must be 2-D, got shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or np.iscomplexobj(X.data):
        raise DataError(f"{path}: features are not real numbers (dtype {X.dtype})")
    return scipy.sparse.csr_matrix(X).astype(np.float64)


def _check_sparse_finite(path, X):
    """NaN/inf among the stored values, named by row and column (nothing densified)."""
    bad = ~np.isfinite(X.data)
    if bad.any():
        e = int(np.argmax(bad))
        r = int(np.searchsorted(X.indptr, e, side="right") - 1)
        raise DataError(f"{path}: row {r + 1}, column 'x{int(X.indices[e])}': {X.data[e]} in a feature "
                        "(NaN/inf are not allowed)")


def _load_svmlight(path, features):
    from sklearn.datasets import load_svmlight_file

    if features:
        raise DataError(f"{path}: --features does not apply to LIBSVM files (columns are unnamed)")
    try:
        X, y = load_svmlight_file(path)
    except (ValueError, UnicodeDecodeError, OSError) as err:
        raise DataError(f"{path}: not a readable LIBSVM/svmlight file ({str(err).splitlines()[0]})") from None
    X = X.tocsr()  # sparse, as read: a 50,000 x 200,000 file would need 80 GB dense
    names = [f"x{j}" for j in range(X.shape[1])]
    _check_sparse_finite(path, X)
    if not np.isfinite(y).all():
        raise DataError(f"{path}: row {int(np.argmax(~np.isfinite(y))) + 1}: label is NaN or inf")
    return X, y, names, "label"


def train_test_split(y_codes: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded split of row indices into (train, test); ``test_size`` a fraction
    in (0, 1) or a number of rows. Each class keeps at least one row on each side."""
    n = len(y_codes)
    if not (0 < test_size < 1 or float(test_size).is_integer() and 1 <= test_size < n):
        raise ArgumentValueError("test_size", f"must be a fraction in (0, 1) or a whole number of rows "
                                              f"below the {n} rows, got {test_size:g}")
    n_test = int(round(test_size * n)) if test_size < 1 else int(test_size)
    rng = np.random.default_rng(seed)
    test = []
    for cls in np.unique(y_codes):
        idx = np.flatnonzero(y_codes == cls)
        rng.shuffle(idx)
        k = int(round(n_test * len(idx) / n))
        test.append(idx[: min(max(k, 1), len(idx) - 1)])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(n), test)
    return train, test
