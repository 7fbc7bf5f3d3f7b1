"""The compiled training programs: which XLA options, and compiling once across processes.

``call(kind, static, state, *args)`` runs ``engine.run``. In a process, each signature is compiled
once. Across processes, jaxlr keeps its own compiled executables (``set_executables``; the store,
on by default, is ``jaxlr._api.cache.ProgramStore``): a fresh process loads one in ~0.1 s where
tracing, lowering and compiling take 0.4-2 s, and it keeps the loop state's shapes too
(``kept_shapes``), so nothing of jaxlr's is traced. JAX's global configuration is never touched.
Next to that, when ``jaxlr.enable_compilation_cache`` turned on JAX's persistent cache, the
traced and lowered programs are kept with ``jax.export`` (``set_store``): they serve where
executables cannot be serialized. Anything that cannot be kept (a user's optax transformation, a
sharded run) is compiled in every process. This module never touches files: the stores do.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
import warnings

import jax

from .engine import run
from .host_sparse import is_host, loaded_callback

# XLA:CPU options, measured in bench/ (first answer): the older loop emitters compile 2-5x faster
# than the new fusion emitters and run as fast or faster here; LLVM's -O1 compiles ~25% faster than
# its default -O2 with the same run times on these programs; the lowest level (-O0) halves
# compilation again but makes elementwise work 2-4x slower, so it is kept for programs whose
# whole run is expected to be short (compiling is then most of the cost).
# XLA:CPU hands dots and reductions to YNNPACK fusions. On X below ~4M elements they cost more
# than XLA's own kernels (an empty list turns them off): 50 gradient steps on digits' shape
# (1,437 x 64, 10 classes x 6 lanes) 0.93 -> 0.80 ms a step in float64, 0.68 -> 0.50 in float32,
# `LogisticRegressionCV` on digits and 5 classes ~12% faster. On the probe's 12,000 x 512 one-lane
# L-BFGS they are ~7% faster, so large X keeps them (bench/README.md). The option is experimental
# and measured on jax 0.10; an XLA that does not know an option refuses to compile, so older jax
# versions are not given it. The -O0 programs keep them too: without them XLA hands their small
# matrix products to Eigen, whose float32 contraction JIT-generates oneDNN's GEMM kernels at a
# process's first product (Xbyak in a profile): a binary `fit` on wine ran 28 ms the first time
# and 1 ms after, 3-4.5 ms the first time with them, the same after (bench/README.md).
# The loop emitters have one trap: an elementwise fusion whose output XLA places in the buffer of
# one of its inputs (in place, the input being dead after it) fails LLVM's runtime aliasing check
# and runs its scalar loop. The binary loss's gradient fusion is such a one: on 100,000 x 100 it
# took 0.39 ms a step where the fusion emitters' code takes 0.03 ms. So dense binary programs
# expected to run many steps (first-order solvers) take the fusion emitters: a GD step 0.73x on
# 100,000 x 100, 0.75-0.8x from 2,000 x 16 to 20,000 x 64; XLA compiles it 0.15-0.3 s longer,
# once per machine with the executable store. Programs of few, costlier steps
# keep the loop emitters: with the fusion emitters an L-BFGS or Newton fit of 100,000 x 100
# compiled 0.45-1.1 s longer and ran no faster (its ~10 evaluations barely see the trap), the
# probe's multinomial program compiled 1.4 s longer, neither faster; the kept sparse program
# compiled 0.8 s longer and ran slower (0.31 against 0.29 s); the CV sets' programs lost
# (bench/README.md).
_NO_YNN = {"xla_cpu_experimental_ynn_fusion_type": ""} if jax.__version_info__ >= (0, 10) else {}
CPU_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 1, **_NO_YNN}
LARGE_CPU_OPTIONS = {k: v for k, v in CPU_OPTIONS.items() if k not in _NO_YNN}
SMALL_CPU_OPTIONS = {**LARGE_CPU_OPTIONS, "xla_backend_optimization_level": 0}
OPTIONS = {"default": None, "cpu": CPU_OPTIONS, "cpu-small": SMALL_CPU_OPTIONS, "cpu-large": LARGE_CPU_OPTIONS,
           "cpu-emitters": {**CPU_OPTIONS, "xla_cpu_use_fusion_emitters": True},
           "cpu-large-emitters": {**LARGE_CPU_OPTIONS, "xla_cpu_use_fusion_emitters": True}}
# logits x expected steps below which a program is compiled at -O0. It was 2**21; with compiled
# programs kept across processes a compile is paid once per machine while -O0's slower elementwise
# work is paid at every run: 100 GD steps on 20,000 x 64 took 63 ms at -O0 and 27 ms at -O1
SMALL_WORK = 2**18
# elements of X from which the YNNPACK fusions are kept
LARGE_X = 2**22
# expected steps from which a dense binary program takes the fusion emitters (-O0's aside)
MANY_STEPS = 200


def _jit(options):
    return jax.jit(run, static_argnames=("static",), donate_argnums=(0,), compiler_options=options)


PROGRAMS = {kind: _jit(options) for kind, options in OPTIONS.items()}


def program_kind(rows: int, cols: int, width: int, n_out: int, solver=None, steps: int = 1000,
                 dense: bool = True) -> str:
    """Which compiled variant runs a chunk of ``width`` lanes on (rows, cols) padded data: on CPU,
    the one with YNNPACK's fusions when ``rows x cols`` is large, else the -O0 one when
    ``rows x width x outputs x expected steps`` is small; outside -O0, a dense binary design
    expected to run ``MANY_STEPS`` gets the fusion emitters (``-emitters``). Large X never runs at -O0,
    however few its steps: its products are most of the work and slower there (one value and
    gradient on 100,000 x 100 float32: 8.0 ms at -O0, 4.7 ms at -O1), so ``fit(steps=0)`` took
    42-46 ms where it takes 35-37 (bench/README.md)."""
    if jax.default_backend() != "cpu":
        return "default"
    expected = min(steps, getattr(solver, "expected_steps", None) or steps)
    emitters = "-emitters" if dense and n_out == 1 and expected >= MANY_STEPS else ""
    if rows * cols >= LARGE_X:
        return "cpu-large" + emitters
    return "cpu-small" if rows * width * n_out * expected <= SMALL_WORK else "cpu" + emitters


class _Kept:
    """The process's programs kept across processes: the store (an object with ``key(parts)``,
    ``load(name)``, ``save(name, bytes)`` and ``discard(name)``, or None), what was loaded from
    it, and JAX's persistent cache when jaxlr turned it on (``jax_cache``: an object with
    ``directory`` and ``remove_damaged(module)``): the first call of each program may read a
    damaged entry there, which is removed (see ``first_call``)."""

    def __init__(self):
        self.store = None
        self.jax_cache = None
        self.loaded: dict = {}  # signature -> (callable on flat leaves, output treedef)
        self.called: set = set()  # signatures called once in this process
        self.damage_reported = False
        self.executables = None  # jaxlr's own store of compiled executables (see ``set_executables``)
        self.compiled: dict = {}  # signature -> jax.stages.Compiled, loaded or compiled in this process
        self.shapes: dict = {}  # key -> pytree of ShapeDtypeStruct, loaded or traced in this process

    def set_store(self, store, jax_cache=None) -> None:
        self.store, self.jax_cache = store, jax_cache
        self.loaded.clear()
        self.called.clear()

    def usable_store(self):
        if self.store is None:
            return None
        try:
            import flatbuffers  # noqa: F401  (jax.export's serialization needs it)
        except ImportError:
            return None
        return self.store

    def disable(self, reason: str) -> None:
        if self.store is not None:
            warnings.warn(f"jaxlr: programs are not kept across processes: {reason}", RuntimeWarning,
                          stacklevel=outside_stacklevel())
        self.store = None

    def damaged(self, directory=None) -> None:
        """One warning per process for damaged cache entries (removed: the next run keeps afresh)."""
        if not self.damage_reported:
            self.damage_reported = True
            directory = directory or getattr(self.jax_cache, "directory", None) or getattr(self.store, "directory", "")
            warnings.warn(f"jaxlr: damaged entries of the compilation cache in {directory} were removed and "
                          "their programs compiled afresh", RuntimeWarning, stacklevel=outside_stacklevel())

    def stop_keeping_executables(self, reason: str) -> None:
        if self.executables is not None:
            warnings.warn(f"jaxlr: compiled programs are not kept across processes: {reason}", RuntimeWarning,
                          stacklevel=outside_stacklevel())
        self.executables = None

    def first_call(self, key, fn, *args):
        """``fn(*args)``; on the first call of ``key`` in this process, JAX's warnings about an
        unreadable entry of its persistent cache become ``damaged()`` (the entry is removed:
        JAX never overwrites one), other warnings pass through unchanged."""
        if self.jax_cache is None or key in self.called:
            return fn(*args)
        self.called.add(key)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn(*args)
        for w in caught:
            text = str(w.message)
            if text.startswith(JAX_CACHE_READ_ERROR):
                self.jax_cache.remove_damaged(text[len(JAX_CACHE_READ_ERROR):].split("'", 1)[0])
                self.damaged()
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return out


JAX_CACHE_READ_ERROR = "Error reading persistent compilation cache entry for '"
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # jaxlr/


def outside_stacklevel() -> int:
    """The ``stacklevel`` (for a ``warnings.warn`` in the caller) of the first frame outside
    jaxlr: the warning names the user's line, never one of jaxlr's or JAX's."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


KEPT = _Kept()


def set_store(store, jax_cache=None) -> None:
    """Keep traced programs in ``store`` (None: trace in every process); ``jax_cache``: JAX's
    persistent cache as jaxlr turned it on, whose damaged entries are removed when read."""
    KEPT.set_store(store, jax_cache)


def set_executables(store) -> None:
    """Keep compiled executables in ``store`` (an object with ``key``, ``load``, ``save`` and
    ``discard``, as for ``set_store``; None: compile in every process)."""
    KEPT.executables = store
    KEPT.compiled.clear()
    KEPT.shapes.clear()


def _signature(kind: str, static, treedef, leaves) -> tuple:
    """What a compiled executable depends on besides jaxlr's source and JAX's version (the store's
    key adds those): the device kind, x64, the XLA options, the solver and the argument shapes."""
    device = jax.devices()[0]
    return (jax.default_backend(), device.device_kind, len(jax.devices()), bool(jax.config.jax_enable_x64), kind,
            repr(OPTIONS[kind]), repr(static), str(treedef), [(tuple(a.shape), str(a.dtype)) for a in leaves])


def _read(store, name: str):
    """The unpickled entry ``name`` of ``store``, or None (missing, or damaged: then removed, with
    one warning per process)."""
    try:
        blob = store.load(name)
    except OSError as err:
        KEPT.stop_keeping_executables(f"cannot read {err.filename or store}: {err.strerror or err}")
        return None
    if blob is None:
        return None
    try:
        return pickle.loads(blob)
    except Exception:
        store.discard(name)
        KEPT.damaged(getattr(store, "directory", None))
        return None


def _write(store, name: str, value) -> None:
    try:
        store.save(name, pickle.dumps(value))
    except Exception as err:  # read-only or full: keep running, stop keeping
        KEPT.stop_keeping_executables(f"cannot keep a program ({type(err).__name__}: {err})")


def kept_shapes(parts, trace):
    """``trace()`` (a pytree of ``jax.ShapeDtypeStruct``: shapes found by tracing), kept in the
    executable store under ``parts`` so that a fresh process with a kept program traces nothing."""
    key = repr(parts)
    shapes = KEPT.shapes.get(key)
    store = KEPT.executables
    if shapes is None and store is not None:
        name = "shapes-" + store.key(("shapes", jax.default_backend(), bool(jax.config.jax_enable_x64), key))
        shapes = _read(store, name)
        if shapes is None:
            shapes = trace()
            if KEPT.executables is not None:
                _write(store, name, shapes)
    if shapes is None:
        shapes = trace()
    KEPT.shapes[key] = shapes
    return shapes


def _load_or_compile(store, kind: str, static, state, args, treedef, leaves):
    """The compiled program: deserialized from ``store`` when kept there (no tracing, lowering or
    XLA compile), else compiled and kept for the next process."""
    name = "exe-" + store.key(_signature(kind, static, treedef, leaves))
    entry = _read(store, name)
    if entry is not None:
        try:
            uses_lapack, host_callbacks, serialized = entry
            if uses_lapack:
                _initialize_lapack()
            compiled = _deserialize(serialized, host_callbacks)
            jax.monitoring.record_event(LOADED_EVENT)  # the CLI's run.json counts these as cache hits
            return compiled
        except Exception:  # written by another build of XLA, or damaged
            store.discard(name)
            KEPT.damaged(getattr(store, "directory", None))
    compiled, from_jax_cache = _compile(lambda: KEPT.first_call(
        ("compile", name), lambda: PROGRAMS[kind].lower(state, *args, static).compile()))
    if KEPT.executables is not None and not from_jax_cache:
        try:
            serialized = _serialize(compiled)
        except Exception:  # this backend cannot serialize: the traced-program store (if on) serves
            KEPT.executables = None
            return compiled
        if serialized is not None:
            _write(store, name, ("lapack" in compiled.as_text(), *serialized))
    return compiled


HOST_CALLBACK = "jaxlr-host-callback"


def _serialize(compiled) -> tuple[int, tuple] | None:
    """``(number of host callbacks, what _deserialize loads)``: JAX's
    ``serialize_executable.serialize``, except that the program's host callbacks (closures JAX
    made when lowering ``host_sparse``'s products) are left out. Every one of them calls
    ``host_product``, so ``_deserialize`` attaches ``loaded_callback`` in their place. None when
    such a program cannot be kept (JAX's pickling of executables changed): it compiles in every
    process, as it did before jaxlr kept it; the other programs are still kept."""
    from jax.experimental import serialize_executable as executables

    unloaded = compiled._executable._unloaded_executable
    callbacks = list(getattr(unloaded, "host_callbacks", None) or ())
    if not callbacks:
        return 0, executables.serialize(compiled)
    ids = {id(c) for c in callbacks}
    try:
        class Pickler(executables._JaxPjrtPickler):
            def persistent_id(self, obj):
                return (HOST_CALLBACK,) if id(obj) in ids else super().persistent_id(obj)

        args_info, in_tree = jax.tree_util.tree_flatten(compiled.args_info)
        with io.BytesIO() as file:
            Pickler(file).dump((unloaded, args_info, compiled._no_kwargs))
            return len(callbacks), (file.getvalue(), in_tree, compiled.out_tree)
    except Exception:
        return None


def _deserialize(serialized: tuple, host_callbacks: int):
    """The executable ``_serialize`` kept, loaded, with ``host_callbacks`` callbacks attached
    (JAX's ``serialize_executable.deserialize_and_load`` when there are none)."""
    from jax.experimental import serialize_executable as executables

    if not host_callbacks:
        return executables.deserialize_and_load(*serialized)
    payload, in_tree, out_tree = serialized
    backend = jax.devices()[0].client

    class Unpickler(executables._JaxPjrtUnpickler):
        def persistent_load(self, pid):
            if pid[0] == HOST_CALLBACK:
                return loaded_callback
            if pid[0] == "exec":
                return self.backend.deserialize_executable(pid[1], executable_devices=self.execution_devices,
                                                           host_callbacks=[loaded_callback] * host_callbacks)
            return super().persistent_load(pid)

    unloaded, args_info, no_kwargs = Unpickler(io.BytesIO(payload), backend).load()
    return jax.stages.Compiled(unloaded.load(), [], in_tree.unflatten(args_info), out_tree, no_kwargs=no_kwargs)


LOADED_EVENT = "/jaxlr/programs/executable_loaded"
JAX_CACHE_HIT = "/jax/compilation_cache/cache_hits"


def _compile(compile_fn):
    """``compile_fn()`` and whether JAX's persistent cache (when a user or the CLI turned it on)
    supplied the executable. Such an executable must not be kept: XLA:CPU (jaxlib 0.10.2)
    serializes it without some of its kernels, and loaded back it fails at its first run with
    ``NOT_FOUND: Function ... not found`` (a jaxlr upgrade compiling what JAX's cache holds)."""
    hits = []

    def listen(event, **_):
        if event == JAX_CACHE_HIT:
            hits.append(event)

    jax.monitoring.register_event_listener(listen)
    try:
        return compile_fn(), bool(hits)
    finally:
        jax.monitoring.unregister_event_listener(listen)


def _initialize_lapack() -> None:
    """jaxlib's CPU LAPACK kernels (Newton's Cholesky) find their LAPACK routines when a program
    using them is lowered; a loaded executable skips lowering, and calling it before this
    segfaults."""
    from jax._src.lax.linalg import initialize_lapack

    initialize_lapack()


def _flat(static, treedef, holder: dict):
    """``run`` as a function of flat leaves; its output structure lands in ``holder``."""
    def flat_run(*leaves):
        state, *args = jax.tree_util.tree_unflatten(treedef, leaves)
        leaves_out, holder["out_tree"] = jax.tree_util.tree_flatten(run(state, *args, static))
        return tuple(leaves_out)

    return flat_run


def _load_or_keep(store, kind, static, leaves, treedef, n_state):
    """The program as a callable on flat leaves: deserialized from the store if kept there,
    else traced, lowered and kept for the next process."""
    from jax import export

    name = store.key((jax.default_backend(), kind, repr(OPTIONS[kind]), repr(static), str(treedef),
                      [(tuple(a.shape), str(a.dtype)) for a in leaves]))
    exported = out_tree = None
    try:
        blob = store.load(name)
    except OSError as err:  # the store's directory is gone or not a directory: trace, stop keeping
        blob = None
        KEPT.disable(f"cannot read {err.filename or store}: {err.strerror or err}")
    if blob is not None:
        try:
            serialized, out_tree = pickle.loads(blob)
            exported = export.deserialize(serialized)
        except Exception:  # a damaged entry: removed, traced again and kept afresh below
            exported = out_tree = None
            store.discard(name)
            KEPT.damaged()
    if exported is None:
        holder: dict = {}
        avals = [jax.ShapeDtypeStruct(a.shape, a.dtype) for a in leaves]
        exported = export.export(jax.jit(_flat(static, treedef, holder)))(*avals)
        out_tree = holder["out_tree"]
        if KEPT.store is not None:
            try:
                store.save(name, pickle.dumps((exported.serialize(), out_tree)))
            except Exception as err:  # read-only or full: keep running, stop keeping
                KEPT.disable(f"cannot keep a program ({type(err).__name__}: {err})")
    call = jax.jit(exported.call, donate_argnums=tuple(range(n_state)), compiler_options=OPTIONS[kind])
    return call, out_tree


def _leaf_signature(leaves) -> tuple:
    """Shapes and dtypes of a call's leaves (dtype objects: ``str`` of each cost ~1 ms a call)."""
    return tuple((a.shape, getattr(a, "dtype", type(a))) for a in leaves)


def call(kind: str, static, state, *args):
    """``engine.run(state, *args, static)`` compiled with ``kind``'s options (kept across processes
    when a store is set and the program can be serialized)."""
    executables = KEPT.executables
    if executables is not None and static.solver.serializable and not _sharded(args):
        leaves, treedef = jax.tree_util.tree_flatten((state, *args))
        key = (kind, static, treedef, _leaf_signature(leaves))
        compiled = KEPT.compiled.get(key)
        if compiled is None:
            compiled = KEPT.compiled[key] = _load_or_compile(executables, kind, static, state, args, treedef, leaves)
        return compiled(state, *args)
    store = KEPT.usable_store()
    if KEPT.jax_cache is None and store is None:
        return PROGRAMS[kind](state, *args, static)
    leaves, treedef = jax.tree_util.tree_flatten((state, *args))
    key = (kind, static, treedef, _leaf_signature(leaves))
    if store is None or not static.solver.serializable or _unkeepable(args):
        return KEPT.first_call(key, PROGRAMS[kind], state, *args, static)
    kept = KEPT.loaded.get(key)
    if kept is None:
        kept = _load_or_keep(store, kind, static, leaves, treedef, len(jax.tree_util.tree_leaves(state)))
        KEPT.loaded[key] = kept
    fn, out_tree = kept
    return jax.tree_util.tree_unflatten(out_tree, KEPT.first_call(key, fn, *leaves))


def _sharded(args) -> bool:
    """Whether the arguments are sharded over devices (such programs are compiled in every
    process)."""
    return any(isinstance(a, jax.Array) and len(a.sharding.device_set) > 1 for a in jax.tree_util.tree_leaves(args))


def _unkeepable(args) -> bool:
    """Sharded over devices, or calling the host (``HostSparseDesign``): ``jax.export`` serializes
    neither a host callback nor, here, a sharding (the executable store keeps the host's)."""
    return any(is_host(a) for a in args) or _sharded(args)


__all__ = ["call", "set_store", "set_executables", "kept_shapes", "outside_stacklevel", "program_kind", "PROGRAMS",
           "OPTIONS", "CPU_OPTIONS", "SMALL_CPU_OPTIONS", "LARGE_CPU_OPTIONS"]
