"""Several processes (hosts) as one JAX program: a thin wrapper over ``jax.distributed``.

Every process runs the same script. Process 0 also hosts the coordinator; all of them
call ``initialize`` before any other JAX call, after which ``jax.devices()`` lists the
devices of every process and a mesh over them (``jaxlr.sharding.make_mesh``) spreads a
sweep across hosts::

    # on host A (the coordinator) and host B, the same command but the process id:
    jaxlr ... --coordinator-address hostA:12345 --num-processes 2 --process-id 0 --mesh 2x1
    jaxlr ... --coordinator-address hostA:12345 --num-processes 2 --process-id 1 --mesh 2x1

Each process must pass the same data and options. Results are global arrays: each
process holds the shards of its own devices; ``gather(result)`` brings them to every host.
On clusters JAX can detect (SLURM, Open MPI, Kubernetes/TPU pods) the three values
can be omitted: pass ``--distributed`` and ``jax.distributed.initialize()`` finds them.
"""

from __future__ import annotations

import argparse

import jax

from . import sharding as _sharding


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, local_device_ids=None,
               initialization_timeout: int = 300) -> None:
    """Join this process to a multi-process JAX job (``jax.distributed.initialize``).

    ``coordinator_address`` is ``host:port`` of process 0, which listens there; ``num_processes``
    the number of processes; ``process_id`` this one's rank in ``0..num_processes-1``. With all
    three ``None``, JAX reads them from the cluster environment (SLURM, Open MPI, TPU pods).
    Must run before any JAX computation. On CPU, cross-process collectives use Gloo.
    """
    if (coordinator_address is None) != (num_processes is None) or (
        num_processes is not None and process_id is None
    ):
        raise ValueError("coordinator_address, num_processes and process_id go together: give all three or none")
    if num_processes is not None:
        if isinstance(num_processes, bool) or not isinstance(num_processes, int) or num_processes < 1:
            raise ValueError(f"num_processes must be a positive int, got {num_processes!r}")
        if isinstance(process_id, bool) or not isinstance(process_id, int) or not 0 <= process_id < num_processes:
            raise ValueError(f"process_id must be an int in 0..{num_processes - 1}, got {process_id!r}")
        if ":" not in str(coordinator_address):
            raise ValueError(f"coordinator_address must be host:port, got {coordinator_address!r}")
    jax.distributed.initialize(
        coordinator_address=coordinator_address, num_processes=num_processes, process_id=process_id,
        local_device_ids=local_device_ids, initialization_timeout=initialization_timeout,
    )


def shutdown() -> None:
    """Leave the job (``jax.distributed.shutdown``); harmless when never initialized."""
    jax.distributed.shutdown()


def is_main_process() -> bool:
    """True in process 0 (the one that should write files and print)."""
    return jax.process_index() == 0


def gather(result):
    """A ``FitResult``/``SweepResult`` whose arrays are NumPy arrays on this host (the
    shards of every process gathered), so ``table()``, ``rows()``, saving etc. work
    anywhere. Every process must call it (it is a collective when arrays span hosts)."""
    return jax.tree_util.tree_map(_sharding.to_host, result)


def _mesh_shape(text: str) -> tuple[int, int]:
    try:
        models, data = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MODELSxDATA such as 4x1, 2x2 or -1x1, got {text!r}") from None
    if models == 0 or data == 0 or models < -1 or data < -1 or (models == -1 and data == -1):
        raise argparse.ArgumentTypeError(f"mesh sizes must be positive (one may be -1), got {text!r}")
    return models, data


def add_distributed_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--mesh``, ``--coordinator-address``, ``--num-processes``, ``--process-id`` and
    ``--distributed`` to ``parser`` (in their own group); see ``initialize_from_args``."""
    group = parser.add_argument_group("devices and hosts")
    group.add_argument("--mesh", type=_mesh_shape, default=None, metavar="MODELSxDATA",
                       help="split models and rows over a device mesh, e.g. 4x1 (models), 1x4 (rows), "
                            "2x2; -1 means all remaining devices (-1x1: every device takes models; write --mesh=-1x1)")
    group.add_argument("--coordinator-address", default=None, metavar="HOST:PORT",
                       help="multi-host: address of process 0, which listens there")
    group.add_argument("--num-processes", type=int, default=None, metavar="N",
                       help="multi-host: number of processes")
    group.add_argument("--process-id", type=int, default=None, metavar="I",
                       help="multi-host: this process's rank, 0..N-1")
    group.add_argument("--distributed", action="store_true",
                       help="multi-host: let JAX detect the cluster (SLURM, Open MPI, TPU pods)")
    return parser


def initialize_from_args(args: argparse.Namespace):
    """Join the multi-process job if the arguments ask for one, then return the mesh that
    ``--mesh`` describes (over the devices of all processes), or ``None``.

    Raises ``ValueError`` for an incomplete set of multi-host options."""
    given = [args.coordinator_address, args.num_processes, args.process_id]
    if any(v is not None for v in given):
        if any(v is None for v in given):
            raise ValueError("--coordinator-address, --num-processes and --process-id go together")
        initialize(args.coordinator_address, args.num_processes, args.process_id)
    elif getattr(args, "distributed", False):
        initialize()
    if args.mesh is None:
        return None
    return _sharding.make_mesh(*args.mesh)
