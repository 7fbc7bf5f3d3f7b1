"""What the resampling methods share: checks at the door and one call of the engine with
in-program resampling (``jaxlr._core.resample``).

``bootstrap`` and ``stability_selection`` train every resample as a lane of one compiled program:
each lane's training weights are the data's weights (``sample_weight`` times ``class_weight``)
times row multipliers drawn inside the program from the lane's seed, so no
``(n_resamples, n_samples)`` weight matrix exists anywhere. ``resample_weights`` recomputes a
lane's weights on the host (the same function, unpadded), for checks and for users.
"""

from __future__ import annotations

from functools import partial

import jax
import numpy as np

from .._core.resample import Resample, multipliers
from .._train.checks import ArgumentTypeError, ArgumentValueError, check_scalar
from .._train.data import Dataset
from .._train.grid import CHECKS, FrozenDict, Grid, value
from .._train.options import Options
from .._train.results import SweepResult
from .._train.train import Trainer

SCORING = {"accuracy": ("accuracy", 1.0), "neg_log_loss": ("loss", -1.0), "roc_auc": ("auc", 1.0)}
MAX_LANES = 2**24  # resamples, permutations, subsamples: far past any budget


def check_count(name: str, given, minimum: int = 1) -> int:
    """A positive integer count (not a bool, not a float such as 100.0)."""
    if isinstance(given, float) or not isinstance(given, (int, np.integer)) or isinstance(given, (bool, np.bool_)):
        raise ArgumentTypeError(name, f"must be an integer, got {given!r}")
    return check_scalar(name, given, minimum=minimum, maximum=MAX_LANES, integer=True)


def check_open_unit(name: str, given) -> float:
    """A real number strictly between 0 and 1."""
    given = check_scalar(name, given)
    if not 0.0 < given < 1.0:
        raise ArgumentValueError(name, f"must be in (0, 1), got {given}")
    return given


def check_held_out(held_out, data: Dataset):
    """``(X_test, y_test)`` checked against the training data: X as ``check_features``, the same
    number of features, labels among the training classes (returned as codes, in y's form)."""
    from .._train.data import check_features

    if not isinstance(held_out, (tuple, list)) or len(held_out) != 2:
        raise ArgumentTypeError("held_out", f"must be a pair (X_test, y_test), got {type(held_out).__name__}")
    X_test = check_features(held_out[0], "held_out[0]")
    if X_test.shape[1] != data.X.shape[1]:
        raise ArgumentValueError("held_out", f"X_test has {X_test.shape[1]} features, X has {data.X.shape[1]}")
    labels = np.asarray(held_out[1]).reshape(-1)
    if labels.shape[0] != X_test.shape[0]:
        raise ArgumentValueError("held_out", f"y_test has {labels.shape[0]} labels for {X_test.shape[0]} rows")
    classes = np.asarray(data.classes)
    codes = np.searchsorted(classes, labels)
    if not ((codes < len(classes)) & (classes[np.minimum(codes, len(classes) - 1)] == labels)).all():
        raise ArgumentValueError("held_out", f"y_test has labels that are not classes of y ({classes.tolist()})")
    return X_test, (codes.astype(data.X.dtype) if len(classes) == 2 else codes.astype(np.int32))


def check_seed(given) -> int:
    return check_scalar("seed", given, **CHECKS["seed"])


def lane_seeds(seed: int, n: int) -> np.ndarray:
    """``n`` independent uint32 lane seeds from one user seed (NumPy's ``SeedSequence``)."""
    return np.random.SeedSequence(seed).generate_state(n, dtype=np.uint32)


def settings(l2, l1, learning_rate) -> dict:
    """One checked value of each per-model setting, shared by every lane."""
    return {"l2": value("l2", l2), "l1": value("l1", l1), "learning_rate": value("learning_rate", learning_rate)}


def resample_grid(seeds, modes, l2, l1, learning_rate, labels=None) -> Grid:
    """A ``Grid`` of lanes whose ``fold`` is their resampling mode (no fold matrix)."""
    K = len(seeds)
    full = lambda v: np.broadcast_to(np.asarray(v, float), (K,)).copy()  # noqa: E731
    lr, a, b = full(learning_rate), full(l2), full(l1)
    given = [{} for _ in range(K)] if labels is None else labels
    # every lane's settings, as a sweep's grid holds them (``inference`` reads its l2 there)
    labels = tuple(FrozenDict({**g, "seed": int(s), "mode": int(m), "learning_rate": float(lr[k]), "l2": float(a[k]),
                               "l1": float(b[k])}) for k, (g, s, m) in enumerate(zip(given, seeds, modes)))
    return Grid(np.asarray(seeds, np.uint32), lr, a, b,
                np.asarray(modes, np.int32), None, tuple(labels))


def train_resamples(data: Dataset, grid: Grid, resample: Resample, caller: str, progress=None,
                    **options) -> tuple[SweepResult, Options]:
    """Every lane of ``grid`` trained on its own in-program resample: one engine call."""
    opts = Options.resolve(data, grid, caller=caller, **options)
    return Trainer(data, opts, grid, resample)(grid, progress=progress), opts


@partial(jax.jit, static_argnames=("resample", "m"))
def _multipliers(resample, seed, mode, y, m):
    return multipliers(resample, seed, mode, y, m, m, jax.numpy.result_type(float))


def resample_weights(resample: Resample, seeds, modes, data: Dataset) -> np.ndarray:
    """(K, n) training weights of lanes (``seeds``, ``modes``): exactly what they trained on
    (the data's weights times the in-program multipliers, computed by the same function)."""
    m = data.X.shape[0]
    y = np.asarray(data.y)
    mult = _multipliers(resample, np.asarray(seeds, np.uint32), np.asarray(modes, np.int32), y, m)
    return np.asarray(mult).T.astype(data.sample_weight.dtype) * data.sample_weight[None, :]


NEGLIGIBLE = 1e-10  # a chance per lane of losing a class below which it is not looked for
BLOCK = 256  # lanes whose weights are recomputed on the host at once (one program for every block)


def lanes_missing_a_class(resample: Resample, seeds, modes, data: Dataset) -> np.ndarray:
    """(K,) bool: the lanes whose training weights leave a class without weight (a degenerate
    model: its intercept runs off or a penalty alone holds it). Looked for only when a lane may
    lose a class with a chance above ``NEGLIGIBLE`` (a class of ``c`` rows is missed by a
    bootstrap resample with chance about ``exp(-c)``, by a subsample with ``(1 - fraction)^c``, by
    a jackknife fit only when ``c = 1``); then the weights are recomputed on the host, ``BLOCK``
    lanes at a time."""
    from .._core.resample import BOOTSTRAP, COMPLEMENT, JACKKNIFE, SUBSAMPLE

    seeds, modes = np.asarray(seeds, np.uint32), np.asarray(modes, np.int32)
    codes = np.asarray(data.y).astype(np.int64)
    positive = data.sample_weight > 0
    rare = int(np.bincount(codes[positive], minlength=data.n_classes).min())
    present = set(modes.tolist())
    miss = max([np.exp(-1.0)] * (BOOTSTRAP in present and resample.n_groups == 1)
               + [1.0 - resample.fraction] * bool(present & {SUBSAMPLE, COMPLEMENT}), default=0.0)
    if miss**rare <= NEGLIGIBLE and not (JACKKNIFE in present and rare <= 1):
        return np.zeros(len(seeds), bool)
    onehot = (codes[:, None] == np.arange(data.n_classes)[None, :]).astype(float)
    out = np.zeros(len(seeds), bool)
    for lo in range(0, len(seeds), BLOCK):
        idx = np.minimum(np.arange(lo, lo + BLOCK), len(seeds) - 1)
        totals = resample_weights(resample, seeds[idx], modes[idx], data) @ onehot  # (BLOCK, C)
        hi = min(lo + BLOCK, len(seeds))
        out[lo:hi] = (totals[: hi - lo] <= 0).any(axis=1)
    return out


__all__ = ["SCORING", "check_held_out", "lanes_missing_a_class", "check_count", "check_open_unit", "check_seed", "lane_seeds", "settings", "resample_grid",
           "train_resamples", "resample_weights", "MAX_LANES"]
