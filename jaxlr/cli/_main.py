"""``jaxlr`` itself: parse, run one command, and turn every failure into one line and an exit code.

Bad input is one line on stderr and exit code 2, with nothing written: ``--out`` is checked
before any work, the core's argument errors are named by their options (``--l2``, from the
error's ``argument``), and OS errors (a full disk, a read-only directory, a closed pipe) are
one line too. Ctrl-C exits 130 and leaves only whole files behind.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import sys
import time

from . import _commands
from ._args import EXIT_USAGE, build_parser
from ._errors import EXTRA, UsageError, missing_extra

EXIT_INTERRUPTED = 130


def _os_error(err: OSError) -> str:
    code = errno.errorcode.get(err.errno, "")
    text = f"{err.strerror or err}" + (f" ({code})" if code else "")
    return f"{err.filename}: {text}" if err.filename else text


def say(line: str) -> None:
    """One line on stderr, even when stderr itself is a closed pipe."""
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        pass


def _detach_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null, so the interpreter's final flush does
    not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def default_out_dir(command: str) -> str:
    """A directory name no earlier run used: ``jaxlr-COMMAND-YYYYmmdd-HHMMSS`` (``-2``, ... if taken)."""
    base = f"jaxlr-{command}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, k = base, 1
    while os.path.exists(out):
        k += 1
        out = f"{base}-{k}"
    return out


def parser():
    """The parser of ``jaxlr``, its commands wired to ``_commands``."""
    return build_parser({"fit": _commands.fit, "sweep": _commands.sweep, "demo": _commands.demo,
                         "bootstrap": _commands.bootstrap, "stability": _commands.stability,
                         "permutation": _commands.permutation})


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser_ = parser()
    args = parser_.parse_args(argv)
    args.argv = argv
    if args.command is None:
        parser_.print_help()
        return 0
    name = f"jaxlr {args.command}"
    if hasattr(args, "out") and args.out is None:
        if getattr(args, "resume", False):
            say(f"{name}: error: --resume needs --out DIR (the directory of the run to resume)")
            return EXIT_USAGE
        args.out = default_out_dir(args.command)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # a kill exits like Ctrl-C
    try:
        return args.func(args)
    except UsageError as err:
        say(f"{name}: error: {err}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        where = ""
        if args.command == "sweep":
            where = (f"; finished chunks are kept in {os.path.join(args.out, 'checkpoint')} "
                     f"(rerun with --resume --out {args.out})")
        say(f"{name}: interrupted{where}")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. jaxlr sweep ... | head -1: the reader left early
        _detach_stdout()
        done = f"; the results in {args.out} are complete" if getattr(args, "published", False) else ""
        say(f"{name}: error: standard output was closed early (broken pipe){done}")
        return EXIT_USAGE
    except ModuleNotFoundError as err:  # an optional dependency imported on the way
        top = (err.name or "").split(".")[0]
        if top not in EXTRA:
            raise
        say(f"{name}: error: {missing_extra([top])}")
        return EXIT_USAGE
    except OSError as err:  # a full disk, a directory without write permission, ...
        say(f"{name}: error: {_os_error(err)}")
        return EXIT_USAGE
    finally:
        signal.signal(signal.SIGTERM, previous)


def run() -> None:
    """The console-script entry point: ``main()``, then exit with its code.

    A usage error has computed nothing, so it leaves through ``os._exit`` after flushing:
    once (1 run in ~100, in CI under load) a native library's thread pool aborted the
    process during interpreter teardown ("terminate called without an active exception"),
    turning the promised exit code 2 into SIGABRT."""
    code = main()
    if code == EXIT_USAGE:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                pass
        os._exit(code)
    sys.exit(code)


__all__ = ["main", "run", "parser", "EXIT_INTERRUPTED"]
