"""The training data, validated once at the door: ``dataset(X, y, ...)`` -> ``Dataset``.

Everything here runs on the host before anything is traced or compiled, so a bad
argument is a ``ValueError``/``TypeError`` that names the argument, never a NaN or
an XLA error from deep inside a compiled loop. A ``Dataset`` is what every layer below
receives; nothing below validates, re-encodes or copies it again.

Sparse features (scipy.sparse matrices and arrays of any format, ``jax.experimental.sparse``
BCOO/BCSR) are validated without densifying (``check_sparse``) and come back as a canonical
scipy CSR matrix: float values, sorted indices, duplicates summed.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import jax
import numpy as np

from .._core.design import on_two_threads
from .checks import check_scalar


class Dataset(NamedTuple):
    """Validated training data.

    ``X`` is float (dtype follows the input), ``y`` holds class codes
    ``0..n_classes-1`` (as X's float dtype for two classes, int32 otherwise),
    ``sample_weight`` is float, non-negative, with a positive sum: what the objective weighs
    rows by (the user's sample weights times the class weights), and ``classes``
    maps code ``k`` back to the user's label ``classes[k]``. ``user_weight``: the user's
    sample weights alone (ones when none were given), what column statistics weigh rows by
    (``standardize``, the scale check), as scikit-learn's ``StandardScaler`` takes
    ``sample_weight`` and never class weights; ``None`` means ``sample_weight``.
    """

    X: Any  # np.ndarray, or a canonical scipy.sparse CSR (see ``check_sparse``)
    y: np.ndarray
    sample_weight: np.ndarray
    classes: np.ndarray
    feature_names: tuple | None = None  # pandas column names, when X had them
    user_weight: np.ndarray | None = None

    @property
    def row_weight(self) -> np.ndarray:
        """The rows' weights for column statistics: the user's sample weights, no class weights."""
        return self.sample_weight if self.user_weight is None else self.user_weight

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_outputs(self) -> int:
        """Logits per row: 1 for two classes (the second class's), else one per class."""
        return 1 if len(self.classes) == 2 else len(self.classes)

    @property
    def is_sparse(self) -> bool:
        return is_sparse(self.X)


def float_dtype(dtype) -> np.dtype:
    """The float dtype jaxlr computes in for input of ``dtype``.

    float32 stays float32, float64 stays float64 when JAX has x64 enabled;
    integers and booleans become JAX's default float.
    """
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.floating) and dtype.itemsize >= 4:
        return np.dtype(jax.dtypes.canonicalize_dtype(dtype))
    return np.dtype(jax.dtypes.canonicalize_dtype(np.float64))


def is_sparse(X: Any) -> bool:
    """A scipy.sparse matrix or array, or a ``jax.experimental.sparse`` BCOO/BCSR (checked
    without importing either: jax.experimental.sparse is only loaded when it is used)."""
    module = type(X).__module__
    if module.startswith("jax.experimental.sparse"):
        return type(X).__name__ in ("BCOO", "BCSR")
    if module.startswith("scipy.sparse"):
        import scipy.sparse

        return scipy.sparse.issparse(X)
    return False


def _jax_sparse_to_scipy(X: Any, name: str):
    """A BCOO/BCSR as a scipy COO matrix (host copies of its data and indices)."""
    import scipy.sparse

    if type(X).__name__ == "BCSR":
        X = X.to_bcoo()
    if X.n_batch or X.n_dense or X.ndim != 2:
        raise ValueError(f"{name}: a BCOO/BCSR must be 2-D without batch or dense dimensions, got shape "
                         f"{X.shape} (n_batch={X.n_batch}, n_dense={X.n_dense})")
    data, indices = np.asarray(X.data), np.asarray(X.indices)
    m, n = X.shape
    keep = (indices[:, 0] < m) & (indices[:, 1] < n)  # BCOO pads with out-of-range indices
    if not keep.all():
        data, indices = data[keep], indices[keep]
    return scipy.sparse.coo_matrix((data, (indices[:, 0], indices[:, 1])), shape=(m, n))


def check_sparse(X: Any, name: str = "X"):
    """A sparse ``X`` as a canonical scipy CSR matrix (sorted indices, duplicates summed, as
    scikit-learn and scipy read them), float (dtype as for dense: float32 stays float32),
    with finite stored values; never densified, and the caller's matrix is never modified
    (copied when it is not canonical already). Any scipy format is accepted."""
    import scipy.sparse

    if type(X).__module__.startswith("jax.experimental.sparse"):
        X = _jax_sparse_to_scipy(X, name)
    if len(X.shape) != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got a sparse array of shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: shape {X.shape}")
    dtype = np.dtype(X.dtype)
    if dtype == object or not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
        raise ValueError(f"{name} must be numeric, got a sparse matrix of dtype {dtype}")
    if np.issubdtype(dtype, np.complexfloating):
        raise ValueError(f"{name} must be real, got complex values")
    csr = X.tocsr() if X.format != "csr" else X  # a new matrix unless X was CSR already
    canonical = csr.has_canonical_format  # sorted indices and no duplicates
    target = float_dtype(dtype)
    if csr is X and not canonical:
        csr = csr.copy()
    if not canonical:
        csr.sum_duplicates()  # sorts the indices too
    if csr.dtype != target:
        csr = csr.astype(target)  # copies data only; indices are shared with the input
    out = scipy.sparse.csr_matrix(csr, copy=False)
    bad = ~np.isfinite(out.data)
    if bad.any():
        first = int(np.argmax(bad))
        row = int(np.searchsorted(out.indptr, first, side="right") - 1)
        raise ValueError(f"{name} contains NaN or inf ({int(bad.sum())} stored values; first at row {row}, "
                         f"column {int(out.indices[first])})")
    return out


def check_features(X: Any, name: str = "X"):
    """``X`` as a finite, non-empty 2-D float array (dtype follows the input); sparse input
    as a canonical scipy CSR matrix (``check_sparse``), never densified."""
    if is_sparse(X):
        return check_sparse(X, name)
    if isinstance(X, jax.Array):
        X = np.asarray(X)
    try:
        arr = np.asarray(X)
    except Exception as err:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as an array: {err}") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real, got complex values")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0:  # no columns is an intercept-only model (statsmodels' null model)
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    arr = arr.astype(float_dtype(arr.dtype), copy=False)
    if not all_finite(arr):
        bad = ~np.isfinite(arr)
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} contains NaN or inf ({int(bad.sum())} values; first at row {row}, column {col})"
        )
    return arr


FINITE_BLOCK_ROWS = 4096  # rows per block of the finite check: its mask of bools stays in cache


def all_finite(X: np.ndarray) -> bool:
    """Whether every value of the float matrix X is finite: in row blocks (a mask of X's size
    is a fresh buffer whose page faults cost as much as the check), on two threads for large X.
    100,000 x 100 float32 on the 2-core bench machine: 1.4-1.6 ms, against 2.2-2.5 ms for
    ``np.isfinite(X).all()`` (bench/README.md)."""
    def work(lo: int, hi: int) -> bool:
        mask = np.empty((min(FINITE_BLOCK_ROWS, hi - lo),) + X.shape[1:], bool)
        for start in range(lo, hi, FINITE_BLOCK_ROWS):
            block = X[start:min(start + FINITE_BLOCK_ROWS, hi)]
            part = mask[:len(block)]
            np.isfinite(block, out=part)
            if not part.all():
                return False
        return True

    return all(on_two_threads(work, X.shape[0], X.size >= 1 << 20))


def _label_vector(y: Any, n_samples: int, name: str, x_name: str = "X") -> np.ndarray:
    """``y`` as a 1-D array of ``n_samples`` labels (a column vector is accepted)."""
    arr = np.asarray(np.asarray(y) if isinstance(y, jax.Array) else y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} labels but {x_name} has {n_samples} rows")
    return arr


# the widest range of integer labels encoded by counting instead of sorting
COUNTED_LABEL_RANGE = 1 << 16


def _count_integer_labels(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``np.unique(arr, return_inverse=True)`` for finite numeric labels that are integers within
    ``COUNTED_LABEL_RANGE`` of each other (0/1, 0..K-1, as ints or floats), by counting: linear
    passes where ``np.unique`` sorts (100,000 float32 0/1 labels: 2.3 ms sorted). None otherwise."""
    if arr.dtype.kind not in "iuf" or arr.size == 0:
        return None
    lo, hi = arr.min(), arr.max()
    if not 0 <= float(hi) - float(lo) < COUNTED_LABEL_RANGE:  # float: no overflow of int64 ranges
        return None
    offset = (arr.astype(np.int64) if arr.dtype.kind == "i" else arr) - lo  # exact: int8's 127 - -128 too
    index = offset.astype(np.int32)
    if arr.dtype.kind == "f" and not (index == offset).all():
        return None  # not integers: np.unique, then the "continuous" error
    if arr.dtype.kind == "f" and lo <= 0 <= hi:  # a -0.0 (its bits compared: one pass, no gather)?
        negative_zero = np.array(-0.0, arr.dtype).view(f"u{arr.itemsize}")
        if (arr.view(negative_zero.dtype) == negative_zero).any():
            return None  # np.unique keeps the first zero it meets, which counting cannot tell
    present = np.flatnonzero(np.bincount(index))
    codes = np.zeros(present[-1] + 1, np.int32)
    codes[present] = np.arange(present.size)
    return present.astype(arr.dtype) + lo, codes[index]  # labels of arr: exact in its dtype


def check_labels(y: Any, n_samples: int, name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Encode labels as codes ``0..K-1`` in sorted order of the classes (as scikit-learn does).

    Returns ``(codes, classes)``. Needs at least two classes.
    """
    arr = _label_vector(y, n_samples, name)
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    if arr.dtype == object and any(v is None for v in arr):
        raise ValueError(f"{name} contains missing labels (None)")
    counted = _count_integer_labels(arr)
    try:
        classes, codes = counted if counted is not None else np.unique(arr, return_inverse=True)
    except TypeError as err:
        raise ValueError(f"{name} has labels that cannot be compared: {err}") from None
    if len(classes) < 2:
        raise ValueError(
            f"{name} must contain at least two classes, got {len(classes)}: {classes.tolist()}"
        )
    if arr.dtype.kind == "f" and len(classes) > max(20, n_samples // 2):
        raise ValueError(
            f"{name} looks continuous ({len(classes)} distinct float values): "
            "logistic regression needs class labels"
        )
    if arr.dtype.kind == "f" and not np.array_equal(classes, np.round(classes)):
        raise ValueError(
            f"{name}: Unknown label type: continuous. Maybe you are trying to fit a classifier, which expects "
            f"discrete classes on a regression target with continuous values ({len(classes)} distinct float "
            "values, not all integers: logistic regression needs class labels)")
    return codes.reshape(-1).astype(np.int32, copy=False), classes


def check_sample_weight(sample_weight: Any, n_samples: int, dtype, name="sample_weight") -> np.ndarray:
    """Non-negative finite weights with a positive sum; ``None`` means all ones."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    arr = np.asarray(sample_weight)
    if arr.ndim == 0:
        arr = np.full(n_samples, arr)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},), got {arr.shape}")
    arr = arr.astype(dtype)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative")
    if arr.sum() <= 0:
        raise ValueError(f"{name} must have a positive sum")
    return arr


def class_weight_factors(class_weight: Any, codes: np.ndarray, classes: np.ndarray,
                         sample_weight: np.ndarray) -> np.ndarray:
    """Per-sample factors for ``class_weight`` (``None``, ``"balanced"`` or a dict).

    ``"balanced"`` is scikit-learn's ``sum(s) / (n_classes * sum_{i in class} s_i)``.
    """
    n_classes = len(classes)
    if class_weight is None:
        return np.ones_like(sample_weight)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}"
            )
        per_class = np.bincount(codes, weights=sample_weight, minlength=n_classes)
        empty = np.flatnonzero(per_class <= 0)
        if empty.size:
            label = classes[empty[0]]
            raise ValueError(
                f"class_weight='balanced': class {getattr(label, 'item', lambda: label)()!r} has a total sample_weight of 0, so its "
                "balancing weight would be infinite; give its rows positive weights or drop the class")
        factors = sample_weight.sum() / (n_classes * per_class)
        return factors[codes].astype(sample_weight.dtype)
    if not isinstance(class_weight, Mapping):
        raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {type(class_weight).__name__}")
    factors = np.ones(n_classes, dtype=sample_weight.dtype)
    known = {c.item() if hasattr(c, "item") else c: k for k, c in enumerate(classes)}
    for label, weight in class_weight.items():
        key = label.item() if hasattr(label, "item") else label
        if key not in known:
            raise ValueError(
                f"class_weight has key {label!r}, which is not a class; classes are {classes.tolist()}"
            )
        weight = check_scalar(f"class_weight[{label!r}]", weight, minimum=0.0)
        factors[known[key]] = weight
    return factors[codes]


def training_weights(sample_weight, class_weight, codes: np.ndarray, classes: np.ndarray, dtype):
    """``(sample_weight * class_weight[class of the row], sample_weight)``, checked: what the
    objective weighs rows by, and the user's weights alone (what column statistics use)."""
    user = check_sample_weight(sample_weight, len(codes), dtype)
    weights = user * class_weight_factors(class_weight, codes, classes, user)
    if weights.sum() <= 0:
        raise ValueError("sample_weight times class_weight must have a positive sum")
    return weights, user


def dataset(X, y, sample_weight=None, class_weight=None) -> Dataset:
    """Validate and encode a training set (see ``Dataset``): the one check of X on every path."""
    names = tuple(str(c) for c in X.columns) if hasattr(X, "columns") else None
    X = check_features(X)
    return encoded(X, y, sample_weight, class_weight, names)


def encoded(X, y, sample_weight=None, class_weight=None, feature_names=None) -> Dataset:
    """A ``Dataset`` of an X validated already (``check_features``): labels encoded, weights
    checked, X taken as it is."""
    codes, classes = check_labels(y, X.shape[0])
    return from_codes(X, codes, classes, sample_weight, class_weight, feature_names)


def from_codes(X, codes, classes, sample_weight=None, class_weight=None, feature_names=None) -> Dataset:
    """A ``Dataset`` of an X validated already and labels encoded already (``codes`` 0..K-1 into
    ``classes``; the scikit-learn estimators do both with scikit-learn's own checks)."""
    codes = np.asarray(codes).reshape(-1).astype(np.int32)
    weights, user = training_weights(sample_weight, class_weight, codes, classes, X.dtype)
    labels = codes.astype(X.dtype) if len(classes) == 2 else codes
    return Dataset(X, labels, weights, np.asarray(classes), feature_names, user)


def held_out(X, y, sample_weight, data: Dataset, names=("X_val", "y_val", "sample_weight_val")):
    """A held-out set for models trained on ``data``, checked once before anything compiles:
    ``(X, codes, weights)`` with X as ``check_features`` returns it (in ``data.X``'s float dtype),
    the same number of features, labels among ``data.classes`` encoded as its codes (a class may
    be absent: a validation split of a rare class), and weights (``None``: ones). Errors name the
    argument (``names``: how the caller spells X, y and the weights)."""
    x_name, y_name, w_name = names
    X = check_features(X, x_name)
    if X.shape[1] != data.X.shape[1]:
        raise ValueError(f"{x_name} has {X.shape[1]} features but the training X has {data.X.shape[1]}")
    if X.dtype != data.X.dtype:
        X = X.astype(data.X.dtype)
    labels = _label_vector(y, X.shape[0], y_name, x_name)
    classes = data.classes
    try:
        codes = np.clip(np.searchsorted(classes, labels), 0, len(classes) - 1)
        known = classes[codes] == labels
    except (TypeError, ValueError):  # labels of another kind than the classes (str vs int)
        known = np.zeros(labels.shape, bool)
        codes = np.zeros(labels.shape, np.int64)
    if not np.all(known):
        unknown = np.unique(labels[~np.asarray(known, bool)].astype(object).astype(str))
        shown = ", ".join(unknown[:5].tolist()) + (f" and {unknown.size - 5} more" if unknown.size > 5 else "")
        raise ValueError(f"{y_name} has labels that are not classes of the training y: {shown}; "
                         f"classes are {classes.tolist()[:20]}{' ...' if len(classes) > 20 else ''}")
    codes = codes.astype(np.int32)
    weights = check_sample_weight(sample_weight, X.shape[0], X.dtype, w_name)
    return X, (codes.astype(X.dtype) if len(classes) == 2 else codes), weights


__all__ = ["Dataset", "dataset", "held_out", "encoded", "from_codes", "check_features", "check_sparse", "check_labels", "check_sample_weight",
           "training_weights", "class_weight_factors", "float_dtype", "is_sparse"]
