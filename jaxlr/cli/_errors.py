"""The command line's errors: a ``UsageError`` is one line on stderr and exit code 2."""

from __future__ import annotations

import re

# optional dependencies of the command line (module -> distribution name): the 'cli' extra
EXTRA = {"matplotlib": "matplotlib", "tqdm": "tqdm", "pyarrow": "pyarrow", "sklearn": "scikit-learn"}


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


def option_error(err: Exception, options: dict) -> UsageError:
    """A ``ValueError``/``TypeError`` of the Python API, phrased with the option's name.

    The core's validation errors carry the keyword at fault (``jaxlr._train.checks.ArgumentError``:
    ``argument``, ``detail``), which maps to the option through the parser (``options``).
    Raise sites not converted yet start their message with the keyword ("batch_size must be
    <= ..."), so the leading name is mapped the same way; nothing else in a message changes."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    argument = getattr(err, "argument", None)
    if argument in options:
        return UsageError(f"{options[argument]} {err.detail}")
    lead = re.match(r"([A-Za-z_]\w*)(\[\d+\])?", text)
    if lead and lead.group(1) in options:
        return UsageError(options[lead.group(1)] + text[lead.end():])
    return UsageError(text)


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: blocked (sys.modules[module] is None)
        return False


def missing_extra(modules) -> UsageError:
    names = [EXTRA.get(m, m) for m in modules]
    verb = "is" if len(names) == 1 else "are"
    return UsageError(f"{' and '.join(names)} {verb} not installed; install the 'cli' extra: pip install 'jaxlr[cli]'")


def require(modules) -> None:
    """Refuse before any work when a module of the 'cli' extra is missing (one line, not a
    traceback after training)."""
    missing = [m for m in modules if not _importable(m)]
    if missing:
        raise missing_extra(missing)


__all__ = ["UsageError", "option_error", "require", "missing_extra", "EXTRA"]
