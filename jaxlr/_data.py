"""Validation at the boundary: turn user input into clean NumPy arrays, or raise.

Everything here runs on the host before anything is traced or compiled, so a bad
argument is a ``ValueError``/``TypeError`` that names the argument, never a NaN or
an XLA error from deep inside a compiled loop.
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping, NamedTuple

import jax
import numpy as np


class Dataset(NamedTuple):
    """Validated training data.

    ``X`` is float (dtype follows the input), ``y`` holds class codes
    ``0..n_classes-1`` (as X's float dtype for two classes, int32 otherwise),
    ``sample_weight`` is float, non-negative, with a positive sum, and ``classes``
    maps code ``k`` back to the user's label ``classes[k]``.
    """

    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray
    classes: np.ndarray

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def float_dtype(dtype) -> np.dtype:
    """The float dtype jaxlr computes in for input of ``dtype``.

    float32 stays float32, float64 stays float64 when JAX has x64 enabled;
    integers and booleans become JAX's default float.
    """
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.floating) and dtype.itemsize >= 4:
        return np.dtype(jax.dtypes.canonicalize_dtype(dtype))
    return np.dtype(jax.dtypes.canonicalize_dtype(np.float64))


def check_features(X: Any, name: str = "X") -> np.ndarray:
    """``X`` as a finite, non-empty 2-D float array (dtype follows the input)."""
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
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    arr = arr.astype(float_dtype(arr.dtype), copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} contains NaN or inf ({int(bad.sum())} values; first at row {row}, column {col})"
        )
    return arr


def check_labels(y: Any, n_samples: int, name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Encode labels as codes ``0..K-1`` in sorted order of the classes (as scikit-learn does).

    Returns ``(codes, classes)``. Needs at least two classes.
    """
    if isinstance(y, jax.Array):
        y = np.asarray(y)
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} labels but X has {n_samples} rows")
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    if arr.dtype == object and any(v is None for v in arr):
        raise ValueError(f"{name} contains missing labels (None)")
    try:
        classes, codes = np.unique(arr, return_inverse=True)
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
    return codes.reshape(-1).astype(np.int32), classes


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
        with np.errstate(divide="ignore"):
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


def training_weights(sample_weight, class_weight, codes: np.ndarray, classes: np.ndarray, dtype) -> np.ndarray:
    """``sample_weight * class_weight[class of the row]``, checked: what the objective weighs by."""
    weights = check_sample_weight(sample_weight, len(codes), dtype)
    weights = weights * class_weight_factors(class_weight, codes, classes, weights)
    if weights.sum() <= 0:
        raise ValueError("sample_weight times class_weight must have a positive sum")
    return weights


def check_dataset(X, y, sample_weight=None, class_weight=None) -> Dataset:
    """Validate and encode a training set (see ``Dataset``)."""
    X = check_features(X)
    codes, classes = check_labels(y, X.shape[0])
    weights = training_weights(sample_weight, class_weight, codes, classes, X.dtype)
    labels = codes.astype(X.dtype) if len(classes) == 2 else codes
    return Dataset(X, labels, weights, classes)


class ArgumentError(Exception):
    """An error about one keyword argument (a mixin of ``ArgumentValueError`` and
    ``ArgumentTypeError``, which are ``ValueError`` and ``TypeError``).

    ``argument`` is the keyword as the API spells it (``"l2"``), ``name`` the value at fault as
    the message writes it (``"l2[1]"``) and ``detail`` the rest (``"must be >= 0, got -1"``);
    ``str(err) == f"{name} {detail}"``. A shell rephrases the error in its own terms (the
    command line says ``--l2 must be >= 0, got -1``) from these fields, without parsing text.
    """

    def __init__(self, name: str, detail: str):
        super().__init__(f"{name} {detail}")
        self.name, self.detail = name, detail
        self.argument = name.split("[", 1)[0]

    def __reduce__(self):
        return type(self), (self.name, self.detail)


class ArgumentValueError(ArgumentError, ValueError):
    """A ``ValueError`` about one argument (see ``ArgumentError``)."""


class ArgumentTypeError(ArgumentError, TypeError):
    """A ``TypeError`` about one argument (see ``ArgumentError``)."""


def _bound(v) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"  # 4294967295, not 4.29497e+09


def check_scalar(name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
                 strict: bool = False, integer: bool = False) -> float | int:
    """A finite real (or integer) ``value`` that is ``>= minimum`` (``> minimum`` if ``strict``)
    and ``<= maximum``. Errors are ``ArgumentValueError``/``ArgumentTypeError`` naming ``name``."""
    if isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(name, "must be a number, got a bool")
    if integer:
        if not isinstance(value, numbers.Integral):
            raise ArgumentTypeError(name, f"must be an integer, got {value!r}")
        value = int(value)
    else:
        if not isinstance(value, numbers.Real) and not (
            isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) == 0
        ):
            raise ArgumentTypeError(name, f"must be a real number, got {value!r}")
        value = float(value)
        if not np.isfinite(value):
            raise ArgumentValueError(name, f"must be finite, got {value}")
    if minimum is not None:
        if strict and not value > minimum:
            raise ArgumentValueError(name, f"must be > {_bound(minimum)}, got {value}")
        if not strict and not value >= minimum:
            raise ArgumentValueError(name, f"must be >= {_bound(minimum)}, got {value}")
    if maximum is not None and not value <= maximum:
        raise ArgumentValueError(name, f"must be <= {_bound(maximum)}, got {value}")
    return value


def as_values(name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
              strict: bool = False, integer: bool = False) -> tuple:
    """A scalar or a non-empty sequence of scalars as a tuple of checked values (for sweeps)."""
    if isinstance(value, (str, bytes)):
        raise ArgumentTypeError(name, f"must be a number or a sequence of numbers, got {value!r}")
    if np.ndim(value) == 0:
        return (check_scalar(name, value, minimum=minimum, maximum=maximum, strict=strict, integer=integer),)
    values = tuple(np.asarray(value).reshape(-1).tolist())
    if not values:
        raise ArgumentValueError(name, "is an empty sequence")
    return tuple(
        check_scalar(f"{name}[{k}]", v, minimum=minimum, maximum=maximum, strict=strict, integer=integer)
        for k, v in enumerate(values)
    )
