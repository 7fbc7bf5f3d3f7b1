"""The child process of ``test_hostile_cli.py``: runs every command-line case of the hostile pass
in ONE fresh process (``jaxlr.cli.main`` called in turn: one import of JAX, programs compiled
once) and prints one JSON line per case. Not a test module (pytest collects ``test_*.py``).

``python hostile_child.py CASES.json``: each case is ``{"name", "argv"}`` plus optionally
``"signal": [seconds, "INT"|"TERM"]`` (sent from a timer thread while the case runs; the child
reports the seconds from the signal to the return), ``"api": true`` (the Python API's
``jaxlr.fit`` on the data file instead of ``main``), ``"interrupt_after_chunk": k`` (Ctrl-C once
a sweep has saved chunk k), ``"cwd"`` and ``"env"`` (set for the case), ``"remove"`` (files
deleted before the case), and ``"after"``:
``"no_cache"`` turns jaxlr's compilation cache off once the case is done.
"""

import contextlib
import io
import json
import os
import signal
import sys
import threading
import time

import jax

jax.config.update("jax_enable_x64", True)

import jaxlr  # noqa: E402
import jaxlr.cli._outputs as outputs  # noqa: E402
from jaxlr._api.cache import disable_compilation_cache  # noqa: E402
from jaxlr.cli._main import main  # noqa: E402


def _api_fit(argv):
    """``jaxlr.fit`` on the case's CSV with the case's budget (the Python API's Ctrl-C)."""
    import numpy as np

    table = np.loadtxt(argv[0], delimiter=",", skiprows=1)
    options = dict(zip(argv[1::2], argv[2::2]))
    kwargs = dict(solver="gd", tol=None, steps=int(options["--steps"]))
    if "--max-time" in options:
        kwargs["max_time"] = float(options["--max-time"])
    jaxlr.fit(table[:, :-1], table[:, -1], **kwargs)
    return 0


@contextlib.contextmanager
def _interrupt_after_chunk(k):
    save = outputs.DirCheckpoint.save

    def stop(self, chunk, result):
        save(self, chunk, result)
        if chunk == k:
            raise KeyboardInterrupt

    outputs.DirCheckpoint.save = stop
    try:
        yield
    finally:
        outputs.DirCheckpoint.save = save


def run(case):
    err, out = io.StringIO(), io.StringIO()
    sent, done = [], None
    timer = None
    if "signal" in case:
        delay, name = case["signal"]

        def fire():
            sent.append(time.perf_counter())
            os.kill(os.getpid(), getattr(signal, "SIG" + name))

        timer = threading.Timer(delay, fire)
    for path in case.get("remove", []):  # e.g. an older jaxlr's checkpoint key file
        if os.path.exists(path):
            os.remove(path)
    previous_cwd, previous_env = os.getcwd(), dict(os.environ)
    os.chdir(case.get("cwd", previous_cwd))
    os.environ.update(case.get("env", {}))
    chunk = case.get("interrupt_after_chunk")
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), \
                (_interrupt_after_chunk(chunk) if chunk is not None else contextlib.nullcontext()):
            if timer is not None:
                timer.start()
            try:
                rc = _api_fit(case["argv"]) if case.get("api") else main(case["argv"])
            except KeyboardInterrupt:
                rc = "KeyboardInterrupt"
            done = time.perf_counter()
    finally:
        if timer is not None:
            timer.cancel()
        os.chdir(previous_cwd)
        os.environ.clear()
        os.environ.update(previous_env)
    if case.get("after") == "no_cache":
        disable_compilation_cache()
    latency = done - sent[0] if sent else None
    return {"name": case["name"], "rc": rc, "stderr": err.getvalue(), "stdout": out.getvalue(), "latency": latency}


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    for case in cases:
        print("CASE " + json.dumps(run(case)), flush=True)
