"""Bad input: a clear ValueError/TypeError naming the argument, raised before anything compiles."""

import numpy as np
import pytest

import jaxlr

from conftest import make_problem, traces

X, Y = make_problem(m=20, n=3)


def bad(**overrides):
    args = dict(X=X, y=Y)
    args.update(overrides)
    return args


CASES = [
    (bad(X=X[:, 0]), ValueError, "X must be 2-D"),
    (bad(X=X[None]), ValueError, "X must be 2-D"),
    (bad(X=np.zeros((0, 3)), y=np.zeros(0)), ValueError, "X is empty"),
    (bad(X=np.where(np.arange(60).reshape(20, 3) == 7, np.nan, X)), ValueError, "X contains NaN or inf.*row 2, column 1"),
    (bad(X=np.where(np.arange(60).reshape(20, 3) == 0, np.inf, X)), ValueError, "X contains NaN or inf"),
    (bad(X=np.array([["a"] * 3] * 20)), ValueError, "X must be numeric"),
    (bad(X=[[1.0, 2.0], [3.0]]), ValueError, "X could not be read"),
    (bad(y=Y[:-1]), ValueError, "y has 19 labels but X has 20 rows"),
    (bad(y=np.ones(20)), ValueError, "y must contain at least two classes, got 1"),
    (bad(y=np.where(np.arange(20) == 3, np.nan, Y)), ValueError, "y contains NaN"),
    (bad(y=np.zeros((20, 2))), ValueError, "y must be 1-D"),
    (bad(sample_weight=np.ones(19)), ValueError, r"sample_weight must have shape \(20,\)"),
    (bad(sample_weight=-np.ones(20)), ValueError, "sample_weight must be non-negative"),
    (bad(sample_weight=np.where(np.arange(20) == 1, np.inf, 1.0)), ValueError, "sample_weight contains NaN or inf"),
    (bad(sample_weight=np.zeros(20)), ValueError, "sample_weight must have a positive sum"),
    (bad(steps=2**31), ValueError, "steps must be <= 2147483647"),
    (bad(steps=-5), ValueError, "steps must be >= 0"),
    (bad(steps=2.5), TypeError, "steps must be an integer"),
    (bad(l2=-0.1), ValueError, "l2 must be >= 0"),
    (bad(l1=-0.1), ValueError, "l1 must be >= 0"),
    (bad(l2=float("nan")), ValueError, "l2 must be finite"),
    (bad(learning_rate=0.0), ValueError, "learning_rate must be > 0"),
    (bad(learning_rate=-0.01), ValueError, "learning_rate must be > 0"),
    (bad(tol=-1e-4), ValueError, "tol must be >= 0"),
    (bad(tol="tight"), ValueError, "tol must be a non-negative number"),
    (bad(solver="sgdd"), ValueError, "solver must be one of"),
    (bad(solver=3), TypeError, "solver must be a name"),
    (bad(solver="lbfgs", l1=0.1), ValueError, "cannot handle an L1 penalty"),
    (bad(solver="newton", batch_size=4), ValueError, "needs full batches"),
    (bad(batch_size=0), ValueError, "batch_size must be >= 1"),
    (bad(batch_size=21), ValueError, "batch_size must be <= n_samples"),
    (bad(batch_size=4, tol=1e-3), ValueError, "tol must be None"),
    (bad(class_weight="even"), ValueError, "class_weight must be None, 'balanced' or a dict"),
    (bad(class_weight={0.0: 1.0, 5.0: 2.0}), ValueError, "class_weight has key 5.0, which is not a class"),
    (bad(class_weight={0.0: -1.0}), ValueError, r"class_weight\[0.0\] must be >= 0"),
    (bad(fit_intercept="yes"), TypeError, "fit_intercept must be a bool"),
    (bad(init=(np.zeros(2), 0.0)), ValueError, "init must have coef"),
]


@pytest.mark.parametrize("kwargs, error, match", CASES)
def test_fit_rejects_bad_input_before_compiling(kwargs, error, match):
    before = traces()
    with pytest.raises(error, match=match):
        jaxlr.fit(**kwargs)
    assert traces() == before


@pytest.mark.parametrize("kwargs, error, match", CASES[:20])
def test_sweep_rejects_the_same_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        jaxlr.sweep(**kwargs)


def test_labels_may_be_any_two_values():
    labels = np.where(Y > 0, 7, -3)
    result = jaxlr.fit(X, labels, l2=0.1)
    assert list(result.classes) == [-3, 7]
    assert set(jaxlr.predict(result, X)) <= {-3, 7}


def test_integer_features_become_float():
    result = jaxlr.fit((X * 10).astype(int), Y, l2=0.1)
    assert result.coef.dtype == np.float64


@pytest.mark.parametrize("call, argument, name, detail", [
    (lambda: jaxlr.fit(X, Y, l2=-1.0), "l2", "l2", "must be >= 0, got -1.0"),
    (lambda: jaxlr.fit(X, Y, steps=True), "steps", "steps", "must be a number, got a bool"),
    (lambda: jaxlr.sweep(X, Y, l2=[0.1, -1.0]), "l2", "l2[1]", "must be >= 0, got -1.0"),
    (lambda: jaxlr.sweep(X, Y, learning_rate=[]), "learning_rate", "learning_rate", "is an empty sequence"),
])
def test_argument_errors_carry_the_argument_name(call, argument, name, detail):
    """What a shell needs to rephrase an error in its own terms (the CLI's --l2) without
    parsing the message; the message itself is unchanged."""
    from jaxlr._train.checks import ArgumentError

    with pytest.raises((ValueError, TypeError)) as err:
        call()
    assert isinstance(err.value, ArgumentError)
    assert (err.value.argument, err.value.name, err.value.detail) == (argument, name, detail)
    assert str(err.value) == f"{name} {detail}"
    import pickle

    again = pickle.loads(pickle.dumps(err.value))
    assert type(again) is type(err.value) and str(again) == str(err.value)


def test_check_scalar_maximum():
    from jaxlr._train.checks import check_scalar

    assert check_scalar("seed", 2**32 - 1, minimum=0, maximum=2**32 - 1, integer=True) == 2**32 - 1
    with pytest.raises(ValueError, match=r"^seed must be <= 4294967295, got 4294967296$"):
        check_scalar("seed", 2**32, minimum=0, maximum=2**32 - 1, integer=True)


@pytest.mark.parametrize("where", [(0, 0), (3000, 999), (9000, 17), (10_239, 999)])
def test_the_finite_check_in_blocks_on_two_threads_finds_any_bad_value(where):
    """Large X is checked in row blocks on two threads (``all_finite``): a NaN in either half,
    in the first or the last block, is found and located."""
    from jaxlr._train.data import FINITE_BLOCK_ROWS, all_finite, check_features

    X = np.ones((10_240, 1000), np.float32)
    assert X.size >= 1 << 20 and X.shape[0] > 2 * FINITE_BLOCK_ROWS  # the threaded, blocked path
    assert all_finite(X)
    X[where] = np.nan
    assert not all_finite(X)
    with pytest.raises(ValueError, match=rf"X contains NaN or inf \(1 values; first at row {where[0]}, column {where[1]}\)"):
        check_features(X)


@pytest.mark.parametrize("labels", [
    np.array([-128, 127, 0, 5, 5], np.int8),  # the offset from the smallest overflows int8
    np.array([200, 255, 200], np.uint8),
    np.array([2**63 + 5, 2**63 + 9, 2**63 + 5], np.uint64),
    np.array([-2**63, -2**63 + 3], np.int64),
    np.array([1e10, 1e10 + 1024, 1e10], np.float32),  # integers 1,024 apart in float32
    np.array([-3.0, 2.0, 2.0, 7.0]),
    np.array([2.0, 1.0, 2.0, 1.0], np.float16),
    np.array([1.5, 2.5, 1.5]),  # not integers, but integer offsets: the same classes
    np.arange(100_000) % 7,
])
def test_labels_counted_instead_of_sorted_equal_numpys_unique(labels):
    """Integer labels within a small range are encoded by counting (``_count_integer_labels``):
    the same classes, in the same dtype and order, and the same codes as ``np.unique``."""
    from jaxlr._train.data import _count_integer_labels, check_labels

    counted = _count_integer_labels(labels)
    assert counted is not None
    classes, codes = np.unique(labels, return_inverse=True)
    assert counted[0].dtype == classes.dtype and counted[0].tolist() == classes.tolist()
    assert counted[1].tolist() == codes.reshape(-1).tolist()
    if labels.dtype.kind != "f" or np.array_equal(labels, np.round(labels)):
        got_codes, got_classes = check_labels(labels, labels.size)
        assert got_codes.dtype == np.int32 and got_classes.tolist() == classes.tolist()


@pytest.mark.parametrize("labels", [np.array([0, 70_000]), np.array([True, False, True]),
                                    np.array(["a", "b"]), np.array([0.25, 1.0]),
                                    np.array([-1.0, -0.0, 1.0]), np.array([0.0, -0.0, 1.0])])
def test_labels_out_of_the_counted_range_are_sorted(labels):
    """Strings, bools, wide ranges, non-integers and a -0.0 (whose sign np.unique keeps or
    drops by position) go to np.unique: check_labels returns its classes, zeros' signs included."""
    from jaxlr._train.data import _count_integer_labels, check_labels

    assert _count_integer_labels(labels) is None
    if labels.dtype.kind == "f" and np.array_equal(labels, np.round(labels)):
        classes = np.unique(labels)
        got = check_labels(labels, labels.size)[1]
        assert got.tolist() == classes.tolist() and np.array_equal(np.signbit(got), np.signbit(classes))
