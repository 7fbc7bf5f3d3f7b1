"""The pure compiled core: pure JAX functions and pytrees, traceable, no validation, no I/O.

    status      Status codes and the bounded loss history each model records
    model       Params, logits
    losses      stable per-sample log-losses and the penalized objective
    metrics     log-loss, accuracy, ROC AUC as jnp functions
    design      the design matrix X as the solvers see it (dense); sparse: the same, sparse
    host_sparse a sparse X kept on the host, its products by scipy in two threads (CPU)
    problem     K models' objectives on shared data, lanes last (value, gradient, Hessian)
    steps       the Solver interface and its facts, per-lane helpers, the batched line search
    first_order, lbfgs, newton, fista, active_set   the solvers
    solvers     the solvers by name, and "auto"
    engine      the one loop driver: K lanes advanced by one compiled loop, statuses as data
    programs    the compiled training programs (XLA options, kept across processes)

Arrows point one way: each module imports only modules listed above it.
"""
