"""The results as a markdown table (machine, versions, devices, dtype in every table)."""

from __future__ import annotations


def _g(x, fmt="{:.3g}"):
    return "n/a" if x is None else fmt.format(x)


def _target(value, goal):
    if value is None:
        return "n/a"
    return "met" if value >= goal else "not met"


def markdown(res: dict) -> str:
    mach, lim0, lim1 = res["machine"], res["limits_start"], res["limits_end"]
    v = mach["versions"]
    lines = [
        f"Machine: {mach['cpu']}, {mach['cpu_count']} cores, {mach['platform']}; backend {mach['backend']}, "
        f"devices {', '.join(mach['devices'])}",
        f"Versions: jax {v['jax']}, jaxlib {v['jaxlib']}, optax {v['optax']}, numpy {v['numpy']}, "
        f"scikit-learn {v['scikit-learn']}, python {v['python']}; dtype float32 (reference float64); "
        f"mode {'--quick' if res['quick'] else 'full'}; total {res['total_s']:.0f} s",
        "",
        "| limit | start | end | drift |",
        "|---|---|---|---|",
    ]
    for key, label, scale, unit in (("matmul_f32_flops", "matmul f32", 1e9, "GFLOP/s"),
                                    ("matmul_f64_flops", "matmul f64", 1e9, "GFLOP/s"),
                                    ("read_bw_Bps", "read bandwidth", 1e9, "GB/s")):
        lines.append(f"| {label} | {lim0[key] / scale:.1f} {unit} | {lim1[key] / scale:.1f} {unit} | "
                     f"{res['drift']['changes'][key]:+.0%} |")
    if res["drift"]["flagged"]:
        lines.append("\n**Flagged: the machine's limits drifted more than 15% during the run.**")
    gd = res["gd"]
    p = res["peers"]
    lines += [
        "",
        "| measurement | value | target | |",
        "|---|---|---|---|",
        f"| 1 model GD step (m={gd['m']}, n={gd['n']}) vs two reads of X | {gd['single_vs_bandwidth']:.2f} "
        f"({gd['single_step_s'] * 1e3:.2f} ms vs {gd['two_reads_s'] * 1e3:.2f} ms) | >= 1.6 | "
        f"{_target(gd['single_vs_bandwidth'], 1.6)} |",
        f"| same step vs one read of X | {gd.get('single_vs_one_read', gd['single_vs_bandwidth'] / 2):.2f} | | |",
    ]
    for f in gd.get("fixed_cost", []):
        lines.append(f"| fixed cost of a warm call, `fit(X, y, steps=0)`, {f['m']:,} x {f['n']} float32 | "
                     f"{f['seconds'] * 1e3:.1f} ms | | |")
    for s in gd["sweeps"]:
        goal = 0.7 if s["K"] == 64 else None
        lines.append(f"| K={s['K']} GD sweep FLOP rate vs matmul | {s['vs_matmul']:.2f} "
                     f"({s['flops'] / 1e9:.1f} GFLOP/s, {s['step_s'] * 1e3:.2f} ms/step) | "
                     f"{'>= 0.7' if goal else ''} | {_target(s['vs_matmul'], goal) if goal else ''} |")
    bj, bs = p["best_jaxlr"], p["best_sklearn"]
    lines.append(
        f"| to optimum (gap <= 1e-6), best jaxlr vs best sklearn, warm (m={p['data']['m']}, n={p['data']['n']}) | "
        f"{_g(p['speedup_vs_best_sklearn'], '{:.2f}x')} ({bj['solver'] if bj else 'none'} vs "
        f"{bs['solver'] if bs else 'none'}) | >= 2x | {_target(p['speedup_vs_best_sklearn'], 2)} |")
    fc = p["first_call"]
    lines.append(
        f"| first call in a fresh process, sklearn time / jaxlr time (warm cache; cold cache) | "
        f"{p['first_call_ratio']:.2f} ({fc['jaxlr_warm_cache']['seconds']:.2f} s vs "
        f"{fc['sklearn']['seconds']:.2f} s); cold {p['first_call_ratio_cold']:.2f} "
        f"({fc['jaxlr_cold_cache']['seconds']:.2f} s), no cache {fc['jaxlr_no_cache']['seconds']:.2f} s | >= 1 | "
        f"{_target(p['first_call_ratio'], 1)} |")
    cg = p["c_grid"]
    lines.append(
        f"| 32 C values to tol, one sweep vs sklearn loop (m={p['data']['grid_m']}, n={p['data']['grid_n']}) | "
        f"{cg['speedup_vs_sklearn_loop']:.2f}x ({cg['jaxlr']['seconds']:.3f} s) | >= 20x | "
        f"{_target(cg['speedup_vs_sklearn_loop'], 20)} |".replace(" s) |", f" s, jaxlr {cg['jaxlr']['solver']}) |", 1))
    for name, g in cg["jaxlr_all"].items():
        lines.append(
            f"| lane efficiency, {name} sweep (iterations {min(g['n_iter'])}-{max(g['n_iter'])}; "
            f"{g['seconds']:.3f} s; plain vmap would be {g['plain_vmap_efficiency']:.2f}) | "
            f"{g['lane_efficiency']:.2f} | >= 0.8 | {_target(g['lane_efficiency'], 0.8)} |")
    gs = p["gd_same_steps"]
    lines.append(f"| GD, same {gs['steps']} steps, vs the seed's NumPy loop ({gs['seed_numpy_s']:.3f} s; BLAS threads "
                 f"1 / default {gs['seed_threads']['one_thread_s']:.3f} / {gs['seed_threads']['default_threads_s']:.3f} s)"
                 f" | {gs['speedup']:.2f}x | >= 3x | "
                 f"{_target(gs['speedup'], 3)} |")
    lines += ["", "Time to the optimum (relative objective gap <= 1e-6 vs float64 reference), warm:", "",
              "| solver | seconds | gap | tol / steps | iterations | reached | BLAS threads: 1 / default |",
              "|---|---|---|---|---|---|---|"]
    for r in p["to_optimum"]:
        threads = (f"{r['one_thread_s']:.4f} / {r['default_threads_s']:.4f} s" if "threads" in r else "")
        lines.append(f"| {r['solver']} | {r['seconds']:.4f} | {r['gap']:.1e} | {r.get('tol', r.get('steps'))} | "
                     f"{r.get('n_iter', r.get('steps'))} | {r['reached']} | {threads} |")
    lines += ["", "C grid: jaxlr " + ", ".join(f"{k} max gap {g['max_gap']:.1e}" for k, g in cg["jaxlr_all"].items())
              + "; sklearn loop " + ", ".join(
        f"{k} {v['seconds']:.3f} s (max gap {v['max_gap']:.1e}; BLAS threads 1 / default "
        f"{v['one_thread_s']:.3f} / {v['default_threads_s']:.3f} s)" for k, v in cg["sklearn"].items())]
    mem = res["memory"]
    lines += ["", f"Peak memory (RSS): bench process {mem['bench_peak_rss_bytes'] / 2**20:.0f} MiB, "
              f"competitor process {p['competitor_peak_rss_bytes'] / 2**20:.0f} MiB, first-call processes: jaxlr "
              f"{fc['jaxlr_warm_cache']['peak_rss_bytes'] / 2**20:.0f} MiB, sklearn "
              f"{fc['sklearn']['peak_rss_bytes'] / 2**20:.0f} MiB"]
    sc = res["scaling"]
    lines += ["", f"Growth (log-log slope of GD step time): m {sc['slope_m']:.2f}, n {sc['slope_n']:.2f}, "
              f"K {sc['slope_K']:.2f}" + (f"; plot {sc['png']}" if sc.get("png") else "")]
    if "cv" in res:
        from .cv import markdown as cv_markdown

        lines += ["", cv_markdown(res["cv"])]
    if "probe" in res:
        from .probe import markdown as probe_markdown

        lines += ["", probe_markdown(res["probe"])]
    if "resampling" in res:
        from .resampling import markdown as resampling_markdown

        lines += ["", resampling_markdown(res["resampling"])]
    if "lbfgs" in res:
        from .lbfgs import markdown as lbfgs_markdown

        lines += ["", lbfgs_markdown(res["lbfgs"])]
    if "beyond" in res:
        from .beyond import markdown as beyond_markdown

        lines += ["", beyond_markdown(res["beyond"])]
    if "first_answer" in res:
        from .first_answer import markdown as first_markdown

        lines += ["", first_markdown(res["first_answer"])]
    if res.get("sparse"):
        lines += ["", "### Sparse X", "", sparse_markdown(res["sparse"])]
    return "\n".join(lines)


def sparse_markdown(res: dict) -> str:
    """The sparse part (``bench.sparse``): kernel table, sparse == dense, the two large targets."""
    lines = []
    kern = res.get("kernels")
    if kern:
        lines += ["Sparse kernels: best time of one product, and the same product by scipy's CSR measured in "
                  "alternation with it; ratio = kernel / scipy (< 1 is faster), by wall time and by CPU time "
                  "(all threads). fwd = X @ W, bwd = X^T @ R (scipy: the CSC view X.T, as scikit-learn computes it).",
                  "", "| data | dtype | K | kernel | fwd ms | x scipy (wall / cpu) | bwd ms | x scipy (wall / cpu) |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in kern["rows"]:
            data = {"skewed": "text-like", "target": "200k x 100k, 50/row"}.get(r.get("data"), f"{r['m']} x {r['n']}")
            cells = []
            for what in ("fwd", "bwd"):
                cells.append(f"{r[what + '_ms']:.2f} | {r[what + '_vs_scipy']:.2f} / {r[what + '_cpu_vs_scipy']:.2f}"
                             if what + "_ms" in r else "- | -")
            lines.append(f"| {data} ({r['nnz'] / 1e6:.1f}M nnz) | {r['dtype']} | {r['K']} | {r['kernel']} | "
                         f"{cells[0]} | {cells[1]} |")
    eq = res.get("equality")
    if eq:
        worst = max(r["max_abs_diff"] for r in eq)
        lines += ["", f"sparse == dense (float64), max |difference| of coef and intercept: worst {worst:.1e} "
                  f"(target <= 1e-6: {'met' if all(r['met'] for r in eq) else 'not met'})", "",
                  "| solver | fit | sweep x3 |", "|---|---|---|"]
        by = {}
        for r in eq:
            by.setdefault(r["solver"], {})[r["kind"]] = r["max_abs_diff"]
        lines += [f"| {s} | {d.get('fit', float('nan')):.1e} | {d.get('sweep x3', float('nan')):.1e} |"
                  for s, d in by.items()]
    lf = res.get("large_fit")
    if lf:
        c, w, s = lf["jaxlr_cold"], lf["jaxlr_warm_cache"], lf["sklearn"]
        gib = 2**30
        lines += ["", f"Large sparse fit: {lf['m']:,} x {lf['n']:,} float32 CSR, {lf['nnz'] / 1e6:.1f}M non-zeros, "
                  f"lbfgs, l2 = {lf['l2']:g}, tol = {lf['tol']:g}, each in a fresh process", "",
                  "| run | fit s (first call) | fit s (compiled) | iterations | objective (float64) | peak RSS |",
                  "|---|---|---|---|---|---|",
                  f"| jaxlr, empty persistent cache | {c['first_s']:.2f} | {c['warm_s']:.2f} | {c['n_iter']} | "
                  f"{c['objective']:.8f} | {c['peak_rss_bytes'] / gib:.2f} GiB |",
                  f"| jaxlr, warm persistent cache | {w['first_s']:.2f} | {w['warm_s']:.2f} | {w['n_iter']} | "
                  f"{w['objective']:.8f} | {w['peak_rss_bytes'] / gib:.2f} GiB |",
                  f"| scikit-learn lbfgs | {s['first_s']:.2f} | {s['warm_s']:.2f} | {s['n_iter']} | "
                  f"{s['objective']:.8f} | {s['peak_rss_bytes'] / gib:.2f} GiB |", "",
                  f"- peak RSS < 1.5 GiB: {'met' if lf['peak_rss_ok'] else 'not met'} "
                  f"({max(c['peak_rss_bytes'], w['peak_rss_bytes']) / gib:.2f} GiB)",
                  f"- at least as fast as scikit-learn's lbfgs, fresh process (scikit-learn time / jaxlr time): "
                  f"{lf['speedup_first_call']:.2f} with a warm persistent cache "
                  f"({'met' if lf['speedup_first_call'] >= 1 else 'not met'}), {lf['speedup_first_call_cold']:.2f} "
                  f"cold (compile {lf['compile_s']:.2f} s); compiled, both warm: {lf['speedup_run']:.2f}"]
        same = w.get("to_sklearn_objective")
        if same:
            lines.append(f"- to scikit-learn's answer (objective {s['objective']:.8f}; max|grad| <= tol stops "
                         f"different solvers at different objectives), at the loosest tol that reaches it, "
                         f"jaxlr tol = {same['tol']:g}: "
                         f"{same['seconds']:.2f} s, {same['n_iter']} iterations (objective {same['objective']:.8f}); "
                         f"scikit-learn time / jaxlr time {lf['speedup_same_objective']:.2f}")
    lv = res.get("libsvm")
    if lv:
        lines += ["", f"LIBSVM through `jaxlr fit`: {lv['m']:,} x {lv['n']:,}, {lv['nnz'] / 1e6:.1f}M non-zeros "
                  f"(file {lv['file_bytes'] / 2**20:.0f} MiB; dense float64 would be {lv['dense_float64_bytes'] / 2**30:.0f} GiB): "
                  f"exit {lv['exit']}, {lv['status']} after {lv['n_iter']} lbfgs steps, {lv['seconds']:.1f} s "
                  f"(compile {lv['compile_s']:.1f} s), peak RSS {lv['peak_rss_bytes'] / 2**30:.2f} GiB "
                  f"(target < 1.5 GiB: {'met' if lv['peak_rss_ok'] else 'not met'})"]
    return "\n".join(lines)
