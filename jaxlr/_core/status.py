"""What the training loop records per model: a ``Status`` and a bounded loss history.

``Status`` is the one owner of the codes compiled code stores per model and of the messages
that explain them (optimistix's ``RESULTS``): every table, warning and file reads its
``label`` and ``message`` from here.
"""

from __future__ import annotations

import enum

import numpy as np


class Status(enum.IntEnum):
    """Why a model stopped; the integer codes are what compiled code stores per model."""

    RUNNING = 0
    CONVERGED = 1
    MAX_ITER = 2
    DIVERGED = 3
    DONE = 4
    PRUNED = 5

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @property
    def label(self) -> str:
        """The lower-case name used in tables and files (``"max_iter"``)."""
        return self.name.lower()


_MESSAGES = {
    Status.RUNNING: "still running (the loop was cut before the model stopped)",
    Status.CONVERGED: "converged: the optimality residual reached tol",
    Status.MAX_ITER: "stopped at the iteration budget (steps / max_iter) before reaching tol",
    Status.DIVERGED: "diverged: the objective became non-finite or ended above its start; "
                     "the last finite parameters are kept",
    Status.DONE: "ran its fixed budget of steps (tol=None)",
    Status.PRUNED: "pruned by successive halving: its validation loss ranked low at a rung",
}
STATUS_NAMES = tuple(s.label for s in Status)

HISTORY_SIZE = 1024  # loss-history entries kept per model, whatever the number of steps
HISTORY_HEAD = 512  # the first steps, all kept; after them every k-th step


def history_stride(steps: int) -> int:
    """Steps between history entries after the first ``HISTORY_HEAD`` (1 while ``steps`` fits)."""
    return max(1, -(-(steps - HISTORY_HEAD) // (HISTORY_SIZE - HISTORY_HEAD)))


def history_steps(steps: int, length: int, head: int = HISTORY_HEAD) -> np.ndarray:
    """The step each entry of a loss history holds: ``0 .. head-1``, then every ``stride``-th
    step after (``stride = ceil((steps - head) / (length - head))``, 1 while ``steps`` fits)."""
    if length <= head:
        return np.arange(length)
    stride = max(1, -(-(steps - head) // (length - head)))
    return np.concatenate([np.arange(head), head + stride * np.arange(length - head)])


__all__ = ["Status", "STATUS_NAMES", "HISTORY_SIZE", "HISTORY_HEAD", "history_steps", "history_stride"]
