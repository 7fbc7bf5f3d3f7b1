"""Checks of single arguments at the door: the errors name the argument.

Everything here runs on the host before anything is traced or compiled, so a bad argument is a
``ValueError``/``TypeError`` that names it (``ArgumentError``), never a NaN or an XLA error from
deep inside a compiled loop.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import numpy as np


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


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool (a NumPy bool too); anything else is an ``ArgumentTypeError``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(name, f"must be a bool, got {value!r}")
    return bool(value)


def check_callback(name: str, value: Any):
    """``value`` if it is None or callable (a function of ``(done, total)``), else an
    ``ArgumentTypeError`` naming ``name``."""
    if value is not None and not callable(value):
        raise ArgumentTypeError(name, f"must be None or a callable progress(done, total), got {value!r}")
    return value


def check_choice(name: str, value: Any, choices) -> Any:
    """``value`` if it is one of ``choices`` (strings), else an error listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ArgumentValueError(name, f"must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


__all__ = ["ArgumentError", "ArgumentValueError", "ArgumentTypeError", "check_scalar", "as_values", "check_bool",
           "check_callback", "check_choice"]
