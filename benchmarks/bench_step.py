"""Time one training step (forward + backward) of numpy_seq2seq against PyTorch or a naive baseline.

For every (shape, cell, score, dtype, threads) the numpy model and its rival get the same weights
and the same batch; the PyTorch rival is ``numpy_seq2seq.torch_export.to_torch(model)``, the
package's own torch twin of the model. Steps are interleaved A B A B ... after a warm-up, so a
burst of load on a shared machine hits both; the table reports the median time of each and the
median of the paired ratios numpy/rival.

It also reports the "matmul floor": the time of only the matrix products the numpy step performs.
The products are recorded from the implementation itself (every ``@`` and ``np.matmul`` / ``np.dot``
/ ``np.einsum`` in the package source, with operand shapes, strides and dtypes; see
``record_matmuls``), then replayed back to back on preallocated arrays. full step / floor says how
much of the step is spent outside BLAS: elementwise gate math, Python overhead, copies.

Run ``python benchmarks/bench_step.py --help``; see benchmarks/README.md for the columns.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

HERE = Path(__file__).resolve().parent

SHAPES = {  # V both sides, E, H, N, S, T
    "dates": dict(V=59, E=16, H=256, N=128, S=29, T=11),
    "large": dict(V=59, E=16, H=512, N=128, S=50, T=11),
    "small": dict(V=59, E=16, H=64, N=32, S=29, T=11),  # Python overhead matters here
}
ALL_CELLS = ["rnn", "gru", "lstm"]
ALL_SCORES = ["none", "dot", "general", "concat"]


def _load(name: str):
    """Import a sibling file of this script (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------
# batch and models

def make_batch(shape: dict, seed: int = 0, equal: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A ragged source batch (lengths in [S/2, S], the first row full) and full-length targets.

    With ``equal`` every source has length S: no padding, so the torch encoder needs no packed
    sequence. Ids 0-3 are reserved (padding, <s>, </s>, <unk>); tokens are drawn from 4..V-1.
    Targets are ``<s> y1 ... y_{T-2} </s>``, all of length T, like the dates task's outputs.
    """
    rng = np.random.default_rng(seed)
    V, N, S, T = shape["V"], shape["N"], shape["S"], shape["T"]
    lengths = rng.integers(max(1, S // 2), S + 1, size=N)
    lengths[0] = S
    if equal:
        lengths[:] = S
    src = np.zeros((N, S), dtype=np.int64)
    for n, L in enumerate(lengths):
        src[n, :L] = rng.integers(4, V, size=L)
    tgt = np.empty((N, T), dtype=np.int64)
    tgt[:, 0], tgt[:, -1] = 1, 2
    tgt[:, 1:-1] = rng.integers(4, V, size=(N, T - 2))
    return src, tgt


def make_numpy_model(shape: dict, cell: str, score: str, dtype: str, seed: int = 0,
                     num_layers: int = 1):
    from numpy_seq2seq.model import Seq2Seq

    return Seq2Seq(shape["V"], shape["V"], embed_dim=shape["E"], hidden_dim=shape["H"],
                   cell=cell, attention=None if score == "none" else score,
                   dtype=np.dtype(dtype).type, seed=seed, num_layers=num_layers)


# ---------------------------------------------------------------------------------------------
# recording the matrix products of one numpy step

_PRODUCTS = ("matmul", "dot", "einsum", "tensordot", "inner", "outer", "vdot")


class _Rewrite(ast.NodeTransformer):
    """``a @ b`` -> ``__rec_op__("matmul", "file:line", a, b)``; ``np.dot(...)`` likewise."""

    def __init__(self, filename):
        self.filename = filename

    def _call(self, op, node, args, keywords=()):
        where = ast.Constant(f"{self.filename}:{node.lineno}")
        return ast.Call(ast.Name("__rec_op__", ast.Load()), [ast.Constant(op), where, *args],
                        list(keywords))

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.MatMult):
            return ast.copy_location(self._call("matmul", node, [node.left, node.right]), node)
        return node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.MatMult):
            load = ast.Name(node.target.id, ast.Load())
            value = self._call("matmul", node, [load, node.value])
            return ast.copy_location(ast.Assign([node.target], value), node)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if (isinstance(f, ast.Attribute) and f.attr in _PRODUCTS
                and isinstance(f.value, ast.Name) and f.value.id in ("np", "numpy")):
            return ast.copy_location(self._call(f.attr, node, node.args, node.keywords), node)
        return node


def _describe(a) -> dict | object:
    if isinstance(a, np.ndarray):
        return {"shape": list(a.shape), "strides": [s // a.itemsize for s in a.strides],
                "dtype": a.dtype.name}
    return a


def record_matmuls(cfg: dict) -> list[dict]:
    """Every matrix product of one ``loss_and_grads`` call, in order (run in a child process).

    Each source file of the package is parsed, its products rewritten into calls of a recorder,
    and re-executed in its own module namespace; a few passes make ``from x import f`` bindings
    between package modules pick up the rewritten functions.
    """
    import numpy_seq2seq.model  # noqa: F401  (imports everything the model uses)

    log = []

    def rec(op, where, *args, **kwargs):
        log.append({"op": op, "where": where, "args": [_describe(a) for a in args],
                    "kwargs": {k: _describe(v) for k, v in kwargs.items() if k != "out"}})
        return (np.matmul if op == "matmul" else getattr(np, op))(*args, **kwargs)

    mods = [m for name, m in sorted(sys.modules.items())
            if name.startswith("numpy_seq2seq") and getattr(m, "__file__", None)]
    for _ in range(4):
        for m in mods:
            src = Path(m.__file__).read_text()
            tree = ast.fix_missing_locations(_Rewrite(Path(m.__file__).name).visit(ast.parse(src)))
            m.__dict__["__rec_op__"] = rec
            exec(compile(tree, m.__file__, "exec"), m.__dict__)
    shape = SHAPES[cfg["shape"]] if isinstance(cfg["shape"], str) else cfg["shape"]
    model = make_numpy_model(shape, cfg["cell"], cfg["score"], cfg["dtype"],
                             num_layers=cfg.get("num_layers", 1))
    src, tgt = make_batch(shape, equal=cfg.get("equal", False))
    log.clear()
    model.loss_and_grads(src, tgt)
    return log


def recorded_products(cfg: dict) -> list[dict]:
    """``record_matmuls`` in a fresh interpreter, so this process keeps the untouched package."""
    out = subprocess.run([sys.executable, __file__, "--_record", json.dumps(cfg)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _flops(entry) -> float:
    if entry["op"] != "matmul":
        return float("nan")
    a, b = (x["shape"] for x in entry["args"])
    a2 = a if len(a) > 1 else [1] + a
    b2 = b if len(b) > 1 else b + [1]
    batch = np.broadcast_shapes(tuple(a2[:-2]), tuple(b2[:-2]))
    return 2.0 * float(np.prod(batch)) * a2[-2] * a2[-1] * b2[-1]


def summarize_products(log: list[dict]) -> list[dict]:
    """Group identical products: op, operand shapes, count, GFLOP in total, call sites."""
    groups = {}
    for e in log:
        key = (e["op"], json.dumps([a["shape"] if isinstance(a, dict) else a for a in e["args"]]))
        g = groups.setdefault(key, {"op": e["op"], "shapes": key[1], "count": 0, "flop": 0.0,
                                    "where": set()})
        g["count"] += 1
        g["flop"] += _flops(e)
        g["where"].add(e["where"])
    return sorted(groups.values(), key=lambda g: -g["flop"])


class Floor:
    """Replays recorded products back to back on preallocated arrays with the same strides."""

    def __init__(self, log: list[dict], seed: int = 0):
        rng = np.random.default_rng(seed)
        buffers = {}
        self.calls = []

        def operand(d):
            if not isinstance(d, dict):
                return d
            key = (tuple(d["shape"]), tuple(d["strides"]), d["dtype"])
            if key not in buffers:
                dims = list(zip(d["shape"], d["strides"], strict=True))
                size = 1 + sum((n - 1) * abs(s) for n, s in dims)
                base = rng.standard_normal(size).astype(d["dtype"]) * 0.1
                offset = sum((n - 1) * -s for n, s in dims if s < 0)
                item = base.itemsize
                buffers[key] = np.lib.stride_tricks.as_strided(
                    base[offset:], shape=d["shape"], strides=[s * item for s in d["strides"]])
            return buffers[key]

        for e in log:
            args = [operand(a) for a in e["args"]]
            kwargs = {k: operand(v) for k, v in e["kwargs"].items()}
            fn = np.matmul if e["op"] == "matmul" else getattr(np, e["op"])
            res = fn(*args, **kwargs)
            if e["op"] in ("matmul", "dot", "einsum") and isinstance(res, np.ndarray) and res.ndim:
                kwargs["out"] = np.empty_like(res)  # results land in preallocated arrays
            self.calls.append((fn, args, kwargs))

    def __call__(self):
        for fn, args, kwargs in self.calls:
            fn(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# timing

def interleaved(fns, repeats: int, warmup: int, settle: float = 0.0) -> list[list[float]]:
    """Times of each function in ``fns``, called round-robin (A B C A B C ...) after ``warmup``
    untimed rounds, so a burst of load from elsewhere hits every one of them.

    ``settle`` seconds of sleep (untimed) follow every call. With more than one thread, OpenBLAS
    and OpenMP workers keep spinning for a while after a call returns; on a 2-core machine they
    would steal the next contender's cores (measured here: torch 72 ms alone, 156 ms right after a
    NumPy step; a 0.1 s pause removes the effect).
    """
    def one(f):
        t0 = time.perf_counter()
        f()
        dt = time.perf_counter() - t0
        if settle:
            time.sleep(settle)
        return dt

    for _ in range(warmup):
        for f in fns:
            one(f)
    times = [[] for _ in fns]
    for _ in range(repeats):
        for f, ts in zip(fns, times, strict=True):
            ts.append(one(f))
    return times


def paired_ratio(ta: list[float], tb: list[float]) -> tuple[float, tuple[float, float]]:
    """Median and interquartile range of the paired ratios ta[i] / tb[i]."""
    r = [a / b for a, b in zip(ta, tb, strict=True)]
    q = statistics.quantiles(r, n=4) if len(r) >= 2 else [r[0]] * 3
    return statistics.median(r), (q[0], q[2])


def peak_memory(model, src, tgt) -> int:
    """tracemalloc peak (bytes) of one ``loss_and_grads`` call; NumPy reports its buffers to it."""
    tracemalloc.start()
    try:
        model.loss_and_grads(src, tgt)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def check_naive(naive_mod, shape: dict) -> float:
    """Naive and vectorized losses (and gradients) agree in float64 on the benchmark's batch."""
    model = make_numpy_model(shape, "lstm", "general", "float64")
    src, tgt = make_batch(shape)
    loss, grads = model.loss_and_grads(src, tgt)
    n_loss, n_grads = naive_mod.NaiveSeq2Seq(model.params, np.float64).loss_and_grads(src, tgt)
    assert abs(loss - n_loss) <= 1e-8 * abs(loss), f"naive loss {n_loss} != model loss {loss}"
    worst = 0.0
    for k, g in grads.items():
        worst = max(worst, float(np.abs(g - n_grads[k]).max() / max(np.abs(g).max(), 1e-300)))
    assert worst <= 1e-6, f"naive gradients differ from the model's: {worst:.1e}"
    return abs(loss - n_loss) / abs(loss)


def run_one(args, shape_name, cell, score, dtype, threads, baseline_mods):
    shape = SHAPES[shape_name]
    equal, layers = args.lengths == "equal", args.num_layers
    model = make_numpy_model(shape, cell, score, dtype, num_layers=layers)
    src, tgt = make_batch(shape, equal=equal)
    row = dict(shape=shape_name, cell=cell, score=score, dtype=dtype, threads=threads,
               layers=layers)

    with threadpool_limits(limits=threads, user_api="blas"):
        fns = {"numpy": lambda: model.loss_and_grads(src, tgt)}
        if args.baseline == "torch":
            torch = baseline_mods["torch"]
            torch.set_num_threads(threads)
            twin = baseline_mods["to_torch"](model)
            src_t, tgt_t = torch.as_tensor(src), torch.as_tensor(tgt)

            def torch_step(pack=None):
                twin.zero_grad()
                twin(src_t, tgt_t, pack=pack).backward()

            # equal lengths: the twin skips packing (the fastest form); also time it packed
            fns["rival"] = torch_step
            if equal:
                fns["packed"] = lambda: torch_step(pack=True)
        else:
            naive = baseline_mods["naive"].NaiveSeq2Seq(model.params, np.dtype(dtype).type)
            fns["rival"] = lambda: naive.loss_and_grads(src, tgt)
        if not args.skip_floor:
            log = recorded_products(dict(shape=shape_name, cell=cell, score=score, dtype=dtype,
                                         num_layers=layers, equal=equal))
            row["n_products"] = len(log)
            row["gflop"] = sum(_flops(e) for e in log if e["op"] == "matmul") / 1e9
            row["products"] = summarize_products(log)
            fns["floor"] = Floor(log)
        settle = args.settle if threads > 1 else 0.0
        times = dict(zip(fns, interleaved(list(fns.values()), args.repeats, args.warmup, settle),
                         strict=True))
        row["numpy_ms"] = 1e3 * statistics.median(times["numpy"])
        row["rival_ms"] = 1e3 * statistics.median(times["rival"])
        row["ratio"], row["ratio_iqr"] = paired_ratio(times["numpy"], times["rival"])
        if "packed" in times:
            row["packed_ms"] = 1e3 * statistics.median(times["packed"])
        if "floor" in times:
            row["floor_ms"] = 1e3 * statistics.median(times["floor"])
            row["step_over_floor"] = paired_ratio(times["numpy"], times["floor"])[0]
    row["load"] = os.getloadavg()[0]
    if not args.skip_memory:
        row["peak_mib"] = peak_memory(model, src, tgt) / 2**20
    return row


# ---------------------------------------------------------------------------------------------
# report

def header(args) -> str:
    import numpy_seq2seq

    lines = [f"# bench_step: {datetime.datetime.now().isoformat(timespec='seconds')}", ""]
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines.append(f"- machine: {platform.machine()}, {cpu}, os.cpu_count()={os.cpu_count()}, "
                 f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    lines.append(f"- python {platform.python_version()}, numpy {np.__version__}, "
                 f"numpy_seq2seq from {Path(numpy_seq2seq.__file__).parent}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        lines.append(f"- {var}={os.environ.get(var, '(unset)')}")
    for info in threadpool_info():
        keys = ("user_api", "internal_api", "prefix", "version", "architecture",
                "threading_layer", "num_threads")
        lines.append("- threadpool: " + ", ".join(f"{k}={info.get(k)}" for k in keys if k in info))
    if args.baseline == "torch":
        import torch

        show = torch.__config__.show()
        facts = [ln.strip(" -") for ln in show.splitlines() if "CPU capability" in ln]
        facts += [f for f in show.replace(",", "\n").split() if f.startswith("BLAS_INFO=")]
        lines.append(f"- torch {torch.__version__}, eager CPU, {', '.join(facts)}, "
                     f"torch.get_num_threads()={torch.get_num_threads()} (set per row)")
    lines.append("- batch: every source of length S (no padding; the torch encoder runs unpacked)"
                 if args.lengths == "equal" else
                 "- batch: source lengths drawn from [S/2, S] (the torch encoder runs packed)")
    lines.append(f"- baseline: {args.baseline}; repeats {args.repeats} after {args.warmup} "
                 f"warm-up step(s) of each, interleaved; {args.settle} s pause after each step "
                 f"when threads > 1")
    lines.append("")
    return "\n".join(lines)


def table(rows, baseline: str) -> str:
    rv = "torch" if baseline == "torch" else "naive"
    stacked, packed = any(r["layers"] > 1 for r in rows), any("packed_ms" in r for r in rows)
    cols = ["shape", "cell", "score"] + ["layers"] * stacked + ["dtype", "thr", "numpy ms",
                                                                f"{rv} ms"]
    cols += ["torch packed ms"] * packed + [f"numpy/{rv} (IQR)"]
    if baseline == "naive":
        cols.append("speed-up")
    cols += ["floor ms", "GFLOP", "step/floor", "peak MiB", "load"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lo, hi = r["ratio_iqr"]
        cells = [r["shape"], r["cell"], r["score"]] + [str(r["layers"])] * stacked
        cells += [r["dtype"], str(r["threads"]), f"{r['numpy_ms']:.1f}", f"{r['rival_ms']:.1f}"]
        cells += [f"{r.get('packed_ms', float('nan')):.1f}"] * packed
        cells += [f"{r['ratio']:.2f} ({lo:.2f}-{hi:.2f})"]
        if baseline == "naive":
            cells.append(f"{1 / r['ratio']:.1f}x")
        cells += [f"{r['floor_ms']:.1f}" if "floor_ms" in r else "-",
                  f"{r['gflop']:.2f}" if "gflop" in r else "-",
                  f"{r['step_over_floor']:.2f}" if "step_over_floor" in r else "-",
                  f"{r['peak_mib']:.0f}" if "peak_mib" in r else "-",
                  f"{r['load']:.1f}"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def products_table(row) -> str:
    out = [f"### Matrix products of one numpy step: {row['shape']} {row['cell']} {row['score']} "
           f"{row['dtype']} ({row['n_products']} calls, {row['gflop']:.2f} GFLOP)", "",
           "| op | operand shapes | calls | GFLOP | call sites |", "|---|---|---|---|---|"]
    for g in row["products"]:
        out.append(f"| {g['op']} | {g['shapes']} | {g['count']} | {g['flop'] / 1e9:.3f} | "
                   f"{', '.join(sorted(g['where']))} |")
    return "\n".join(out)


def profile(shape_name, cell, score, dtype, threads, top: int = 25) -> str:
    import cProfile
    import io
    import pstats

    shape = SHAPES[shape_name]
    model = make_numpy_model(shape, cell, score, dtype)
    src, tgt = make_batch(shape)
    with threadpool_limits(limits=threads, user_api="blas"):
        model.loss_and_grads(src, tgt)
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(3):
            model.loss_and_grads(src, tgt)
        pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(top)
    return (f"### cProfile, 3 steps of {shape_name} {cell} {score} {dtype}, {threads} thread(s), "
            f"sorted by own time\n\n```\n{s.getvalue().strip()}\n```")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--baseline", choices=["torch", "naive"], default="torch",
                    help="rival: PyTorch eager CPU, or the per-step loop NumPy of naive_numpy.py "
                         "(LSTM + general only)")
    ap.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=["dates"])
    ap.add_argument("--cells", nargs="+", choices=ALL_CELLS, default=ALL_CELLS)
    ap.add_argument("--scores", nargs="+", choices=ALL_SCORES, default=ALL_SCORES)
    ap.add_argument("--dtypes", nargs="+", choices=["float32", "float64"], default=["float32"])
    ap.add_argument("--threads", nargs="+", type=int, default=None,
                    help="BLAS / torch thread counts to compare, e.g. --threads 1 2 "
                         "(default: numpy's current BLAS thread count)")
    ap.add_argument("--repeats", type=int, default=7, help="timed steps of each side")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps of each side first")
    ap.add_argument("--settle", type=float, default=0.15,
                    help="seconds of untimed pause after each step when threads > 1, so the "
                         "idle BLAS / OpenMP threads of one side stop spinning before the other "
                         "side runs")
    ap.add_argument("--lengths", choices=["ragged", "equal"], default="ragged",
                    help="source lengths of the batch: ragged (drawn from [S/2, S]) or all equal "
                         "to S; with equal lengths the torch twin runs its encoder unpacked, the "
                         "fastest PyTorch form, and the packed form is timed beside it")
    ap.add_argument("--num-layers", type=int, default=1,
                    help="stacked recurrent layers in encoder and decoder (the torch twin gets "
                         "the same num_layers)")
    ap.add_argument("--all", action="store_true",
                    help="every shape, cell, score and dtype, threads 1 and 2")
    ap.add_argument("--skip-floor", action="store_true", help="do not measure the matmul floor")
    ap.add_argument("--skip-memory", action="store_true", help="do not measure peak memory")
    ap.add_argument("--list-products", action="store_true",
                    help="print the recorded matrix products of each configuration")
    ap.add_argument("--profile", action="store_true",
                    help="also cProfile the numpy step of the first configuration")
    ap.add_argument("--out", type=Path, help="also write the markdown report here")
    ap.add_argument("--_record", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args._record:
        print(json.dumps(record_matmuls(json.loads(args._record))))
        return

    if args.all:
        args.shapes, args.cells, args.scores = sorted(SHAPES), ALL_CELLS, ALL_SCORES
        args.dtypes, args.threads = ["float32", "float64"], [1, 2]
    if args.threads is None:
        blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
        args.threads = [blas[0]["num_threads"] if blas else 1]

    mods = {}
    if args.baseline == "torch":
        import torch

        from numpy_seq2seq.torch_export import to_torch

        mods["torch"], mods["to_torch"] = torch, to_torch
    else:
        mods["naive"] = _load("naive_numpy")
        if args.cells != ["lstm"] or args.scores != ["general"]:
            print("note: the naive baseline implements LSTM + general attention only; "
                  "running just that", file=sys.stderr)
        args.cells, args.scores = ["lstm"], ["general"]

    report = [header(args)]
    if args.baseline == "naive":
        err = check_naive(mods["naive"], SHAPES[args.shapes[0]])
        report.append(f"Naive baseline checked against the model in float64 on the "
                      f"{args.shapes[0]} batch: loss relative difference {err:.1e}.\n")
    print(report[0], flush=True)
    if len(report) > 1:
        print(report[1], flush=True)

    rows = []
    for shape_name in args.shapes:
        for dtype in args.dtypes:
            for cell in args.cells:
                for score in args.scores:
                    for threads in args.threads:
                        row = run_one(args, shape_name, cell, score, dtype, threads, mods)
                        rows.append(row)
                        print(f"  {shape_name} {cell} {score} {dtype} thr={threads}: "
                              f"numpy {row['numpy_ms']:.1f} ms, rival {row['rival_ms']:.1f} ms, "
                              f"ratio {row['ratio']:.2f}", file=sys.stderr, flush=True)
    body = table(rows, args.baseline)
    print(body)
    report.append(body)
    if args.list_products:
        for r in rows:
            if "products" in r:
                text = products_table(r)
                print("\n" + text)
                report.append(text)
    if args.profile:
        r = rows[0]
        text = profile(r["shape"], r["cell"], r["score"], r["dtype"], r["threads"])
        print("\n" + text)
        report.append(text)
    if args.out:
        args.out.write_text("\n\n".join(report) + "\n")


if __name__ == "__main__":
    main()
